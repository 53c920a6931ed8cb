#!/usr/bin/env python3
"""Python half of scripts/check-protos-wire.sh (see there). Needs PyPI xds-protos and
grpcio-health-checking, whose *_pb2 modules are Envoy's and gRPC's own compiled descriptors.

  wire_check.py descriptors PROTOS_DIR   every message/field/enum/rpc in the trimmed Protos/ matches
                                         upstream: names, numbers, types, labels, oneofs, JSON names
  wire_check.py make-request DIR         writes DIR/request.bin (a CheckRequest built with Envoy's
                                         stubs) and DIR/request.expected.json (its fields, flattened)
  wire_check.py verify DIR               checks what the Swift side wrote into DIR
"""
import base64
import importlib
import json
import os
import subprocess
import sys
import tempfile

from google.protobuf import descriptor_pb2, json_format
from google.protobuf.unknown_fields import UnknownFieldSet

from envoy.config.core.v3 import address_pb2, base_pb2
from envoy.service.auth.v3 import attribute_context_pb2, external_auth_pb2
from envoy.type.v3 import http_status_pb2
from google.rpc import status_pb2
from grpc_health.v1 import health_pb2

UPSTREAM_MODULES = {
    "envoy/config/core/v3/address.proto": address_pb2,
    "envoy/config/core/v3/base.proto": base_pb2,
    "envoy/service/auth/v3/attribute_context.proto": attribute_context_pb2,
    "envoy/service/auth/v3/external_auth.proto": external_auth_pb2,
    "envoy/type/v3/http_status.proto": http_status_pb2,
    "google/rpc/status.proto": status_pb2,
    "grpc_health/v1/health.proto": health_pb2,
}


def fail(message):
    sys.exit(f"wire-check: FAIL: {message}")


# ---------------------------------------------------------------- descriptors


def json_name(name):
    """protoc's default JSON name: drop '_' and upper-case the letter after it."""
    out, upper = [], False
    for char in name:
        if char == "_":
            upper = True
        else:
            out.append(char.upper() if upper else char)
            upper = False
    return "".join(out)


def compare_enum(path, ours, theirs):
    upstream = {v.name: v.number for v in theirs.value}
    for value in ours.value:
        if upstream.get(value.name) != value.number:
            fail(f"enum {path}.{value.name} = {value.number}, upstream {upstream.get(value.name)}")
    if len(ours.value) != len(theirs.value):
        missing = sorted(set(upstream) - {v.name for v in ours.value})
        print(f"  note: enum {path} leaves out {missing}")


def compare_message(path, ours, theirs, counts):
    upstream_fields = {f.name: f for f in theirs.field}
    for field in ours.field:
        up = upstream_fields.get(field.name)
        if up is None:
            fail(f"{path}.{field.name}: no such field upstream")
        for attribute in ("number", "type", "type_name", "label", "proto3_optional"):
            if getattr(field, attribute) != getattr(up, attribute):
                fail(f"{path}.{field.name}: {attribute} {getattr(field, attribute)!r}, upstream {getattr(up, attribute)!r}")
        # The embedded upstream descriptors omit json_name unless it was set explicitly.
        upstream_json = up.json_name or json_name(up.name)
        if field.json_name != upstream_json:
            fail(f"{path}.{field.name}: json_name {field.json_name!r}, upstream {upstream_json!r}")
        ours_oneof = ours.oneof_decl[field.oneof_index].name if field.HasField("oneof_index") else None
        their_oneof = theirs.oneof_decl[up.oneof_index].name if up.HasField("oneof_index") else None
        if ours_oneof != their_oneof:
            fail(f"{path}.{field.name}: oneof {ours_oneof}, upstream {their_oneof}")
        counts["fields"] += 1
    upstream_nested = {m.name: m for m in theirs.nested_type}
    for nested in ours.nested_type:
        if nested.name not in upstream_nested:
            fail(f"{path}.{nested.name}: no such message upstream")
        compare_message(f"{path}.{nested.name}", nested, upstream_nested[nested.name], counts)
    upstream_enums = {e.name: e for e in theirs.enum_type}
    for enum in ours.enum_type:
        if enum.name not in upstream_enums:
            fail(f"{path}.{enum.name}: no such enum upstream")
        compare_enum(f"{path}.{enum.name}", enum, upstream_enums[enum.name])
    counts["messages"] += 1


