"""Egress end to end (issue 3): Remit behind an Envoy standing in for Istio's egress gateway.

Topology in support/egress.py. The gateway's ext_authz filters point at the session's authorizer
port, so each test runs Remit (or the no-op stub) there, like the rest of the suite; the Envoys and
the stand-in external servers live for the module.

What is proven:
- HTTP egress: the check carries the Host; an allowed host (exact, `*.` wildcard, IP literal)
  reaches the external server, any other host is a 403 `egress_host_denied` that reaches nothing.
- TLS egress through Envoy's NETWORK ext_authz filter: the agent's SNI travels as the outer mTLS
  SNI; with the filter exactly as istiod renders it Envoy sends that SNI as `destination.service`
  (from the TLS inspector), `tls_session.sni` only with `include_tls_session`. An allowed SNI gets
  bytes through end to end; any other SNI is cut before a byte of the agent's reaches the external
  server.
- A caller bound to no agent is denied `identity_unmapped` on both paths.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

import pytest

from support import clients, policies
from support import egress as eg
from support.asserts import assert_denied
from support.diag import add_diagnostics
from support.echo_upstream import EchoUpstream
from support.envoy import Envoy
from support.pki import MeshCA, issue_server_cert
from support.procs import wait_until

AGENTS = ("checkout-bot", "observer-bot", "rogue")
EXTERNAL_TLS_CLUSTER = "outbound|443||external-tls"
DEFAULT_SNI_LISTENER = "istio_default_sni"


# --------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def public_ca(e2e_dir) -> MeshCA:
    """Stands in for a public web CA: signs the external servers' certificates, not the mesh's."""
    return MeshCA(e2e_dir / "pki-public", name="remit-e2e-public-root")


@pytest.fixture(scope="module")
def gateway_cert(mesh):
    return mesh.ca.issue(*eg.GATEWAY)


@pytest.fixture(scope="module")
def external_http():
    srv = EchoUpstream().start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def external_tls(public_ca):
    srv = eg.ExternalTLSServer(issue_server_cert(public_ca, *eg.EXTERNAL_HOSTS)).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def egress_gateway(e2e_dir, gateway_cert, authz_port, external_http, external_tls):
    d = e2e_dir / "envoy-egress-gateway"
    config = eg.egress_gateway_config(
        gateway_cert, authz_port, external_http.port, external_tls.port, eg.ROUTED_HOSTS, d
    )
    env = Envoy("egress-gateway", config, d)
    env.start()
    yield env
    env.stop()


@pytest.fixture(scope="module")
def egress_client(e2e_dir, mesh, gateway_cert, egress_gateway):
    d = e2e_dir / "envoy-egress-client"
    agents = {"checkout-bot": mesh.checkout_bot, "observer-bot": mesh.observer_bot, "rogue": mesh.rogue}
    config = eg.egress_client_config(
        agents,
        egress_gateway.port("egress_http"),
        {name: egress_gateway.port(name) for name in eg.TLS_LISTENERS},
        gateway_cert.spiffe_id,
        eg.EXTERNAL_HOSTS,
        d,
        fixed_sni_listeners={DEFAULT_SNI_LISTENER: (egress_gateway.port("egress_tls"), eg.GATEWAY_DEFAULT_SNI)},
    )
    env = Envoy("egress-client", config, d)
    env.start()
    yield env
    env.stop()


@dataclass
class Egress:
    gateway: Envoy
    client: Envoy
    http_server: EchoUpstream
    tls_server: eg.ExternalTLSServer
    public_ca: MeshCA
    mesh_ca_path: object
    gateway_id: str

    def http(self, agent: str, host: str, method: str = "GET", path: str = "/v1/charges", body=None,
             headers=None) -> clients.Response:
        """An agent's plain HTTP request for `host`, through its sidecar and the gateway."""
        return clients.request(self.client.port(f"http-{agent}"), method, path, body=body,
                               headers={**(headers or {}), "host": host})

    def tls(self, agent: str, host: str, listener: str = "egress_tls", line: bytes = b"hello\n"):
        """The agent's own TLS to `host` through `listener`: the reply line, or the exception that
        ended the connection (a cut connection shows up as an SSL EOF or a reset)."""
        try:
            return eg.tls_line(self.client.port(f"{listener}-{agent}"), host, self.public_ca.ca_path, line)
        except (OSError, ssl.SSLError) as exc:
            return exc

    def upstream_tls_stat(self, name: str) -> int:
        return self.gateway.stat(f"cluster.{EXTERNAL_TLS_CLUSTER}.{name}")


