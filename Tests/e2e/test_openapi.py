"""The control plane against its OpenAPI document (openapi/control-plane.yaml, SPEC section 10).

Starts `remit control-plane` (SQLite in memory, a secrets key file) on a free loopback port, checks
the document itself with openapi-spec-validator, then walks every route through success and error
answers and validates each request and response with openapi-core: a response whose status,
headers or body the document does not describe fails the test.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Optional

import pytest
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_spec_validator import validate as validate_spec

from support.procs import ManagedProcess, free_port, wait_until
from support.remit import binary_or_fail, repo_root

pytestmark = pytest.mark.remit

DOCUMENT = repo_root() / "openapi" / "control-plane.yaml"
ADMIN_KEY = "remit_" + "e2e-openapi-admin-key-0123456789abcdefghij"
EXPECTED_STATUSES = {200, 201, 202, 204, 304, 400, 401, 403, 404, 409, 422}


class Call:
    def __init__(self, status: int, headers: dict, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


class CheckedAPI:
    """Sends requests and validates each exchange against the document."""

    def __init__(self, base: str, spec: dict):
        self.base = base
        served = dict(spec)
        served["servers"] = [{"url": base}]
        # YAML bodies (PUT /v1/policy, /openapi.yaml) are checked as the documents they are.
        config = Config(extra_media_type_deserializers={"application/yaml": lambda value, **_: yaml.safe_load(value)})
        self.openapi = OpenAPI.from_dict(served, config=config)
        self.seen: set[tuple[str, str, int]] = set()

    def call(
        self,
        method: str,
        path: str,
        expect: int,
        key: Optional[str] = ADMIN_KEY,
        body=None,
        raw: Optional[bytes] = None,
        content_type: str = "application/json",
        query: Optional[dict] = None,
        request_is_valid: bool = True,
    ) -> Call:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        if data is not None:
            headers["Content-Type"] = content_type
        url = self.base + urllib.parse.quote(path) + ("?" + urllib.parse.urlencode(query) if query else "")
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                call = Call(answer.status, dict(answer.headers.items()), answer.read())
        except urllib.error.HTTPError as error:
            call = Call(error.code, dict(error.headers.items()), error.read())
        assert call.status == expect, f"{method} {path} {query or ''}: {call.status} {call.body[:300]!r}"

        checked_request = MockRequest(
            self.base, method, path, args=query or {}, headers=headers, data=data or b"",
            content_type=content_type if data is not None else "",
        )
        if request_is_valid:
            self.openapi.validate_request(checked_request)
        response_type = call.headers.get("Content-Type", "")
        checked_response = MockResponse(call.body, status_code=call.status, headers=call.headers,
                                        content_type=response_type)
        self.openapi.validate_response(checked_request, checked_response)
        self.seen.add((method, path, call.status))
        return call


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(DOCUMENT.read_text())


@pytest.fixture(scope="module")
def control_plane(tmp_path_factory, spec):
    binary = binary_or_fail()
    workdir = tmp_path_factory.mktemp("control-plane")
    port = free_port()
    env = dict(os.environ, REMIT_BOOTSTRAP_ADMIN_KEY=ADMIN_KEY)
    process = ManagedProcess(
        "control-plane",
        [binary, "control-plane", "--listen", f"127.0.0.1:{port}", "--database", "sqlite::memory:",
         "--secrets-key-file", workdir / "secrets.key", "--log-level", "warning"],
        workdir, env=env,
    ).start()
    base = f"http://127.0.0.1:{port}"

    def healthy():
        assert process.alive(), process.diagnostics()
        with urllib.request.urlopen(base + "/healthz", timeout=1) as answer:
            return answer.status == 200

    try:
        wait_until(healthy, timeout=30, what="remit control-plane /healthz")
        yield CheckedAPI(base, spec)
    finally:
        process.stop()


def test_the_document_is_valid_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1")
    validate_spec(spec)


def test_the_served_document_is_the_file(control_plane):
    served = control_plane.call("GET", "/openapi.yaml", 200, key=None)
    assert served.headers["Content-Type"] == "application/yaml"
    assert served.body == DOCUMENT.read_bytes()


def test_every_route_answers_as_documented(control_plane, spec):
    api = control_plane
    api.call("GET", "/healthz", 200, key=None)

    # Keys: a reader, an authorizer; 401 without a key or with an unknown one.
    reader = api.call("POST", "/v1/api-keys", 201, body={"role": "reader"}).json()["key"]
    authorizer = api.call("POST", "/v1/api-keys", 201, body={"role": "authorizer"}).json()["key"]
    api.call("POST", "/v1/api-keys", 422, body={"role": "root"})
    api.call("GET", "/v1/api-keys", 200)
    api.call("GET", "/v1/api-keys", 403, key=reader)
    api.call("GET", "/v1/agents", 401, key=None, request_is_valid=False)
    api.call("GET", "/v1/agents", 401, key="remit_unknown")

    # Missions and agents.
    mission = {"id": "checkout", "allow": [{"to": "tools/inventory", "mcp": {"tools": ["get_stock"]}}]}
    api.call("POST", "/v1/missions", 201, body=mission)
    api.call("POST", "/v1/missions", 409, body=mission)
    api.call("POST", "/v1/missions", 422, body={"id": "bad", "allow": [{"to": ""}]}, request_is_valid=True)
    api.call("POST", "/v1/missions", 400, raw=b"{", request_is_valid=False)
    api.call("GET", "/v1/missions", 200, key=reader)
    api.call("GET", "/v1/missions/checkout", 200, key=reader)
    api.call("GET", "/v1/missions/nope", 404)
    api.call("PUT", "/v1/missions/checkout", 200, body={"allow": [{"to": "tools/*"}]})
    api.call("PUT", "/v1/missions/nope", 404, body={"allow": []})

    agent = {"id": "checkout-bot", "mission": "checkout", "mode": "enforce",
             "meshIdentity": {"namespace": "agents", "serviceAccount": "checkout-bot"}}
    api.call("POST", "/v1/agents", 201, body=agent)
    api.call("POST", "/v1/agents", 409, body=dict(agent, id="thief"))
    api.call("POST", "/v1/agents", 422, body={"id": "x", "meshIdentity": {"namespace": "Bad!", "serviceAccount": "x"}})
    api.call("POST", "/v1/agents", 403, key=reader, body={"id": "r"})
    api.call("GET", "/v1/agents", 200, key=reader)
    api.call("GET", "/v1/agents", 403, key=authorizer)
    api.call("GET", "/v1/agents/checkout-bot", 200)
    api.call("GET", "/v1/agents/ghost", 404)
    api.call("PUT", "/v1/agents/checkout-bot", 200, body={"mission": "checkout", "mode": "observe"})
    api.call("PUT", "/v1/agents/ghost", 404, body={})
    api.call("POST", "/v1/agents", 201, body={"id": "temp"})
    api.call("DELETE", "/v1/agents/temp", 204)
    api.call("DELETE", "/v1/agents/temp", 404)
    api.call("DELETE", "/v1/missions/checkout", 422)  # checkout-bot still uses it
    api.call("POST", "/v1/missions", 201, body={"id": "spare"})
    api.call("DELETE", "/v1/missions/spare", 204)
    api.call("DELETE", "/v1/missions/spare", 404)

    # Sections and the whole document.
    api.call("GET", "/v1/policy/settings", 200, key=reader)
    api.call("PUT", "/v1/policy/dlp", 200, body={"detectors": {"credit_card": "block"}})
    api.call("PUT", "/v1/policy/dlp", 422, body={"colour": "red"})
    api.call("GET", "/v1/policy/nope", 404)
    document = api.call("GET", "/v1/policy", 200, key=reader).json()
    version = int(document["metadata"]["version"])
    replaced = api.call("PUT", "/v1/policy", 200, body=document).json()
    assert replaced["version"] == version + 1
    assert api.call("PUT", "/v1/policy", 200, body=document, query={"dryRun": "true"}).json()["version"] == version + 1
    api.call("PUT", "/v1/policy", 200, raw=yaml.safe_dump(document).encode(), content_type="application/yaml")
    broken = dict(document, agents=[dict(agent, mission="missing")])
    api.call("PUT", "/v1/policy", 422, body=broken)
    api.call("PUT", "/v1/policy", 400, raw=b"{", request_is_valid=False)
    api.call("PUT", "/v1/policy", 403, key=reader, body=document)

    # Snapshot and long-poll.
    snapshot = api.call("GET", "/v1/snapshot", 200, key=authorizer)
    current = snapshot.headers["Remit-Policy-Version"]
    api.call("GET", "/v1/snapshot", 304, key=authorizer, query={"knownVersion": current, "waitSeconds": "1"})
    api.call("GET", "/v1/snapshot", 422, key=authorizer, query={"waitSeconds": "61"}, request_is_valid=False)

    # Audit events.
    event = {"decisionId": "d-1", "time": "2026-11-23T10:00:00.123Z", "surface": "mesh", "verdict": "deny",
             "reason": "tool_not_allowed", "wouldDeny": None, "mode": "enforce", "agent": "checkout-bot",
             "sourcePrincipal": "spiffe://cluster.local/ns/agents/sa/checkout-bot",
             "destination": "tools/inventory", "kind": "east_west", "method": "POST", "path": "/mcp",
             "tool": "drop_tables", "rpcMethod": "tools/call", "chainId": None, "externalHost": None,
             "policyVersion": current, "findings": [], "aibom": None, "latencyUs": 87}
    batch = {"authorizer": "authz-0", "events": [event, dict(event, decisionId="d-2", verdict="allow", reason=None)]}
    assert api.call("POST", "/v1/audit/events", 202, key=authorizer, body=batch).json() == {"accepted": 2, "duplicates": 0}
    assert api.call("POST", "/v1/audit/events", 202, key=authorizer, body=batch).json() == {"accepted": 0, "duplicates": 2}
    api.call("POST", "/v1/audit/events", 403, key=reader, body=batch)
    api.call("POST", "/v1/audit/events", 422, key=authorizer,
             body={"authorizer": "authz-0", "events": [dict(event, decisionId="bad id")]}, request_is_valid=False)
    page = api.call("GET", "/v1/audit/events", 200, key=reader, query={"limit": "1"}).json()
    assert [e["decisionId"] for e in page["events"]] == ["d-2"]
    page = api.call("GET", "/v1/audit/events", 200, key=reader, query={"limit": "1", "cursor": page["nextCursor"]}).json()
    assert [e["decisionId"] for e in page["events"]] == ["d-1"] and page["nextCursor"] is None
    api.call("GET", "/v1/audit/events", 200, key=reader,
             query={"agent": "checkout-bot", "verdict": "deny", "reason": "tool_not_allowed", "kind": "east_west",
                    "since": "2026-11-23T00:00:00Z", "until": "2026-11-24T00:00:00Z"})
    api.call("GET", "/v1/audit/events", 422, key=reader, query={"limit": "0"}, request_is_valid=False)
    api.call("GET", "/v1/audit/events", 403, key=authorizer)

    # Authorizers.
    report = {"policyVersion": current, "lastSync": "2026-11-23T10:00:00Z", "remitVersion": "0.1.0"}
    record = api.call("PUT", "/v1/authorizers/authz-0", 200, key=authorizer, body=report).json()
    assert record["status"] == "healthy"
    api.call("PUT", "/v1/authorizers/authz-0", 200, key=authorizer, body=dict(report, lastSync=None, policyVersion=None))
    api.call("PUT", "/v1/authorizers/authz-0", 422, key=authorizer, body={"policyVersion": "1"},
             request_is_valid=False)
    api.call("PUT", "/v1/authorizers/bad$id", 422, key=authorizer, body=report)
    api.call("PUT", "/v1/authorizers/authz-0", 403, key=reader, body=report)
    assert [r["id"] for r in api.call("GET", "/v1/authorizers", 200, key=reader).json()] == ["authz-0"]
    api.call("GET", "/v1/authorizers", 403, key=authorizer)

    # Secrets: write-only.
    api.call("PUT", "/v1/secrets/payments-api-key", 204, body={"value": "sk_live_never_shown"})
    secrets = api.call("GET", "/v1/secrets", 200)
    assert b"sk_live_never_shown" not in secrets.body
    api.call("PUT", "/v1/secrets/payments-api-key", 422, body={"value": 5}, request_is_valid=False)
    api.call("PUT", "/v1/secrets/payments-api-key", 403, key=reader, body={"value": "x"})
    api.call("DELETE", "/v1/secrets/payments-api-key", 204)
    api.call("DELETE", "/v1/secrets/payments-api-key", 404)

    # Authorizer keys, the JWKS and secrets sealed to an instance. The signing key is P-256's
    # generator point: a valid public key needing no crypto library here.
    def b64url(hex_text: str) -> str:
        return base64.urlsafe_b64encode(bytes.fromhex(hex_text)).rstrip(b"=").decode()

    jwk = {"kty": "EC", "crv": "P-256", "kid": "authz-0-key", "alg": "ES256", "use": "sig",
           "x": b64url("6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296"),
           "y": b64url("4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5")}
    keys = {"signing": jwk, "agreement": base64.b64encode(bytes(range(1, 33))).decode()}
    api.call("PUT", "/v1/secrets/payments-api-key", 204, body={"value": "sk_live_never_shown"})
    api.call("GET", "/v1/authorizers/authz-0/secrets", 409, key=authorizer)  # no agreement key yet
    api.call("GET", "/v1/authorizers/ghost/secrets", 404, key=authorizer)
    api.call("GET", "/v1/authorizers/authz-0/secrets", 403, key=reader)
    record = api.call("PUT", "/v1/authorizers/authz-0", 200, key=authorizer, body=dict(report, keys=keys)).json()
    assert record["keys"] == keys
    api.call("PUT", "/v1/authorizers/authz-0", 422, key=authorizer,
             body=dict(report, keys=dict(keys, agreement="AAAA")), request_is_valid=False)
    api.call("PUT", "/v1/authorizers/authz-0", 422, key=authorizer,
             body=dict(report, keys=dict(keys, signing=dict(jwk, d="c2VjcmV0"))), request_is_valid=False)
    sealed = api.call("GET", "/v1/authorizers/authz-0/secrets", 200, key=authorizer)
    assert [s["name"] for s in sealed.json()["secrets"]] == ["payments-api-key"]
    assert b"sk_live_never_shown" not in sealed.body
    jwks = api.call("GET", "/.well-known/jwks.json", 200, key=None)
    assert jwks.json() == {"keys": [jwk]}
    assert jwks.headers["Cache-Control"] == "public, max-age=60"
    assert api.call("GET", "/.well-known/jwks.json", 200, key=None, query={"tenant": "nobody"}).json() == {"keys": []}
    api.call("DELETE", "/v1/secrets/payments-api-key", 204)

    # Delegation hops and chains.
    hop = {"chainId": "txn-1", "caller": "planner", "callee": "researcher", "maxDepth": 3, "ttlSeconds": 60}
    answer = api.call("POST", "/v1/delegations/hops", 200, key=authorizer, body=hop).json()
    assert answer == {"outcome": "recorded", "callerPath": ["planner"]}
    back = dict(hop, caller="researcher", callee="planner")
    assert api.call("POST", "/v1/delegations/hops", 200, key=authorizer, body=back).json()["outcome"] == "cycle"
    assert api.call("POST", "/v1/delegations/hops", 200, body=dict(hop, callee=None)).json()["outcome"] == "member"
    api.call("POST", "/v1/delegations/hops", 422, key=authorizer, body=dict(hop, maxDepth=0), request_is_valid=False)
    api.call("POST", "/v1/delegations/hops", 400, key=authorizer, raw=b"{", request_is_valid=False)
    api.call("POST", "/v1/delegations/hops", 403, key=reader, body=hop)
    chains = api.call("GET", "/v1/delegations/chains", 200, key=reader).json()["chains"]
    assert [c["id"] for c in chains] == ["txn-1"] and chains[0]["memberCount"] == 2
    api.call("GET", "/v1/delegations/chains", 200, key=reader, query={"limit": "1"})
    api.call("GET", "/v1/delegations/chains", 422, key=reader, query={"limit": "501"}, request_is_valid=False)
    api.call("GET", "/v1/delegations/chains", 403, key=authorizer)
    chain = api.call("GET", "/v1/delegations/chains/txn-1", 200, key=reader).json()
    assert chain["members"] == [{"agent": "planner", "parent": None, "depth": 0},
                                {"agent": "researcher", "parent": "planner", "depth": 1}]
    api.call("GET", "/v1/delegations/chains/nope", 404, key=reader)
    api.call("GET", "/v1/audit/events", 200, key=reader, query={"chain": "txn-1"})

    # Key revocation: the last admin key stays.
    keys = api.call("GET", "/v1/api-keys", 200).json()
    admin_id = next(k["id"] for k in keys if k["role"] == "admin")
    api.call("DELETE", f"/v1/api-keys/{admin_id}", 409)
    reader_id = next(k["id"] for k in keys if k["role"] == "reader")
    api.call("DELETE", f"/v1/api-keys/{reader_id}", 204)
    api.call("DELETE", f"/v1/api-keys/{reader_id}", 404)
    api.call("GET", "/v1/agents", 401, key=reader)

    # Every documented operation was exercised with a success, and every kind of answer was seen.
    documented = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete")
    }

    def matches(template: str, path: str) -> bool:
        parts, wanted = path.split("/"), template.split("/")
        return len(parts) == len(wanted) and all(w.startswith("{") or w == p for w, p in zip(wanted, parts))

    answered = {
        (method, template)
        for method, template in documented
        for seen_method, seen_path, status in api.seen
        if seen_method == method and status < 400 and matches(template, seen_path)
    }
    assert documented - answered == set(), f"operations never answered with a success: {sorted(documented - answered)}"
    statuses = {status for _, _, status in api.seen}
    assert EXPECTED_STATUSES <= statuses, f"never seen: {sorted(EXPECTED_STATUSES - statuses)}"


def test_a_response_that_breaks_the_document_fails_validation(control_plane):
    """The checker is not vacuous: a body the document does not describe is rejected."""
    api = control_plane
    request = MockRequest(api.base, "GET", "/v1/authorizers", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    wrong = MockResponse(json.dumps([{"id": "a", "status": "confused"}]).encode(), status_code=200,
                         content_type="application/json")
    with pytest.raises(Exception):
        api.openapi.validate_response(request, wrong)
    undocumented = MockResponse(b"", status_code=418, content_type="")
    with pytest.raises(Exception):
        api.openapi.validate_response(request, undocumented)