def descriptors(protos_dir):
    files = sorted(os.path.relpath(os.path.join(d, f), protos_dir)
                   for d, _, names in os.walk(protos_dir) for f in names if f.endswith(".proto"))
    if set(files) != set(UPSTREAM_MODULES):
        fail(f"Protos/ holds {files}, this check knows {sorted(UPSTREAM_MODULES)}")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "set.pb")
        compiled = subprocess.run([os.environ.get("PROTOC", "protoc"), f"--proto_path={protos_dir}",
                                   f"--proto_path={os.environ.get('WKT_INCLUDE', '/usr/include')}",
                                   f"--descriptor_set_out={out}", *files])
        if compiled.returncode != 0:
            fail("protoc cannot compile Protos/")
        with open(out, "rb") as handle:
            ours_set = descriptor_pb2.FileDescriptorSet.FromString(handle.read())
    counts = {"messages": 0, "fields": 0, "rpcs": 0}
    for ours in ours_set.file:
        theirs = descriptor_pb2.FileDescriptorProto.FromString(UPSTREAM_MODULES[ours.name].DESCRIPTOR.serialized_pb)
        if ours.package != theirs.package:
            fail(f"{ours.name}: package {ours.package}, upstream {theirs.package}")
        upstream_messages = {m.name: m for m in theirs.message_type}
        for message in ours.message_type:
            if message.name not in upstream_messages:
                fail(f"{ours.package}.{message.name}: no such message upstream")
            compare_message(f"{ours.package}.{message.name}", message, upstream_messages[message.name], counts)
        upstream_enums = {e.name: e for e in theirs.enum_type}
        for enum in ours.enum_type:
            if enum.name not in upstream_enums:
                fail(f"{ours.package}.{enum.name}: no such enum upstream")
            compare_enum(f"{ours.package}.{enum.name}", enum, upstream_enums[enum.name])
        upstream_services = {s.name: s for s in theirs.service}
        for service in ours.service:
            their_methods = {m.name: m for m in upstream_services[service.name].method}
            for method in service.method:
                up = their_methods[method.name]
                for attribute in ("input_type", "output_type", "client_streaming", "server_streaming"):
                    if getattr(method, attribute) != getattr(up, attribute):
                        fail(f"rpc {ours.package}.{service.name}/{method.name}: {attribute} differs from upstream")
                counts["rpcs"] += 1
    print(f"wire-check: descriptors OK ({len(ours_set.file)} files, {counts['messages']} messages, "
          f"{counts['fields']} fields, {counts['rpcs']} rpcs match upstream)")


# ---------------------------------------------------------------- CheckRequest: Python -> Swift


def build_request():
    request = external_auth_pb2.CheckRequest()
    attributes = request.attributes
    source = attributes.source
    source.principal = "spiffe://remit.test/ns/agents/sa/research-agent"
    source.address.socket_address.address = "127.0.0.1"
    source.address.socket_address.port_value = 50412
    source.certificate = "-----BEGIN%20CERTIFICATE-----%0AMIIB...%0A"
    source.labels["app"] = "agent"
    source.labels["version"] = "v1"
    source.service = "research-agent"
    destination = attributes.destination
    destination.principal = "spiffe://remit.test/ns/tools/sa/sql-tool"
    destination.address.socket_address.address = "::1"
    destination.address.socket_address.port_value = 15006
    http = attributes.request.http
    http.id = "8f6a3c1e-0d2b-4c55-9a77-1f2e3d4c5b6a"
    http.method = "POST"
    http.path = "/mcp?session=abc"
    http.host = "sql-tool.tools.svc"
    http.scheme = "https"
    http.query = "session=abc"
    http.protocol = "HTTP/1.1"
    http.size = 77
    http.headers[":method"] = "POST"
    http.headers["content-type"] = "application/json"
    http.headers["x-forwarded-client-cert"] = "By=spiffe://remit.test/ns/tools/sa/sql-tool;URI=spiffe://x"
    http.header_map.headers.add(key="x-multi", value="a")
    http.header_map.headers.add(key="x-raw", raw_value=b"\xff\x00raw")
    http.raw_body = b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"query"}}\x00\xfe'
    attributes.request.time.seconds = 1_790_000_000
    attributes.request.time.nanos = 123_456_789
    attributes.context_extensions["route"] = "mcp"
    attributes.tls_session.sni = "outbound_.8080_._.sql-tool.tools.svc.cluster.local"
    return request


