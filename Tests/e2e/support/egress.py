"""The egress topology (issue 3, "Egress end to end"): an Envoy standing in for Istio's egress
gateway, the agents' client sidecar routing external hosts to it, and stand-in external servers.

    agent --HTTP--> client sidecar --mTLS (agent cert)--> egress gateway --HTTP--> external HTTP echo
                    listener http-<agent>                 `egress_http`: HTTP ext_authz, routes by Host
    agent --TLS---> client sidecar --mTLS (agent cert,--> egress gateway --TLS---> external TLS echo
      (SNI X)       listener tls-<agent>   SNI X)         `egress_tls`: NETWORK ext_authz + tcp_proxy
                    (tls_inspector, one chain per X)

* The gateway is `spiffe://cluster.local/ns/istio-system/sa/istio-egressgateway-service-account`;
  its listeners require client certificates from the mesh root, as an Istio gateway server with
  `tls.mode: ISTIO_MUTUAL` does.
* HTTP egress: the gateway's HTTP filter chain is the server sidecar's (`ext_authz_filter`), then the
  router picks a virtual host by Host (every test host is routed, so a deny can only come from the
  authorizer).
* TLS egress (Istio's "egress gateway for HTTPS traffic" with ISTIO_MUTUAL): the agent speaks TLS
  to the external host itself; its sidecar picks a filter chain by the agent's SNI and wraps the
  stream in mTLS to the gateway with SNI = the external host (the DestinationRule's `sni`). The
  gateway terminates the mTLS, so its network ext_authz sees the agent's principal and that SNI,
  and tcp_proxy carries the agent's inner TLS to the external server untouched.
  `egress_tls` is the network ext_authz filter exactly as istiod renders a CUSTOM
  `envoyExtAuthzGrpc` provider for TCP; `egress_tls_sni` adds `include_tls_session: true`.
* `ExternalTLSServer` records every TCP connection it accepts (SNI, whether the handshake completed,
  bytes received), so tests can tell "never reached" from "reached, then cut".
"""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .envoy import (
    REMIT_AUTHORITY,
    _admin,
    authz_cluster,
    _file_access_log,
    _listener_address,
    _tls_certs,
    ext_authz_filter,
)
from .pki import ServerCert, WorkloadCert

GATEWAY = ("istio-system", "istio-egressgateway-service-account")
GATEWAY_WORKLOAD = f"{GATEWAY[0]}/{GATEWAY[1]}"
GATEWAY_HOST = "istio-egressgateway.istio-system.svc.cluster.local"

# External hosts (the .example TLD never resolves; everything is on 127.0.0.1).
STRIPE = "api.stripe.example"            # exact entry on the mission's egress list
PAYMENTS = "eu.payments.example"         # matches the "*.payments.example" entry
PAYMENTS_DEEP = "a.eu.payments.example"  # so does a deeper name (suffix match)
PAYMENTS_APEX = "payments.example"       # "*.payments.example" does not cover the apex
OFF_LIST = "exfil.attacker.example"      # on no list
NEAR_MISS = "stripe.example"             # on no list: a parent of an exact entry
IPV4_OFF_LIST = "198.51.100.8"
UNROUTED = "unrouted.example"            # the gateway has no route for it
IPV4 = "198.51.100.7"                    # IP literals on the list
IPV6 = "2001:db8::7"
EGRESS_LIST = [STRIPE, "*.payments.example", IPV4, IPV6]
EXTERNAL_HOSTS = [STRIPE, PAYMENTS, PAYMENTS_DEEP, PAYMENTS_APEX, OFF_LIST, NEAR_MISS]
ROUTED_HOSTS = EXTERNAL_HOSTS + [IPV4, IPV6, IPV4_OFF_LIST]  # the gateway's virtual hosts
# What an Istio sidecar sends as SNI to the gateway when the DestinationRule sets no `sni`.
GATEWAY_DEFAULT_SNI = f"outbound_.443_._.{GATEWAY_HOST}"

TCP_EXT_AUTHZ_STAT_PREFIX = "tcp."  # what istiod sets; stats are ext_authz.tcp.<counter>
MAX_RECORDED_CONNECTIONS = 1000
MAX_LINE_BYTES = 4096


# --------------------------------------------------------------------------------------------
# stand-in external TLS server
# --------------------------------------------------------------------------------------------
@dataclass
class ExternalConnection:
    """One TCP connection the external server accepted."""

    sni: Optional[str] = None
    handshake_ok: bool = False
    bytes_received: int = 0
    error: Optional[str] = None
    done: bool = False  # the server has finished with it (closed)


