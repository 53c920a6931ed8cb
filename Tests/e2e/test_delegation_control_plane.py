"""Delegation and credentials with authorizers following a control plane (issue 5).

Two authorizer replicas follow one control plane; each sits behind its own Envoy hosting the same
four workloads (agents lead, helper, third; tool tools/search). The chain lives in the control
plane's ledger, so a hop made through one replica and a cycle attempted through the other are the
same chain. Secrets written to the control plane arrive sealed to each pod's transport key; tools
verify minted JWTs against the control plane's JWKS of all registered authorizers.
"""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
import yaml

from support import clients
from support.asserts import assert_allowed, assert_denied
from support.control_plane import ControlPlane, FollowingRemit
from support.echo_upstream import EchoUpstream
from support.envoy import Envoy, workloads_sidecar_config
from support.jwt_check import verify_es256
from support.procs import free_port, wait_until
from test_delegation import CHAIN, POLICY

pytestmark = pytest.mark.remit

SECRET_VALUE = "cp-sealed-4b9e2d7c1a"


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


class Replica:
    def __init__(self, remit: FollowingRemit, envoy: Envoy):
        self.remit, self.envoy = remit, envoy


class World:
    def __init__(self, cp, replicas, certs, upstream, ca_path):
        self.cp, self.replicas, self.certs, self.upstream, self.ca_path = cp, replicas, certs, upstream, ca_path

    def call(self, replica: int, caller: str, callee: str, body: bytes, chain=None, headers=None):
        h = dict(clients.JSON_HEADERS)
        if chain is not None:
            h[CHAIN] = chain
        h.update(headers or {})
        envoy = self.replicas[replica].envoy
        return clients.mtls_request(envoy.port(callee), self.certs[caller], self.ca_path, "POST", "/", body=body,
                                    headers=h)

    def send(self, replica, caller, callee, chain=None, **kw):
        return self.call(replica, caller, callee, clients.jsonrpc("message/send", {"message": {}}), chain, **kw)

    def tool(self, replica, caller, name, chain=None, **kw):
        return self.call(replica, caller, "search", clients.tools_call(name, {"q": "x"}), chain, **kw)


@pytest.fixture(scope="module")
def world(e2e_dir, mesh):
    base = e2e_dir / "delegation-cp"
    base.mkdir(parents=True, exist_ok=True)
    cp = ControlPlane(base / "cp", extra_args=("--secrets-key-file", str(base / "cp" / "secrets.key")))
    upstream = EchoUpstream().start()
    replicas = []
    try:
        cp.start()
        cp.api("PUT", "/v1/policy", yaml.safe_load(POLICY))
        cp.api("PUT", "/v1/secrets/search-key", {"value": SECRET_VALUE})
        certs = {name: mesh.ca.issue("agents", name) for name in ("lead", "helper", "third")}
        certs["search"] = mesh.ca.issue("tools", "search")
        key = cp.issue_key("authorizer")
        for index in range(2):
            port = free_port()
            remit = FollowingRemit(base / f"authz-{index}", port, cp, key, instance_id=f"authz-{index}")
            envoy = Envoy(f"workloads-{index}", workloads_sidecar_config(certs, port, upstream.port,
                                                                          base / f"envoy-{index}"),
                          base / f"envoy-{index}")
            replicas.append(Replica(remit, envoy))
            remit.start_following()
            envoy.start()
        w = World(cp, replicas, certs, upstream, mesh.ca.ca_path)

        def secrets_delivered():
            for index in range(2):
                upstream.clear()
                r = w.tool(index, "lead", "search_web")
                if r.status != 200 or upstream.requests[0].headers.get("x-api-key") != SECRET_VALUE:
                    return False
            return True

        wait_until(secrets_delivered, 20, interval=0.25, what="sealed secrets delivered to both replicas")
        yield w
    finally:
        for replica in replicas:
            replica.envoy.stop()
            replica.remit.stop()
        cp.stop()
        upstream.stop()