def flatten_request(request):
    """The same flat view WireCheck.swift prints for the decoded message."""
    a = request.attributes
    http = a.request.http

    def peer(p):
        sa = p.address.socket_address
        return {
            "principal": p.principal, "service": p.service, "certificate": p.certificate,
            "labels": dict(sorted(p.labels.items())),
            "address": f"{sa.address}:{sa.port_value}" if p.address.HasField("socket_address") else "",
        }

    return {
        "source": peer(a.source),
        "destination": peer(a.destination),
        "time": f"{a.request.time.seconds}.{a.request.time.nanos}",
        "http": {
            "id": http.id, "method": http.method, "path": http.path, "host": http.host,
            "scheme": http.scheme, "query": http.query, "fragment": http.fragment,
            "protocol": http.protocol, "size": str(http.size), "body": http.body,
            "headers": dict(sorted(http.headers.items())),
            "header_map": [[h.key, h.value, base64.b64encode(h.raw_value).decode()] for h in http.header_map.headers],
            "raw_body": base64.b64encode(http.raw_body).decode(),
        },
        "context_extensions": dict(sorted(a.context_extensions.items())),
        "sni": a.tls_session.sni,
    }


def make_request(work):
    request = build_request()
    with open(os.path.join(work, "request.bin"), "wb") as handle:
        handle.write(request.SerializeToString())
    with open(os.path.join(work, "request.expected.json"), "w") as handle:
        json.dump(flatten_request(request), handle, sort_keys=True, indent=1)


# ---------------------------------------------------------------- verify both directions


def no_unknown_fields(message, path):
    if len(UnknownFieldSet(message)):
        fail(f"{path}: fields unknown to Envoy's descriptors: {[f.field_number for f in UnknownFieldSet(message)]}")
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            values = value.values() if field.message_type.fields_by_name["value"].message_type else []
        elif field.is_repeated:
            values = value
        else:
            values = [value]
        for item in values:
            no_unknown_fields(item, f"{path}.{field.name}")


def parse_exact(cls, data, what):
    message = cls.FromString(data)
    no_unknown_fields(message, what)
    again = message.SerializeToString(deterministic=True)
    if again != data:
        fail(f"{what}: Envoy's stubs re-encode the Swift bytes differently:\n  swift  {data.hex()}\n  python {again.hex()}")
    return message


def read(work, name, mode="rb"):
    with open(os.path.join(work, name), mode) as handle:
        return handle.read()