class ExternalTLSServer:
    """A TLS line-echo server on 127.0.0.1 standing in for an external HTTPS service.

    Per connection: TLS handshake (certificate for `cert.dns_names`), read one line (at most
    MAX_LINE_BYTES), answer `external <sni> <line>`, close. Every accepted TCP connection is
    recorded, including ones that never sent a byte."""

    def __init__(self, cert: ServerCert, host: str = "127.0.0.1"):
        self.cert = cert
        self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ctx.load_cert_chain(str(cert.cert_path), str(cert.key_path))
        self._ctx.sni_callback = self._on_sni
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self._lock = threading.Lock()
        self._connections: list[ExternalConnection] = []
        self._by_socket: dict = {}
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1]

    def _on_sni(self, ssl_socket, server_name, ctx):
        with self._lock:
            rec = self._by_socket.get(id(ssl_socket))
            if rec is not None:
                rec.sni = server_name
        return None

    @property
    def connections(self) -> list:
        with self._lock:
            return list(self._connections)

    def clear(self) -> None:
        with self._lock:
            self._connections.clear()

    def start(self) -> "ExternalTLSServer":
        self._thread = threading.Thread(target=self._accept_loop, name="external-tls", daemon=True)
        self._thread.start()
        return self

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            rec = ExternalConnection()
            with self._lock:
                self._connections.append(rec)
                if len(self._connections) > MAX_RECORDED_CONNECTIONS:
                    del self._connections[0]
            threading.Thread(target=self._serve, args=(conn, rec), daemon=True).start()

    def _serve(self, conn: socket.socket, rec: ExternalConnection) -> None:
        conn.settimeout(5)
        tls = None
        try:
            # Count raw bytes before TLS: a ClientHello is "reaching" the server too.
            first = conn.recv(1, socket.MSG_PEEK)
            if not first:
                return
            rec.bytes_received = 1
            tls = self._ctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
            with self._lock:
                self._by_socket[id(tls)] = rec
            tls.do_handshake()
            rec.handshake_ok = True
            line = b""
            while not line.endswith(b"\n") and len(line) < MAX_LINE_BYTES:
                chunk = tls.recv(MAX_LINE_BYTES - len(line))
                if not chunk:
                    break
                line += chunk
            rec.bytes_received += len(line)
            tls.sendall(b"external " + (rec.sni or "-").encode() + b" " + line)
        except (OSError, ssl.SSLError) as exc:
            rec.error = repr(exc)
        finally:
            with self._lock:
                if tls is not None:
                    self._by_socket.pop(id(tls), None)
            try:
                (tls or conn).close()
            except OSError:
                pass
            rec.done = True

    def stop(self) -> None:
        self._stop.set()
        try:
            self._sock.close()
        except OSError:
            pass
        if self._thread:
            self._thread.join(timeout=5)


def tls_line(port: int, server_name: str, ca_path: Path, line: bytes = b"hello\n", timeout: float = 5.0) -> bytes:
    """The agent's side of TLS egress: TLS to `server_name` (verified against `ca_path`) through
    the client sidecar on 127.0.0.1:port, send one line, return what came back (b"" = closed)."""
    ctx = ssl.create_default_context(cafile=str(ca_path))
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_name) as tls:
            tls.sendall(line)
            out = b""
            while not out.endswith(b"\n"):
                chunk = tls.recv(MAX_LINE_BYTES)
                if not chunk:
                    break
                out += chunk
            return out


# --------------------------------------------------------------------------------------------
# Envoy configs
# --------------------------------------------------------------------------------------------
def _static_cluster(name: str, port: int, transport_socket: Optional[dict] = None) -> dict:
    cluster = {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}],
        },
    }
    if transport_socket is not None:
        cluster["transport_socket"] = transport_socket
    return cluster


def network_ext_authz_filter(timeout: str = "5s", include_tls_session: bool = False) -> dict:
    """The NETWORK ext_authz filter as istiod renders a CUSTOM `envoyExtAuthzGrpc` provider for TCP
    (stat_prefix "tcp.", V3, failOpen false, the same gRPC service as the HTTP filter). Istio never
    sets `include_tls_session`; `include_tls_session=True` is the EnvoyFilter patch that adds it."""
    config = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.ext_authz.v3.ExtAuthz",
        "stat_prefix": TCP_EXT_AUTHZ_STAT_PREFIX,
        "grpc_service": {
            "envoy_grpc": {"cluster_name": "outbound|9191||" + REMIT_AUTHORITY, "authority": REMIT_AUTHORITY},
            "timeout": timeout,
        },
        "transport_api_version": "V3",
        "failure_mode_allow": False,
    }
    if include_tls_session:
        config["include_tls_session"] = True
    return {"name": "envoy.filters.network.ext_authz", "typed_config": config}


