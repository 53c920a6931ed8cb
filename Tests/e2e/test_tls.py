"""Remit's gRPC listener over TLS, behind a real Envoy whose ext_authz cluster has an upstream TLS
context with its mesh certificate (SPEC section 11, issue 6):

- checks succeed over mutual TLS;
- an Envoy without a client certificate is refused in the handshake (its requests fail closed);
- rotating Remit's server certificate while load runs fails no request;
- plaintext on a non-loopback address refuses to start.
"""

from __future__ import annotations

import subprocess
import threading
import time

import pytest

from support import clients, policies
from support.envoy import Envoy, authz_tls, server_sidecar_config
from support.procs import free_port, wait_until
from support.remit import Remit, binary_or_fail

pytestmark = pytest.mark.remit

REMIT_ID = ("remit-system", "remit-authz")
REMIT_SPIFFE = "spiffe://cluster.local/ns/remit-system/sa/remit-authz"


def _tools_call(tool, id):
    return clients.tools_call(tool, {"sku": "SKU-1"}, id=id)


def _call(port, mesh, tool, id=1):
    headers = dict(clients.JSON_HEADERS)
    return clients.mtls_request(port, mesh.checkout_bot, mesh.ca_path, "POST", "/mcp",
                                body=_tools_call(tool, id), headers=headers)


@pytest.fixture(scope="module")
def tls_remit(e2e_dir, mesh):
    binary = binary_or_fail()
    server = mesh.ca.issue(*REMIT_ID)
    remit = Remit(e2e_dir / "tls" / "remit", free_port(), binary=binary)
    remit.server_cert = server
    # Remit's own copy of the client CA bundle, so the test can rotate it.
    remit.client_ca = remit.workdir / "client-ca.pem"
    remit.client_ca.write_bytes(mesh.ca_path.read_bytes())
    remit.start(
        policies.default_policy_yaml(),
        extra_args=("--tls-cert", server.cert_path, "--tls-key", server.key_path, "--tls-client-ca", remit.client_ca),
        ready_via_admin=True,
    )
    yield remit
    remit.stop()


def _sidecar(e2e_dir, mesh, name, remit, upstream_server, client_cert):
    d = e2e_dir / "tls" / name
    config = server_sidecar_config(
        mesh.inventory, remit.grpc_port, upstream_server.port, d,
        authz_transport=authz_tls(client_cert, mesh.ca_path, REMIT_SPIFFE))
    env = Envoy(name, config, d)
    env.start()
    return env


@pytest.fixture(scope="module")
def tls_sidecar(e2e_dir, mesh, tls_remit, upstream_server):
    env = _sidecar(e2e_dir, mesh, "tls-sidecar", tls_remit, upstream_server, mesh.inventory)
    yield env
    env.stop()


def test_checks_succeed_over_mutual_tls(mesh, tls_remit, tls_sidecar, upstream):
    since = tls_remit.mark()
    ok = _call(tls_sidecar.port("inbound"), mesh, "get_stock", id=1)
    assert ok.status == 200, ok.describe()
    denied = _call(tls_sidecar.port("inbound"), mesh, "delete_inventory", id=2)
    assert denied.status == 403 and denied.reason == "scope_tool_denied", denied.describe()
    d = tls_remit.wait_decision(lambda d: d.get("decision_id") == denied.decision_id, since)
    assert d["source_principal"] == mesh.checkout_bot.spiffe_id


def test_an_envoy_without_a_client_certificate_is_refused(e2e_dir, mesh, tls_remit, upstream_server, upstream):
    env = _sidecar(e2e_dir, mesh, "tls-sidecar-no-cert", tls_remit, upstream_server, None)
    try:
        since = tls_remit.mark()
        r = _call(env.port("inbound"), mesh, "get_stock", id=3)
        # The handshake fails, so ext_authz fails, and Envoy fails closed (failure_mode_allow false).
        assert r.status == 403, r.describe()
        assert r.reason is None, "Remit never decided: the refusal is Envoy's own"
        assert upstream.requests == []
        time.sleep(0.3)
        assert tls_remit.decisions(since) == []
    finally:
        env.stop()


def test_rotating_the_server_certificate_and_the_ca_files_under_load_fails_no_request(
        e2e_dir, mesh, tls_remit, tls_sidecar, upstream):
    port = tls_sidecar.port("inbound")
    failures, done = [], threading.Event()
    count = [0]

    def load():
        n = 0
        while not done.is_set():
            n += 1
            r = _call(port, mesh, "get_stock", id=1000 + n)
            if r.status != 200:
                failures.append(r.describe())
            count[0] += 1

    worker = threading.Thread(target=load)
    worker.start()
    try:
        time.sleep(1.0)
        # cert-manager rewrites the Secret: a new key and certificate from the same mesh CA.
        rotated = mesh.ca.issue(*REMIT_ID)
        tls_remit.server_cert.key_path.write_bytes(rotated.key_path.read_bytes())
        tls_remit.server_cert.cert_path.write_bytes(rotated.cert_path.read_bytes())
        wait_until(lambda: "TLS certificate reloaded" in tls_remit.log_text(), 15, what="the certificate reload")
        time.sleep(1.0)
        # A mesh root rotation's first step: the client CA file gains the next root beside the old.
        from support.pki import MeshCA
        next_root = MeshCA(e2e_dir / "tls" / "next-root", name="next-mesh-root")
        bundle = mesh.ca_path.read_bytes() + b"\n" + next_root.ca_path.read_bytes()
        tmp = tls_remit.client_ca.with_suffix(".tmp")
        tmp.write_bytes(bundle)
        tmp.replace(tls_remit.client_ca)
        wait_until(lambda: "TLS client CA bundle reloaded" in tls_remit.log_text(), 15, what="the CA reload")
        time.sleep(1.0)
    finally:
        done.set()
        worker.join(timeout=20)
    assert count[0] > 20, f"only {count[0]} requests ran"
    assert failures == [], failures[:3]
    # New connections see the new certificate: a fresh Envoy still validates it against the mesh CA.


def test_plaintext_on_a_non_loopback_address_refuses_to_start(tmp_path):
    binary = binary_or_fail()
    policy = tmp_path / "policy.yaml"
    policy.write_text(policies.default_policy_yaml())
    result = subprocess.run(
        [str(binary), "serve", "--policy", str(policy), "--listen", f"0.0.0.0:{free_port()}",
         "--admin-listen", f"127.0.0.1:{free_port()}"],
        capture_output=True, text=True, timeout=20)
    assert result.returncode != 0
    assert "plaintext" in (result.stderr + result.stdout)