def verify(work):
    # 1. Swift decoded Envoy's CheckRequest bytes into the same field values.
    expected = json.loads(read(work, "request.expected.json", "r"))
    seen = json.loads(read(work, "request.swift.json", "r"))
    if seen != expected:
        for key in sorted(set(expected) | set(seen)):
            if expected.get(key) != seen.get(key):
                print(f"  {key}: python {expected.get(key)!r}\n  {' ' * len(key)}  swift  {seen.get(key)!r}")
        fail("the Swift decode of CheckRequest differs from what Envoy's stubs encoded")
    print("wire-check: CheckRequest  Python -> Swift: every field decoded identically")
    original = build_request()
    # 2. Swift's re-encoding and its proto3 JSON parse back into the identical message.
    reencoded = external_auth_pb2.CheckRequest.FromString(read(work, "request.swift.bin"))
    no_unknown_fields(reencoded, "CheckRequest (re-encoded by Swift)")
    if reencoded != original:
        fail("CheckRequest re-encoded by Swift differs from the original")
    from_json = json_format.Parse(read(work, "request.swift.pb.json", "r"), external_auth_pb2.CheckRequest())
    if from_json != original:
        fail("CheckRequest as proto3 JSON from Swift differs from the original")
    ours_json = json.loads(read(work, "request.swift.pb.json", "r"))
    theirs_json = json.loads(json_format.MessageToJson(original))
    if ours_json != theirs_json:
        fail(f"proto3 JSON differs:\n  swift  {ours_json}\n  python {theirs_json}")
    print("wire-check: CheckRequest  Swift -> Python: re-encoded bytes and proto3 JSON equal the original")

    # 3. Swift-built CheckResponses decode with Envoy's stubs to exactly what Swift meant.
    denied = parse_exact(external_auth_pb2.CheckResponse, read(work, "denied.bin"), "CheckResponse(denied)")
    want = external_auth_pb2.CheckResponse()
    want.status.code = 7
    want.status.message = "forbidden: tool not allowed"
    d = want.denied_response
    d.status.code = http_status_pb2.Forbidden
    for key, value in [("content-type", "application/json"), ("x-remit-decision-id", "d-42"), ("x-remit-reason", "tool_not_allowed")]:
        option = d.headers.add()
        option.header.key, option.header.value = key, value
        option.append.value = False
    d.body = '{"jsonrpc":"2.0","id":7,"error":{"code":-32001,"message":"forbidden"}}'
    want.dynamic_metadata.fields["remit"].struct_value.fields["decision_id"].string_value = "d-42"
    if denied != want:
        fail(f"denied CheckResponse:\n{denied}\n-- expected --\n{want}")
    if not all(h.HasField("append") and h.append.value is False for h in denied.denied_response.headers):
        fail("append=false did not survive (BoolValue must be present and false)")
    if denied.WhichOneof("http_response") != "denied_response" or denied.denied_response.status.code != 403:
        fail("denied CheckResponse: wrong oneof or status")

    ok = parse_exact(external_auth_pb2.CheckResponse, read(work, "ok.bin"), "CheckResponse(ok)")
    want = external_auth_pb2.CheckResponse()
    want.status.SetInParent()  # present, code 0 (OK)
    o = want.ok_response
    option = o.headers.add()
    option.header.key, option.header.value = "x-remit-principal", "spiffe://remit.test/ns/agents/sa/research-agent"
    option.append.value = False
    option.append_action = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
    o.headers_to_remove.extend(["authorization", "x-remit-internal"])
    added = o.response_headers_to_add.add()
    added.header.key, added.header.value = "x-remit-decision-id", "d-43"
    o.query_parameters_to_set.add(key="tenant", value="acme")
    o.query_parameters_to_remove.append("debug")
    if ok != want:
        fail(f"ok CheckResponse:\n{ok}\n-- expected --\n{want}")
    if ok.WhichOneof("http_response") != "ok_response":
        fail("ok CheckResponse: wrong oneof")

    health = parse_exact(health_pb2.HealthCheckResponse, read(work, "health.bin"), "HealthCheckResponse")
    if health.status != health_pb2.HealthCheckResponse.SERVING:
        fail(f"HealthCheckResponse status {health.status}")
    print("wire-check: CheckResponse Swift -> Python: denied (403, append=false headers, body, dynamic_metadata), "
          "ok (headers, headers_to_remove, query parameters) and HealthCheckResponse decode exactly, "
          "no unknown fields, byte-identical re-encoding")


if __name__ == "__main__":
    command, argument = sys.argv[1], sys.argv[2]
    {"descriptors": descriptors, "make-request": make_request, "verify": verify}[command](argument)