def _tcp_proxy(stat_prefix: str, cluster: str, access_log: Path, connect_on_data: bool = False) -> dict:
    config = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
        "stat_prefix": stat_prefix,
        "cluster": cluster,
        "access_log": _file_access_log(access_log),
    }
    if connect_on_data:
        # Envoy's default (and Istio's) connects upstream as soon as the downstream connects, before
        # the network ext_authz check (made on the first bytes) has an answer.
        config["upstream_connect_mode"] = "ON_DOWNSTREAM_DATA"
        config["max_early_data_bytes"] = 65536  # required with a deferred connect: the ClientHello waits here
    return {"name": "envoy.filters.network.tcp_proxy", "typed_config": config}


@dataclass(frozen=True)
class TLSListenerVariant:
    include_tls_session: bool = False
    connect_on_data: bool = False
    inspector: bool = True


# The gateway's TLS listeners. `egress_tls` is what istiod renders; the others each change one thing.
TLS_LISTENERS = {
    "egress_tls": TLSListenerVariant(),
    "egress_tls_sni": TLSListenerVariant(include_tls_session=True),
    "egress_tls_deferred": TLSListenerVariant(connect_on_data=True),
    "egress_tls_noinspector": TLSListenerVariant(inspector=False),
}


_TLS_INSPECTOR = {
    "name": "envoy.filters.listener.tls_inspector",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"},
}


def egress_gateway_config(
    gateway_cert: WorkloadCert,
    authz_port: int,
    http_external_port: int,
    tls_external_port: int,
    routed_hosts: list,
    logdir: Path,
) -> dict:
    """The egress gateway stand-in. Listeners: `egress_http` (HTTP ext_authz, routes by Host), the
    mTLS `TLS_LISTENERS` (network ext_authz + tcp_proxy to the external TLS server; `egress_tls` as
    istiod renders it) and `egress_passthrough` (no mTLS: a PASSTHROUGH Gateway server)."""
    downstream_mtls = {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
            "require_client_certificate": True,
            "common_tls_context": {
                "tls_params": {"tls_minimum_protocol_version": "TLSv1_2"},
                "alpn_protocols": ["istio-peer-exchange", "istio", "h2", "http/1.1"],
                "tls_certificates": _tls_certs(gateway_cert),
                "validation_context": {"trusted_ca": {"filename": str(gateway_cert.ca_path)}},
            },
        },
    }
    virtual_hosts = []
    for host in routed_hosts:
        authority = f"[{host}]" if ":" in host else host  # an IPv6 literal is bracketed in Host
        virtual_hosts.append(
            {
                "name": f"{host}:80",
                "domains": [authority, f"{authority}:*"],
                "routes": [{"match": {"prefix": "/"}, "route": {"cluster": f"outbound|80||{host}", "timeout": "10s"}}],
            }
        )
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "egress_http",
        "codec_type": "AUTO",
        "path_with_escaped_slashes_action": "KEEP_UNCHANGED",
        "normalize_path": True,
        "forward_client_cert_details": "SANITIZE_SET",
        "set_current_client_cert_details": {"uri": True},
        "access_log": _file_access_log(logdir / "access-egress_http.log"),
        "route_config": {"name": "http.80", "virtual_hosts": virtual_hosts},
        "http_filters": [
            ext_authz_filter(),
            {"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}},
        ],
    }
    listeners = [
        {
            "name": "egress_http",
            "address": _listener_address(),
            "filter_chains": [
                {
                    "transport_socket": downstream_mtls,
                    "filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}],
                }
            ],
        }
    ]
    for name, variant in TLS_LISTENERS.items():
        listeners.append(
            {
                "name": name,
                "address": _listener_address(),
                # Istio's gateway listeners carry the TLS inspector (it fills the requested server name).
                "listener_filters": [_TLS_INSPECTOR] if variant.inspector else [],
                "filter_chains": [
                    {
                        "transport_socket": downstream_mtls,
                        "filters": [
                            network_ext_authz_filter(include_tls_session=variant.include_tls_session),
                            _tcp_proxy(
                                name,
                                "outbound|443||external-tls",
                                logdir / f"access-{name}.log",
                                connect_on_data=variant.connect_on_data,
                            ),
                        ],
                    }
                ],
            }
        )
    # A Gateway server in TLS PASSTHROUGH mode: the gateway routes the agent's own TLS by its SNI and
    # terminates nothing, so there is no mesh mTLS and no peer identity at the check.
    listeners.append(
        {
            "name": "egress_passthrough",
            "address": _listener_address(),
            "listener_filters": [_TLS_INSPECTOR],
            "filter_chains": [
                {
                    "filters": [
                        network_ext_authz_filter(),
                        _tcp_proxy("egress_passthrough", "outbound|443||external-tls", logdir / "access-egress_passthrough.log"),
                    ],
                }
            ],
        }
    )
    clusters = [authz_cluster(authz_port), _static_cluster("outbound|443||external-tls", tls_external_port)]
    clusters += [_static_cluster(f"outbound|80||{host}", http_external_port) for host in routed_hosts]
    return {
        "node": {"id": "router~127.0.0.1~istio-egressgateway.istio-system~istio-system.svc.cluster.local", "cluster": "istio-egressgateway.istio-system"},
        "admin": _admin(),
        "static_resources": {"listeners": listeners, "clusters": clusters},
    }