@pytest.fixture
def egress(request, egress_gateway, egress_client, external_http, external_tls, public_ca, gateway_cert) -> Egress:
    external_http.clear()
    external_tls.clear()
    add_diagnostics(request, "egress gateway", egress_gateway.diagnostics)
    add_diagnostics(request, "egress client sidecar", egress_client.diagnostics)
    add_diagnostics(request, "external servers", lambda: f"http: {external_http.requests!r}\ntls: {external_tls.connections!r}")
    return Egress(egress_gateway, egress_client, external_http, external_tls, public_ca, gateway_cert.ca_path,
                  gateway_cert.spiffe_id)


def egress_policy_yaml() -> str:
    doc = policies.base_policy()
    doc["settings"]["egressGateways"] = [eg.GATEWAY_WORKLOAD]
    doc["missions"][0]["egress"] = list(eg.EGRESS_LIST)
    return policies.policy_yaml(doc)


@pytest.fixture
def egress_remit(remit_factory):
    """Remit with the default e2e policy plus the egress gateway and the mission's egress list."""
    return remit_factory(egress_policy_yaml())


def _assert_reached_tls(out, host: str, tls_server: eg.ExternalTLSServer) -> None:
    assert out == f"external {host} hello\n".encode(), f"{host}: {out!r}"
    assert any(c.sni == host and c.handshake_ok for c in tls_server.connections), tls_server.connections


def _assert_cut(out, host: str) -> None:
    assert isinstance(out, Exception), f"{host}: the connection should have been closed, got {out!r}"


def _settled(tls_server: eg.ExternalTLSServer) -> list:
    """The external server's connections once none is still being served (bounded wait)."""

    def finished():
        connections = tls_server.connections
        return (connections,) if all(c.done for c in connections) else None

    return wait_until(finished, 5, what="external TLS server connections to finish")[0]


# --------------------------------------------------------------------------------------------
# What Envoy 1.40 sends from the gateway (no-op stub; no Remit needed)
# --------------------------------------------------------------------------------------------
@pytest.mark.stub
def test_http_check_at_the_gateway_carries_the_host(egress, noop_authz):
    r = egress.http("checkout-bot", eg.STRIPE)
    assert r.status == 200, r.describe()
    (check,) = noop_authz.wait_for(1)
    attrs = check.attributes
    assert attrs.source.principal == "spiffe://cluster.local/ns/agents/sa/checkout-bot"
    assert attrs.destination.principal == egress.gateway_id == (
        "spiffe://cluster.local/ns/istio-system/sa/istio-egressgateway-service-account"
    )
    assert attrs.request.http.host == eg.STRIPE
    assert attrs.request.http.headers[":authority"] == eg.STRIPE
    assert not attrs.HasField("tls_session"), "the HTTP filter sends no TLS session unless asked"
    (got,) = egress.http_server.requests
    assert got.headers["host"] == eg.STRIPE


