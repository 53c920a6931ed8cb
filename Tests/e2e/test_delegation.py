"""Delegation chains and credential brokering through real Envoy (issue 5; SPEC sections 6, 7).

Three workloads and a fourth for depth, each an mTLS listener of one Envoy with its own SPIFFE
certificate, so `destination.principal` is that workload's identity exactly as its own sidecar
would set it: agents `lead` (A) and `helper` (B), agent `third` (C) and the tool `tools/search`.
Callers present their workload certificates straight to those listeners (as their client sidecars
would). One Remit on a policy file (the in-memory ledger), escalation `narrow`, maxDepth 1.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path

import pytest

from support import clients
from support.asserts import assert_allowed, assert_denied
from support.envoy import Envoy, workloads_sidecar_config
from support.echo_upstream import EchoUpstream
from support.jwt_check import verify_es256
from support.procs import free_port
from support.remit import Remit, binary_or_fail

pytestmark = pytest.mark.remit

CHAIN = "x-remit-delegation-chain-id"
SEARCH_KEY = "sk-search-5f1c0e3a9b7d4e21"

POLICY = """\
apiVersion: remit/v1
kind: Policy
metadata: {name: delegation-e2e}
settings:
  a2aNamespaces: [agents]
  delegation: {maxDepth: 1, escalation: narrow, ttlSeconds: 300}
agents:
  - {id: lead, meshIdentity: {namespace: agents, serviceAccount: lead}, mission: lead}
  - {id: helper, meshIdentity: {namespace: agents, serviceAccount: helper}, mission: helper}
  - {id: third, meshIdentity: {namespace: agents, serviceAccount: third}, mission: helper}
missions:
  - id: lead
    allow:
      - {to: "agents/*", a2a: {methods: ["message/send"]}}
      - {to: tools/search, mcp: {tools: ["search_*"]}}
    credentials:
      - {to: tools/search, secret: {name: search-key, header: x-api-key}}
  - id: helper
    allow:
      - {to: "agents/*", a2a: {methods: ["message/send"]}}
      - {to: tools/search, mcp: {tools: [search_web, delete_index]}}
    credentials:
      - {to: tools/search, mint: {ttlSeconds: 120}}