def _upstream_mtls(cert: WorkloadCert, sni: str, peer_spiffe_id: str) -> dict:
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            "sni": sni,
            "common_tls_context": {
                "tls_certificates": _tls_certs(cert),
                "validation_context": {
                    "trusted_ca": {"filename": str(cert.ca_path)},
                    "match_typed_subject_alt_names": [{"san_type": "URI", "matcher": {"exact": peer_spiffe_id}}],
                },
            },
        },
    }


def egress_client_config(
    agents: dict,
    gateway_http_port: int,
    gateway_tls_ports: dict,
    gateway_spiffe_id: str,
    tls_hosts: list,
    logdir: Path,
    fixed_sni_listeners: Optional[dict] = None,
) -> dict:
    """The agents' outbound sidecar toward the egress gateway. `agents`: name -> WorkloadCert.
    `gateway_tls_ports`: gateway TLS listener name -> its port.

    Per agent: `http-<agent>` (plain HTTP in, mTLS to the gateway's HTTP port, Host kept) and, per
    gateway TLS listener L, `L-<agent>` (the agent's TLS in; a filter chain per host in `tls_hosts`
    chosen by the agent's SNI, as Istio's sidecar does; mTLS to the gateway with SNI = that host).
    `fixed_sni_listeners`: extra listener prefix P -> (gateway port, outer SNI): `P-<agent>` sends
    every host with that one outer SNI (a DestinationRule without `sni`)."""
    routes = {name: (port, None) for name, port in gateway_tls_ports.items()}
    routes.update(fixed_sni_listeners or {})
    listeners, clusters = [], []
    router = {"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}
    for agent, cert in agents.items():
        http_cluster = f"outbound|80||{GATEWAY_HOST}|{agent}"
        listeners.append(
            {
                "name": f"http-{agent}",
                "address": _listener_address(),
                "filter_chains": [
                    {
                        "filters": [
                            {
                                "name": "envoy.filters.network.http_connection_manager",
                                "typed_config": {
                                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                                    "stat_prefix": f"outbound_http_{agent}",
                                    "codec_type": "AUTO",
                                    "access_log": _file_access_log(logdir / f"access-http-{agent}.log"),
                                    "route_config": {
                                        "name": "80",
                                        "virtual_hosts": [
                                            {
                                                "name": "egress",
                                                "domains": ["*"],
                                                "routes": [{"match": {"prefix": "/"}, "route": {"cluster": http_cluster, "timeout": "15s"}}],
                                            }
                                        ],
                                    },
                                    "http_filters": [router],
                                },
                            }
                        ]
                    }
                ],
            }
        )
        clusters.append(
            _static_cluster(
                http_cluster,
                gateway_http_port,
                _upstream_mtls(cert, f"outbound_.80_._.{GATEWAY_HOST}", gateway_spiffe_id),
            )
        )
        for prefix, (port, fixed_sni) in routes.items():
            name = f"{prefix}-{agent}"
            chains = []
            for host in tls_hosts:
                cluster = f"outbound|443|{name}|{host}"
                chains.append(
                    {
                        "filter_chain_match": {"server_names": [host]},
                        "filters": [_tcp_proxy(f"outbound_{name}", cluster, logdir / f"access-{name}.log")],
                    }
                )
                outer_sni = fixed_sni or host
                clusters.append(_static_cluster(cluster, port, _upstream_mtls(cert, outer_sni, gateway_spiffe_id)))
            listeners.append(
                {
                    "name": name,
                    "address": _listener_address(),
                    "listener_filters": [_TLS_INSPECTOR],
                    "filter_chains": chains,
                }
            )
    return {
        "node": {"id": "sidecar~127.0.0.1~agents~agents.svc.cluster.local", "cluster": "agents-egress"},
        "admin": _admin(),
        "static_resources": {"listeners": listeners, "clusters": clusters},
    }
