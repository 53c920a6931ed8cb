#!/usr/bin/env python3
"""Writes the trimmed .proto files in Protos/ from the descriptors that Envoy's own published
Python stubs carry (PyPI `xds-protos`, plus `grpcio-health-checking` for grpc.health.v1).

Only the messages and fields Remit uses are kept, with their original package, message and field
names and numbers, so the wire format and the proto3 JSON names are Envoy's. validate/udpa
annotations are dropped. Run by scripts/generate-protos.sh; needs a Python with both packages.
"""
import importlib
import os
import sys

from google.protobuf import descriptor_pb2

# file -> {message path: [field names] or None for all}. Nested messages use "Outer.Inner".
KEEP = {
    ("envoy.service.auth.v3.external_auth_pb2", "envoy/service/auth/v3/external_auth.proto"): {
        "messages": {
            "CheckRequest": ["attributes"],
            "DeniedHttpResponse": ["status", "headers", "body"],
            "OkHttpResponse": ["headers", "headers_to_remove", "response_headers_to_add"],
            "CheckResponse": ["status", "denied_response", "ok_response"],
        },
        "services": {"Authorization": None},
    },
    ("envoy.service.auth.v3.attribute_context_pb2", "envoy/service/auth/v3/attribute_context.proto"): {
        "messages": {
            "AttributeContext": ["source", "destination", "request", "context_extensions", "tls_session"],
            "AttributeContext.Peer": ["address", "service", "labels", "principal", "certificate"],
            "AttributeContext.Request": ["time", "http"],
            "AttributeContext.HttpRequest": [
                "id", "method", "headers", "header_map", "path", "host", "scheme", "query", "fragment",
                "size", "protocol", "body", "raw_body",
            ],
            "AttributeContext.TLSSession": ["sni"],
        },
    },
    ("envoy.config.core.v3.address_pb2", "envoy/config/core/v3/address.proto"): {
        "messages": {
            "SocketAddress": None,
            "Address": ["socket_address"],
        },
    },
    ("envoy.config.core.v3.base_pb2", "envoy/config/core/v3/base.proto"): {
        "messages": {
            "HeaderValue": ["key", "value", "raw_value"],
            "HeaderValueOption": ["header", "append", "append_action", "keep_empty_value"],
            "HeaderMap": ["headers"],
        },
    },
    ("envoy.type.v3.http_status_pb2", "envoy/type/v3/http_status.proto"): {
        "messages": {"HttpStatus": ["code"]},
        "enums": ["StatusCode"],
    },
    ("google.rpc.status_pb2", "google/rpc/status.proto"): {
        "messages": {"Status": ["code", "message", "details"]},
    },
    ("grpc_health.v1.health_pb2", "grpc_health/v1/health.proto"): {
        "messages": {"HealthCheckRequest": None, "HealthCheckResponse": None},
        "services": {"Health": ["Check", "Watch"]},
    },
}

SCALARS = {
    1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64", 7: "fixed32", 8: "bool",
    9: "string", 12: "bytes", 13: "uint32", 15: "sfixed32", 16: "sfixed64", 17: "sint32", 18: "sint64",
}


def type_name(field):
    if field.type in SCALARS:
        return SCALARS[field.type]
    return field.type_name  # fully qualified with a leading dot: valid in .proto source


def emit_enum(enum, indent):
    lines = [f"{indent}enum {enum.name} {{"]
    for value in enum.value:
        lines.append(f"{indent}  {value.name} = {value.number};")
    lines.append(f"{indent}}}")
    return lines


def emit_message(message, keep, path, indent, used_types):
    wanted = keep.get(path, "absent")
    if wanted == "absent":
        return []
    lines = [f"{indent}message {message.name} {{"]
    maps = {nested.name: nested for nested in message.nested_type if nested.options.map_entry}
    for nested in message.enum_type:
        lines += emit_enum(nested, indent + "  ")
    for nested in message.nested_type:
        if nested.options.map_entry:
            continue
        lines += emit_message(nested, keep, f"{path}.{nested.name}", indent + "  ", used_types)
    fields = [f for f in message.field if wanted is None or f.name in wanted]
    if wanted is not None:
        missing = set(wanted) - {f.name for f in fields}
        if missing:
            sys.exit(f"{path}: no fields {sorted(missing)}")
    oneofs = {}
    for field in fields:
        if field.HasField("oneof_index") and not field.proto3_optional:
            oneofs.setdefault(field.oneof_index, []).append(field)

    def field_line(field, pad):
        entry = maps.get(field.type_name.rsplit(".", 1)[-1]) if field.type == 11 else None
        if entry is not None and field.label == 3:
            key, value = entry.field[0], entry.field[1]
            used_types.add(type_name(value))
            return f"{pad}map<{type_name(key)}, {type_name(value)}> {field.name} = {field.number};"
        used_types.add(type_name(field))
        label = "repeated " if field.label == 3 else ("optional " if field.proto3_optional else "")
        return f"{pad}{label}{type_name(field)} {field.name} = {field.number};"

    emitted_oneofs = set()
    for field in fields:
        if field.HasField("oneof_index") and not field.proto3_optional:
            index = field.oneof_index
            if index in emitted_oneofs:
                continue
            emitted_oneofs.add(index)
            lines.append(f"{indent}  oneof {message.oneof_decl[index].name} {{")
            for member in oneofs[index]:
                lines.append(field_line(member, indent + "    "))
            lines.append(f"{indent}  }}")
        else:
            lines.append(field_line(field, indent + "  "))
    lines.append(f"{indent}}}")
    return lines


def main(out_dir):
    for (module_name, file_name), spec in KEEP.items():
        module = importlib.import_module(module_name)
        proto = descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb)
        assert proto.name == file_name, (proto.name, file_name)
        used_types = set()
        body = []
        for enum in proto.enum_type:
            if enum.name in spec.get("enums", []):
                body += emit_enum(enum, "")
        for message in proto.message_type:
            body += emit_message(message, spec["messages"], message.name, "", used_types)
        for service in proto.service:
            if service.name in spec.get("services", {}):
                methods = spec["services"][service.name]
                body.append(f"service {service.name} {{")
                for method in service.method:
                    if methods is not None and method.name not in methods:
                        continue
                    client = "stream " if method.client_streaming else ""
                    server = "stream " if method.server_streaming else ""
                    body.append(
                        f"  rpc {method.name}({client}{method.input_type}) returns ({server}{method.output_type});"
                    )
                body.append("}")
        imports = [d for d in proto.dependency if not d.startswith(("validate/", "udpa/", "xds/annotations", "envoy/annotations"))]
        header = [
            "// Trimmed from Envoy's published descriptors by scripts/trim-envoy-protos.py. Do not edit:",
            "// names and field numbers are Envoy's, only unused messages and fields are left out.",
            'syntax = "proto3";',
            "",
            f"package {proto.package};",
            "",
        ]
        # Keep an import only if a kept field refers to a type from it.
        needed = []
        for dependency in imports:
            dep_module = importlib.import_module(dependency[: -len(".proto")].replace("/", ".") + "_pb2")
            dep = descriptor_pb2.FileDescriptorProto.FromString(dep_module.DESCRIPTOR.serialized_pb)
            prefix = "." + dep.package + "."
            names = {prefix + m.name for m in dep.message_type} | {prefix + e.name for e in dep.enum_type}
            if names & used_types:
                needed.append(dependency)
        header += [f'import "{d}";' for d in needed] + ([""] if needed else [])
        path = os.path.join(out_dir, file_name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write("\n".join(header + body) + "\n")
        print("wrote", path)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Protos")