@pytest.fixture
def w(world):
    world.upstream.clear()
    return world


def test_one_chain_across_two_replicas(w):
    chain = "cp-chain-1"
    assert_allowed(w.send(0, "lead", "helper", chain))
    w.upstream.clear()
    # Back to the delegator through the other replica: the same chain, so a cycle.
    assert_denied(w.send(1, "helper", "lead", chain), "delegation_cycle", w.upstream, jsonrpc_id=1)
    # Effective scope through the other replica too.
    assert_denied(w.tool(1, "helper", "delete_index", chain), "delegation_escalation", w.upstream, jsonrpc_id=1)
    assert_denied(w.send(1, "helper", "third", chain), "delegation_depth", w.upstream, jsonrpc_id=1)
    _, _, tree = w.cp.api("GET", f"/v1/delegations/chains/{chain}")
    members = {m["agent"]: m for m in tree["members"]}
    assert tree["root"] == "lead" and set(members) == {"lead", "helper"}
    assert members["helper"]["parent"] == "lead" and members["helper"]["depth"] == 1


def test_minted_jwt_verifies_against_the_control_planes_jwks(w):
    chain = "cp-chain-jwt"
    assert_allowed(w.send(0, "lead", "helper", chain))
    jwks = get_json(w.cp.url + "/.well-known/jwks.json")
    kids = {k["kid"] for k in jwks["keys"]}
    for index in range(2):
        own = get_json(f"http://127.0.0.1:{w.replicas[index].remit.admin_port}/.well-known/jwks.json")
        assert own["keys"][0]["kid"] in kids, "every registered authorizer's key is published"
        w.upstream.clear()
        assert_allowed(w.tool(index, "helper", "search_web", chain), w.upstream)
        token = w.upstream.requests[0].headers["authorization"][len("Bearer "):]
        header, claims = verify_es256(token, jwks)
        assert header["kid"] == own["keys"][0]["kid"]
        assert claims["iss"] == f"authz-{index}" and claims["txn"] == chain
        assert claims["act"] == {"sub": w.certs["lead"].spiffe_id}


def test_the_ledger_down_denies_chain_calls_only(w):
    w.cp.stop()
    try:
        since = w.replicas[0].remit.mark()
        r = w.send(0, "lead", "helper", "cp-chain-down")
        assert_denied(r, "internal_error", w.upstream, jsonrpc_id=1)
        d = w.replicas[0].remit.wait_decision(lambda d: d.get("decision_id") == r.decision_id, since)
        assert "delegation_ledger_unavailable" in d["findings"]
        # A call outside any chain needs no ledger: decided from the snapshot, secret still held.
        assert_allowed(w.tool(0, "lead", "search_web"), w.upstream)
        assert w.upstream.requests[0].headers["x-api-key"] == SECRET_VALUE
    finally:
        w.cp.start()


def test_no_credential_value_in_logs_or_audit_events(w):
    chain = "cp-chain-audit"
    assert_allowed(w.send(0, "lead", "helper", chain))
    w.upstream.clear()
    assert_allowed(w.tool(0, "helper", "search_web", chain), w.upstream)
    token = w.upstream.requests[0].headers["authorization"][len("Bearer "):]

    def audited():
        _, _, page = w.cp.api("GET", f"/v1/audit/events?chain={chain}")
        return page if len(page["events"]) >= 2 else None

    page = wait_until(audited, 15, interval=0.25, what="the chain's decisions in the audit log")
    assert all(e["chainId"] == chain for e in page["events"])
    _, _, everything = w.cp.api("GET", "/v1/audit/events?limit=500")
    texts = [json.dumps(page), json.dumps(everything)]
    texts += [path.read_text(errors="replace") for path in w.cp.workdir.glob("*.std*")]
    texts += [r.remit.log_text() for r in w.replicas]
    assert len(texts) >= 5
    for text in texts:
        for value in (SECRET_VALUE, token, token.split(".")[2]):
            assert value not in text, "a credential value leaked"