@pytest.mark.stub
def test_network_check_as_istio_renders_it_names_the_sni_as_destination_service(egress, noop_authz):
    """istiod's TCP ext_authz filter has no include_tls_session: the SNI arrives only as
    destination.service, which Envoy fills from the TLS inspector's requested server name."""
    out = egress.tls("checkout-bot", eg.STRIPE, "egress_tls")
    _assert_reached_tls(out, eg.STRIPE, egress.tls_server)
    (check,) = noop_authz.wait_for(1)
    attrs = check.attributes
    assert attrs.source.principal == "spiffe://cluster.local/ns/agents/sa/checkout-bot"
    assert attrs.destination.principal == egress.gateway_id
    assert attrs.destination.service == eg.STRIPE
    assert not attrs.HasField("tls_session")
    assert not attrs.request.HasField("http"), "a network check has no HTTP request"


@pytest.mark.stub
def test_network_check_with_include_tls_session_carries_the_sni(egress, noop_authz):
    out = egress.tls("checkout-bot", eg.PAYMENTS, "egress_tls_sni")
    _assert_reached_tls(out, eg.PAYMENTS, egress.tls_server)
    (check,) = noop_authz.wait_for(1)
    assert check.attributes.tls_session.sni == eg.PAYMENTS
    assert check.attributes.destination.service == eg.PAYMENTS


@pytest.mark.stub
def test_network_check_without_tls_inspector_has_no_host(egress, noop_authz):
    """Without the TLS inspector (and without include_tls_session) the check names no host."""
    out = egress.tls("checkout-bot", eg.STRIPE, "egress_tls_noinspector")
    _assert_reached_tls(out, eg.STRIPE, egress.tls_server)
    (check,) = noop_authz.wait_for(1)
    assert check.attributes.destination.service == ""
    assert not check.attributes.HasField("tls_session")
    assert check.attributes.source.principal == "spiffe://cluster.local/ns/agents/sa/checkout-bot"


@pytest.mark.stub
def test_passthrough_gateway_check_has_the_sni_but_no_caller(egress, noop_authz):
    """A PASSTHROUGH gateway server terminates no mTLS: the check names the host but no principal."""
    out = eg.tls_line(egress.gateway.port("egress_passthrough"), eg.STRIPE, egress.public_ca.ca_path)
    _assert_reached_tls(out, eg.STRIPE, egress.tls_server)
    (check,) = noop_authz.wait_for(1)
    assert check.attributes.destination.service == eg.STRIPE
    assert check.attributes.source.principal == "" and check.attributes.destination.principal == ""


@pytest.mark.stub
def test_host_without_a_gateway_route_is_404_before_any_check(egress, noop_authz):
    """Envoy 1.40's HTTP ext_authz makes no check when no route matches: the gateway answers 404
    itself and nothing goes out. (So an off-list host reaches Remit only when the gateway routes it;
    every test host here is routed.)"""
    r = egress.http("checkout-bot", eg.UNROUTED)
    assert r.status == 404, r.describe()
    assert noop_authz.count == 0
    assert egress.http_server.requests == []


