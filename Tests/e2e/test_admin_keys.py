"""The authorizer's transport key on its admin port (SPEC sections 7 and 9): a JWKS at
/.well-known/jwks.json whose kid is the RFC 7638 thumbprint (computed here independently), stable
across restarts; an unwritable state directory disables brokering loudly but does not stop the
authorizer."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.request

import pytest

from support import policies
from support.procs import free_port
from support.remit import Remit, binary_or_fail

pytestmark = pytest.mark.remit


def _get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
        return r.status, r.read().decode()


def _thumbprint(jwk):
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def test_the_jwks_is_the_transport_key_and_survives_a_restart(e2e_dir):
    remit = Remit(e2e_dir / "admin-keys", free_port(), binary=binary_or_fail())
    state = remit.workdir / "state"
    try:
        remit.start(policies.default_policy_yaml(), extra_args=("--state-dir", state))
        status, body = _get(remit.admin_port, "/.well-known/jwks.json")
        assert status == 200
        (key,) = json.loads(body)["keys"]
        assert key["kty"] == "EC" and key["crv"] == "P-256" and key["alg"] == "ES256"
        assert "d" not in key
        assert key["kid"] == _thumbprint(key)
        assert "remit_credential_broker_enabled 1" in _get(remit.admin_port, "/metrics")[1]
        remit.stop()
        remit.start(policies.default_policy_yaml(), extra_args=("--state-dir", state))
        (again,) = json.loads(_get(remit.admin_port, "/.well-known/jwks.json")[1])["keys"]
        assert again == key
    finally:
        remit.stop()


def test_an_unwritable_state_directory_disables_brokering_loudly(e2e_dir):
    remit = Remit(e2e_dir / "admin-keys-readonly", free_port(), binary=binary_or_fail())
    try:
        remit.start(policies.default_policy_yaml(), extra_args=("--state-dir", "/dev/null/remit"))
        assert json.loads(_get(remit.admin_port, "/.well-known/jwks.json")[1]) == {"keys": []}
        status, text = _get(remit.admin_port, "/readyz")
        assert status == 200 and "credential broker disabled" in text
        assert "remit_credential_broker_enabled 0" in _get(remit.admin_port, "/metrics")[1]
        errors = [line for line in remit.log_lines() if line.get("level") == "error"]
        assert any("credential brokering disabled" in line.get("message", "") for line in errors)
    finally:
        remit.stop()