"""


class World:
    def __init__(self, certs, envoy, upstream, remit, ca_path):
        self.certs, self.envoy, self.upstream, self.remit, self.ca_path = certs, envoy, upstream, remit, ca_path

    def call(self, caller: str, callee: str, body: bytes, chain: str | None = None, headers: dict | None = None):
        h = dict(clients.JSON_HEADERS)
        if chain is not None:
            h[CHAIN] = chain
        h.update(headers or {})
        return clients.mtls_request(
            self.envoy.port(callee), self.certs[caller], self.ca_path, "POST", "/a2a" if callee != "search" else "/mcp",
            body=body, headers=h)

    def send(self, caller, callee, chain=None, **kw):
        return self.call(caller, callee, clients.jsonrpc("message/send", {"message": {"text": "hi"}}), chain, **kw)

    def tool(self, caller, name, chain=None, **kw):
        return self.call(caller, "search", clients.tools_call(name, {"q": "x"}), chain, **kw)

    def jwks(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.remit.admin_port}/.well-known/jwks.json", timeout=5) as r:
            return json.loads(r.read())


@pytest.fixture(scope="module")
def world(e2e_dir, mesh):
    binary = binary_or_fail()
    base = e2e_dir / "delegation"
    certs = {name: mesh.ca.issue("agents", name) for name in ("lead", "helper", "third")}
    certs["search"] = mesh.ca.issue("tools", "search")
    upstream = EchoUpstream().start()
    port = free_port()
    envoy = Envoy("workloads", workloads_sidecar_config(certs, port, upstream.port, base / "envoy"), base / "envoy")
    secret_file = base / "search-key"
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    secret_file.write_text(SEARCH_KEY + "\n")
    remit = Remit(base / "remit", port, binary=binary)
    try:
        envoy.start()
        remit.start(POLICY, extra_args=(
            "--state-dir", str(base / "state"), "--instance-id", "remit-e2e-a",
            "--secret", f"search-key=file:{secret_file}"))
        yield World(certs, envoy, upstream, remit, mesh.ca.ca_path)
    finally:
        remit.stop()
        envoy.stop()
        upstream.stop()


@pytest.fixture
def w(world):
    world.upstream.clear()
    return world


def test_chain_through_two_agents_and_a_tool(w):
    chain = "chain-main-1"
    # A calls B with a chain id: allowed.
    assert_allowed(w.send("lead", "helper", chain))
    # B calls the tool inside the chain, within the effective scope (lead allows search_*).
    w.upstream.clear()
    assert_allowed(w.tool("helper", "search_web", chain), w.upstream)
    (got,) = w.upstream.requests
    assert got.headers.get(CHAIN) == chain, "the chain id travels on"
    # Outside the effective scope: helper's mission allows delete_index, lead's does not.
    w.upstream.clear()
    assert_denied(w.tool("helper", "delete_index", chain), "delegation_escalation", w.upstream, jsonrpc_id=1)
    # The same call outside any chain is within helper's own mission.
    assert_allowed(w.tool("helper", "delete_index"))
    d = w.remit.wait_decision(lambda d: d.get("reason") == "delegation_escalation")
    assert d["chain_id"] == chain and d["agent"] == "helper"


def test_a2a_hop_without_the_header_is_denied(w):
    assert_denied(w.send("lead", "helper"), "delegation_header_missing", w.upstream, jsonrpc_id=1)


def test_back_to_the_delegator_is_a_cycle(w):
    chain = "chain-cycle-1"
    assert_allowed(w.send("lead", "helper", chain))
    w.upstream.clear()
    assert_denied(w.send("helper", "lead", chain), "delegation_cycle", w.upstream, jsonrpc_id=1)
    # The repeated edge is idempotent.
    assert_allowed(w.send("lead", "helper", chain))


def test_a_hop_past_max_depth_is_denied(w):
    chain = "chain-depth-1"
    assert_allowed(w.send("lead", "helper", chain))
    w.upstream.clear()
    assert_denied(w.send("helper", "third", chain), "delegation_depth", w.upstream, jsonrpc_id=1)
    # A caller that is not in the chain is an unknown member.
    assert_denied(w.tool("third", "search_web", chain), "delegation_unknown_member", w.upstream, jsonrpc_id=1)


def test_the_tool_gets_a_jwt_that_verifies_against_the_jwks(w):
    chain = "chain-jwt-1"
    assert_allowed(w.send("lead", "helper", chain))
    w.upstream.clear()
    forged = "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."
    assert_allowed(w.tool("helper", "search_web", chain, headers={"authorization": forged}), w.upstream)
    (got,) = w.upstream.requests
    value = got.headers["authorization"]
    assert value != forged and value.startswith("Bearer ")
    token = value[len("Bearer "):]
    header, claims = verify_es256(token, w.jwks())
    assert header["kid"] == w.jwks()["keys"][0]["kid"]
    assert claims["iss"] == "remit-e2e-a"
    assert claims["sub"] == w.certs["helper"].spiffe_id
    assert claims["aud"] in (w.certs["search"].spiffe_id, [w.certs["search"].spiffe_id])
    assert claims["scope"] == "search_web"
    assert claims["txn"] == chain
    assert claims["act"] == {"sub": w.certs["lead"].spiffe_id}, "RFC 8693: the delegator acts"
    assert claims["exp"] - claims["iat"] == 120 and claims["exp"] > time.time()
    assert len(claims["jti"]) >= 16
    # Tampering breaks the signature.
    head, payload, sig = token.split(".")
    tampered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    with pytest.raises(Exception):
        verify_es256(f"{head}.{tampered}.{sig}", w.jwks())
    # Each credential is its own: a new jti every call.
    w.upstream.clear()
    assert_allowed(w.tool("helper", "search_web", chain), w.upstream)
    _, again = verify_es256(w.upstream.requests[0].headers["authorization"][7:], w.jwks())
    assert again["jti"] != claims["jti"]


def test_static_secret_by_name_and_forged_headers_removed(w):
    forged = {
        "x-api-key": "forged-key",
        "authorization": "Bearer forged",
        "x-remit-credential": "forged",
        "x-remit-decision-id": "forged",
    }
    assert_allowed(w.tool("lead", "search_news", headers=forged), w.upstream)
    (got,) = w.upstream.requests
    assert got.headers["x-api-key"] == SEARCH_KEY, "the secret by name, overwriting the caller's"
    # helper's mission mints `authorization` toward this tool, so no caller may send its own.
    assert "authorization" not in got.headers
    assert "x-remit-credential" not in got.headers and "x-remit-decision-id" not in got.headers
    # A denied request gets no credential at all.
    w.upstream.clear()
    assert_denied(w.tool("lead", "delete_index", headers=forged), "scope_tool_denied", w.upstream)


def test_no_credential_value_in_any_log_line(w):
    chain = "chain-logs-1"
    assert_allowed(w.send("lead", "helper", chain))
    w.upstream.clear()
    assert_allowed(w.tool("helper", "search_web", chain), w.upstream)
    token = w.upstream.requests[0].headers["authorization"][7:]
    w.upstream.clear()
    assert_allowed(w.tool("lead", "search_web"), w.upstream)
    assert w.upstream.requests[0].headers["x-api-key"] == SEARCH_KEY
    time.sleep(0.3)
    text = w.remit.log_text()
    for value in (SEARCH_KEY, token, token.split(".")[2], "forged-key"):
        assert value not in text, "a credential value reached the log"
    assert "search-key" in text, "the secret's name is logged (at start), its value never"


def test_transport_key_survives_a_restart_and_an_unwritable_path_fails_loudly(w, e2e_dir, tmp_path):
    kid = w.jwks()["keys"][0]["kid"]
    state = e2e_dir / "delegation" / "state"
    key_file = state / "transport-key.json"
    assert key_file.exists() and oct(key_file.stat().st_mode & 0o777) == "0o600"
    # A second Remit on the same state directory serves the same key.
    again = Remit(tmp_path / "again", free_port(), binary=binary_or_fail())
    try:
        again.start(POLICY, extra_args=("--state-dir", str(state), "--secret", f"search-key=env:HOME"))
        with urllib.request.urlopen(f"http://127.0.0.1:{again.admin_port}/.well-known/jwks.json", timeout=5) as r:
            assert json.loads(r.read())["keys"][0]["kid"] == kid
    finally:
        again.stop()

    # A state directory that cannot be created (its parent is a file): brokering off, loudly.
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    port = free_port()
    broken = Remit(tmp_path / "broken", port, binary=binary_or_fail())
    envoy = Envoy("workloads-broken", workloads_sidecar_config(
        {"search": w.certs["search"], "helper": w.certs["helper"]}, port, w.upstream.port, tmp_path / "envoy"),
        tmp_path / "envoy")
    try:
        broken.start(POLICY, extra_args=("--state-dir", str(blocker / "state"), "--secret", f"search-key=env:HOME"))
        envoy.start()
        text = broken.log_text()
        assert "credential brokering disabled" in text
        with urllib.request.urlopen(f"http://127.0.0.1:{broken.admin_port}/metrics", timeout=5) as r:
            assert "remit_credential_broker_enabled 0" in r.read().decode()
        # Ready (routing continues) but saying why credentials cannot be issued.
        with urllib.request.urlopen(f"http://127.0.0.1:{broken.admin_port}/readyz", timeout=5) as r:
            readyz = r.read().decode()
        assert "credential broker disabled" in readyz, readyz
        # A request that needs a minted credential is denied; one that needs none is not.
        h = dict(clients.JSON_HEADERS)
        r = clients.mtls_request(envoy.port("search"), w.certs["helper"], w.ca_path, "POST", "/mcp",
                                 body=clients.tools_call("search_web", {}), headers=h)
        assert_denied(r, "credential_unavailable", jsonrpc_id=1)
    finally:
        envoy.stop()
        broken.stop()