@pytest.mark.stub
def test_gateway_requires_a_mesh_client_certificate(egress, noop_authz):
    """Only mTLS from a mesh workload gets to the gateway's checks (plain TLS from outside does not)."""
    for listener in ("egress_http", "egress_tls"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.load_verify_locations(cafile=str(egress.mesh_ca_path))
        try:
            with socket.create_connection(("127.0.0.1", egress.gateway.port(listener)), timeout=5) as raw:
                with ctx.wrap_socket(raw, server_hostname=eg.STRIPE) as tls:
                    tls.sendall(b"GET / HTTP/1.1\r\nhost: api.stripe.example\r\n\r\n")
                    data = tls.recv(100)
            assert data == b"", f"{listener}: {data!r}"
        except (OSError, ssl.SSLError):
            pass
    assert noop_authz.count == 0
    assert egress.http_server.requests == []
    assert all(c.bytes_received == 0 for c in egress.tls_server.connections)


# --------------------------------------------------------------------------------------------
# HTTP egress through Remit
# --------------------------------------------------------------------------------------------
@pytest.mark.remit
@pytest.mark.parametrize(
    "host",
    [eg.STRIPE, "API.Stripe.EXAMPLE", f"{eg.STRIPE}:443", eg.PAYMENTS, eg.PAYMENTS_DEEP, eg.IPV4, f"[{eg.IPV6}]:8443"],
)
def test_http_allowed_host_reaches_the_external_server(egress, egress_remit, host):
    since = egress_remit.mark()
    r = egress.http("checkout-bot", host, "POST", "/v1/charges", body=b'{"amount": 100}',
                    headers={"content-type": "application/json"})
    assert r.status == 200, r.describe()
    assert "x-remit-reason" not in r.headers
    (got,) = egress.http_server.requests
    assert got.headers["host"] == host and got.path == "/v1/charges" and got.body == b'{"amount": 100}'
    d = egress_remit.wait_decision(lambda d: d.get("kind") == "egress", since)
    assert d["verdict"] == "allow", d
    assert d["agent"] == "checkout-bot" and d["destination"] == eg.GATEWAY_WORKLOAD
    assert d["method"] == "POST" and d["path"] == "/v1/charges"


@pytest.mark.remit
@pytest.mark.parametrize(
    "host", [eg.OFF_LIST, f"{eg.OFF_LIST}:443", eg.PAYMENTS_APEX, eg.NEAR_MISS, eg.IPV4_OFF_LIST]
)
def test_http_other_host_is_denied_and_reaches_nothing(egress, egress_remit, host):
    since = egress_remit.mark()
    r = egress.http("checkout-bot", host)
    assert_denied(r, "egress_host_denied", egress.http_server, plain=True)
    d = egress_remit.wait_decision(lambda d: d.get("decision_id") == r.decision_id, since)
    assert d["verdict"] == "deny" and d["reason"] == "egress_host_denied"
    assert d["kind"] == "egress" and d["agent"] == "checkout-bot"
    assert d["destination"] == eg.GATEWAY_WORKLOAD
    assert d["source_principal"] == "spiffe://cluster.local/ns/agents/sa/checkout-bot"


@pytest.mark.remit
def test_http_off_list_host_in_observe_mode_is_allowed_with_would_deny(egress, egress_remit):
    since = egress_remit.mark()
    r = egress.http("observer-bot", eg.OFF_LIST)
    assert r.status == 200, r.describe()
    assert len(egress.http_server.requests) == 1
    d = egress_remit.wait_decision(lambda d: d.get("agent") == "observer-bot", since)
    assert d["verdict"] == "allow" and d["would_deny"] == "egress_host_denied" and d["kind"] == "egress"


@pytest.mark.remit
def test_http_unbound_identity_via_gateway_is_denied_identity_unmapped(egress, egress_remit):
    since = egress_remit.mark()
    r = egress.http("rogue", eg.STRIPE)
    assert_denied(r, "identity_unmapped", egress.http_server, plain=True)
    d = egress_remit.wait_decision(lambda d: d.get("decision_id") == r.decision_id, since)
    assert d["source_principal"] == "spiffe://cluster.local/ns/agents/sa/rogue"
    assert d["destination"] == eg.GATEWAY_WORKLOAD


# --------------------------------------------------------------------------------------------
# TLS (TCP) egress through Envoy's network ext_authz filter and Remit
# --------------------------------------------------------------------------------------------
@pytest.mark.remit
@pytest.mark.parametrize("listener", ["egress_tls", "egress_tls_sni", "egress_tls_deferred"])
@pytest.mark.parametrize("host", [eg.STRIPE, eg.PAYMENTS])
def test_tls_allowed_sni_flows_end_to_end(egress, egress_remit, listener, host):
    since = egress_remit.mark()
    out = egress.tls("checkout-bot", host, listener)
    _assert_reached_tls(out, host, egress.tls_server)
    d = egress_remit.wait_decision(lambda d: d.get("kind") == "egress", since)
    assert d["verdict"] == "allow" and d["agent"] == "checkout-bot", d
    assert d["destination"] == eg.GATEWAY_WORKLOAD
    assert d.get("method") is None and d.get("path") is None


@pytest.mark.remit
@pytest.mark.parametrize("listener", ["egress_tls", "egress_tls_sni", "egress_tls_deferred"])
@pytest.mark.parametrize("host", [eg.OFF_LIST, eg.PAYMENTS_APEX])
def test_tls_off_list_sni_is_cut_before_reaching_the_external_server(egress, egress_remit, listener, host):
    since = egress_remit.mark()
    connects_before = egress.upstream_tls_stat("upstream_cx_total")
    sent_before = egress.upstream_tls_stat("upstream_cx_tx_bytes_total")
    out = egress.tls("checkout-bot", host, listener)
    _assert_cut(out, host)
    d = egress_remit.wait_decision(lambda d: d.get("kind") == "egress", since)
    assert d["verdict"] == "deny" and d["reason"] == "egress_host_denied", d
    assert d["agent"] == "checkout-bot" and d["destination"] == eg.GATEWAY_WORKLOAD
    # Not one byte of the agent's (not even its ClientHello) left the gateway.
    assert egress.upstream_tls_stat("upstream_cx_tx_bytes_total") == sent_before
    connections = _settled(egress.tls_server)
    assert all(c.bytes_received == 0 and not c.handshake_ok for c in connections), connections
    connects = egress.upstream_tls_stat("upstream_cx_total") - connects_before
    if eg.TLS_LISTENERS[listener].connect_on_data:
        assert connects == 0 and connections == [], "a deferred connect opens nothing on a deny"
    else:
        # Envoy's default tcp_proxy (and Istio's) connects upstream when the agent connects, before
        # the check on the first bytes answers: the external host sees an empty TCP connection.
        assert connects == 1, connects


@pytest.mark.remit
def test_tls_unbound_identity_via_gateway_is_denied_identity_unmapped(egress, egress_remit):
    since = egress_remit.mark()
    sent_before = egress.upstream_tls_stat("upstream_cx_tx_bytes_total")
    out = egress.tls("rogue", eg.STRIPE)
    _assert_cut(out, eg.STRIPE)
    d = egress_remit.wait_decision(lambda d: d.get("source_principal", "").endswith("/sa/rogue"), since)
    assert d["verdict"] == "deny" and d["reason"] == "identity_unmapped", d
    assert d["destination"] == eg.GATEWAY_WORKLOAD
    assert egress.upstream_tls_stat("upstream_cx_tx_bytes_total") == sent_before
    assert all(c.bytes_received == 0 for c in _settled(egress.tls_server))


@pytest.mark.remit
def test_tls_without_external_sni_at_the_gateway_is_denied(egress, egress_remit):
    """A DestinationRule without `sni`: the sidecar's outer SNI names the gateway, and the agent's
    own SNI is inside the mTLS where the gateway cannot see it. Remit fails closed."""
    since = egress_remit.mark()
    out = egress.tls("checkout-bot", eg.STRIPE, DEFAULT_SNI_LISTENER)
    _assert_cut(out, eg.STRIPE)
    d = egress_remit.wait_decision(lambda d: d.get("kind") == "egress", since)
    assert d["verdict"] == "deny" and d["reason"] == "egress_host_denied", d
    assert all(c.bytes_received == 0 for c in _settled(egress.tls_server))


@pytest.mark.remit
def test_tls_check_without_a_host_is_denied(egress, egress_remit):
    """No TLS inspector and no include_tls_session: the network check names no host; Remit denies
    even an allowed destination rather than guess."""
    since = egress_remit.mark()
    out = egress.tls("checkout-bot", eg.STRIPE, "egress_tls_noinspector")
    _assert_cut(out, eg.STRIPE)
    d = egress_remit.wait_decision(lambda d: d.get("kind") == "egress", since)
    assert d["verdict"] == "deny" and d["reason"] == "egress_host_denied", d
    assert all(c.bytes_received == 0 for c in _settled(egress.tls_server))


@pytest.mark.remit
def test_tls_passthrough_gateway_is_denied_identity_missing(egress, egress_remit):
    """Remit needs the caller's mesh identity, which a PASSTHROUGH gateway never sees."""
    since = egress_remit.mark()
    try:
        out = eg.tls_line(egress.gateway.port("egress_passthrough"), eg.STRIPE, egress.public_ca.ca_path)
    except (OSError, ssl.SSLError) as exc:
        out = exc
    _assert_cut(out, eg.STRIPE)
    d = egress_remit.wait_decision(lambda d: d.get("reason") == "identity_missing", since)
    assert d["verdict"] == "deny", d
    assert all(c.bytes_received == 0 for c in _settled(egress.tls_server))


# --------------------------------------------------------------------------------------------
# Content security at the gateway: threat intel on the external host, DLP on what leaves
# --------------------------------------------------------------------------------------------
def egress_content_policy_yaml() -> str:
    doc = policies.base_policy()
    doc["settings"]["egressGateways"] = [eg.GATEWAY_WORKLOAD]
    doc["missions"][0]["egress"] = list(eg.EGRESS_LIST)
    # On the mission's list (by its wildcard), but on the threat feed too.
    doc["threatIntel"] = {"indicators": [{"type": "domain", "value": eg.PAYMENTS_DEEP, "severity": "critical"}]}
    doc["dlp"] = {"detectors": {"credit_card": "block"}}
    return policies.policy_yaml(doc)


@pytest.fixture
def egress_content_remit(remit_factory):
    return remit_factory(egress_content_policy_yaml())


@pytest.mark.remit
def test_http_listed_host_on_the_threat_feed_is_denied(egress, egress_content_remit):
    since = egress_content_remit.mark()
    r = egress.http("checkout-bot", eg.PAYMENTS_DEEP)
    assert_denied(r, "threat_intel_match", egress.http_server, plain=True)
    d = egress_content_remit.wait_decision(lambda d: d.get("decision_id") == r.decision_id, since)
    assert d["kind"] == "egress" and d["external_host"] == eg.PAYMENTS_DEEP
    assert d["findings"] == [f"threat_intel_match:domain:{eg.PAYMENTS_DEEP}@egress host"]
    # Its sibling under the same wildcard is not on the feed.
    assert egress.http("checkout-bot", eg.PAYMENTS).status == 200


@pytest.mark.remit
def test_tls_sni_on_the_threat_feed_is_cut(egress, egress_content_remit):
    since = egress_content_remit.mark()
    out = egress.tls("checkout-bot", eg.PAYMENTS_DEEP, "egress_tls")
    _assert_cut(out, eg.PAYMENTS_DEEP)
    d = egress_content_remit.wait_decision(lambda d: d.get("kind") == "egress", since)
    assert d["verdict"] == "deny" and d["reason"] == "threat_intel_match", d


@pytest.mark.remit
def test_a_card_number_does_not_leave_through_the_gateway(egress, egress_content_remit):
    since = egress_content_remit.mark()
    r = egress.http("checkout-bot", eg.STRIPE, "POST", "/v1/charges", body=b'{"card": "4111-1111-1111-1111"}',
                    headers={"content-type": "application/json"})
    assert_denied(r, "dlp_block", egress.http_server, plain=True)
    d = egress_content_remit.wait_decision(lambda d: d.get("decision_id") == r.decision_id, since)
    assert d["findings"] == ["dlp_block:credit_card@$.card"]
    assert d["external_host"] == eg.STRIPE
    clean = egress.http("checkout-bot", eg.STRIPE, "POST", "/v1/charges", body=b'{"amount": 100}',
                        headers={"content-type": "application/json"})
    assert clean.status == 200, clean.describe()
