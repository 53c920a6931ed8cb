"""HTTP clients for the e2e suite: plain HTTP to the client sidecar, and a raw mTLS client that
speaks to the server sidecar directly with a workload certificate (paths are sent byte for byte)."""

from __future__ import annotations

import http.client
import json
import ssl
from dataclasses import dataclass
from typing import Optional

from .pki import WorkloadCert


@dataclass
class Response:
    status: int
    headers: dict  # lower-case name -> value (last wins)
    body: bytes

    def json(self):
        return json.loads(self.body)

    @property
    def reason(self) -> Optional[str]:
        return self.headers.get("x-remit-reason")

    @property
    def decision_id(self) -> Optional[str]:
        return self.headers.get("x-remit-decision-id")

    def describe(self) -> str:
        return f"HTTP {self.status} headers={self.headers} body={self.body[:600]!r}"


def _do(conn: http.client.HTTPConnection, method: str, path: str, body, headers: dict) -> Response:
    try:
        # skip_host/accept_encoding so that exactly our headers go out
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        hdrs = {"host": "inventory.tools.svc.cluster.local:8080"}
        hdrs.update({k.lower(): v for k, v in (headers or {}).items()})
        if body is not None:
            hdrs.setdefault("content-length", str(len(body)))
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders(body)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


def request(port: int, method: str, path: str, body: Optional[bytes] = None, headers: Optional[dict] = None,
            timeout: float = 15.0) -> Response:
    """Plain HTTP/1.1 to 127.0.0.1:port (the agent's view: its own sidecar)."""
    return _do(http.client.HTTPConnection("127.0.0.1", port, timeout=timeout), method, path, body, headers or {})


def tls_context(client: Optional[WorkloadCert], ca_path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # SPIFFE: identity is the URI SAN, not a host name
    ctx.load_verify_locations(cafile=str(ca_path))
    if client is not None:
        ctx.load_cert_chain(str(client.cert_path), str(client.key_path))
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def mtls_request(port: int, client: Optional[WorkloadCert], ca_path, method: str, path: str,
                 body: Optional[bytes] = None, headers: Optional[dict] = None, timeout: float = 15.0) -> Response:
    """HTTP/1.1 over TLS straight to the server sidecar, as `client` (None = no client cert)."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=tls_context(client, ca_path))
    return _do(conn, method, path, body, headers or {})


_JSON_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def jsonrpc(method: str, params: Optional[dict] = None, id=1) -> bytes:
    msg = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        msg["params"] = params
    return json.dumps(msg).encode()


def tools_call(name: str, arguments: Optional[dict] = None, id=1) -> bytes:
    return jsonrpc("tools/call", {"name": name, "arguments": arguments or {}}, id=id)


def mcp_post(port: int, body: bytes, path: str = "/mcp", headers: Optional[dict] = None, **kw) -> Response:
    h = dict(_JSON_HEADERS)
    h.update(headers or {})
    return request(port, "POST", path, body=body, headers=h, **kw)


JSON_HEADERS = _JSON_HEADERS
