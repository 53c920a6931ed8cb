"""Assertions shared by the Remit tests."""

from __future__ import annotations

_MISSING = object()


def assert_denied(resp, reason: str, upstream=None, jsonrpc_id=_MISSING, plain: bool = False) -> dict:
    """A Remit deny as Envoy relays it: 403, x-remit-reason, x-remit-decision-id, JSON body.
    `jsonrpc_id` given: the body is a JSON-RPC error carrying that id; `plain`: the
    {"error":"forbidden",...} shape. Asserts nothing reached `upstream` when given."""
    assert resp.status == 403, resp.describe()
    assert resp.headers.get("x-remit-reason") == reason, resp.describe()
    decision_id = resp.headers.get("x-remit-decision-id")
    assert decision_id, f"missing x-remit-decision-id: {resp.describe()}"
    assert resp.headers.get("content-type", "").split(";")[0].strip() == "application/json", resp.describe()
    body = resp.json()
    assert isinstance(body, dict), resp.describe()
    if jsonrpc_id is not _MISSING:
        assert body.get("jsonrpc") == "2.0", body
        assert "id" in body and body["id"] == jsonrpc_id and type(body["id"]) is type(jsonrpc_id), body
        err = body.get("error")
        assert isinstance(err, dict), body
        assert isinstance(err.get("code"), int) and isinstance(err.get("message"), str), body
        assert err.get("data", {}).get("reason") == reason, body
        assert err["data"].get("decision_id") == decision_id, body
        assert "result" not in body, body
    if plain:
        assert body.get("error") == "forbidden", body
        assert body.get("reason") == reason, body
        assert body.get("decision_id") == decision_id, body
    if upstream is not None:
        assert upstream.requests == [], f"request reached the upstream: {upstream.requests}"
    return body


def assert_allowed(resp, upstream=None) -> dict:
    assert resp.status == 200, resp.describe()
    body = resp.json()
    assert body.get("upstream") == "echo", body
    assert "x-remit-reason" not in resp.headers
    if upstream is not None:
        assert len(upstream.requests) >= 1
    return body
