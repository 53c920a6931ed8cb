"""Fixtures for the Remit end-to-end suite through real Envoy (SPEC section 14).

Session scope: the mesh PKI, the upstream echo tool, the server sidecar (mTLS in, ext_authz to the
authorizer port, router to the upstream) and the client sidecar (one plain-HTTP listener per agent
identity, mTLS out). Function scope: the authorizer behind the sidecar (Remit, or the no-op stub),
started on the session's fixed authorizer port, so that policies differ per test and each test has
its own Remit log files.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import policies  # noqa: E402
from support.diag import add_diagnostics  # noqa: E402
from support.echo_upstream import EchoUpstream  # noqa: E402
from support.envoy import Envoy, client_sidecar_config, envoy_binary, server_sidecar_config  # noqa: E402
from support.noop_authz import NoopAuthz  # noqa: E402
from support.pki import MeshCA  # noqa: E402
from support.procs import free_port, tail  # noqa: E402
from support.remit import Remit, binary_or_fail, remit_binary, wait_port_free  # noqa: E402

TEST_TIMEOUT = float(os.environ.get("E2E_TEST_TIMEOUT", "60"))


# --------------------------------------------------------------------------------------------
# per-test timeout (SIGALRM; no plugin needed) and failure diagnostics
# --------------------------------------------------------------------------------------------
class E2ETimeout(Exception):
    pass


def _alarm(signum, frame):
    raise E2ETimeout(f"e2e test phase exceeded {TEST_TIMEOUT:g}s (E2E_TEST_TIMEOUT)")


def _with_alarm():
    if TEST_TIMEOUT <= 0 or not hasattr(signal, "setitimer"):
        return None
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TEST_TIMEOUT)
    return old


def _clear_alarm(old):
    if old is None:
        return
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    old = _with_alarm()
    try:
        yield
    finally:
        _clear_alarm(old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    old = _with_alarm()
    try:
        yield
    finally:
        _clear_alarm(old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    old = _with_alarm()
    try:
        yield
    finally:
        _clear_alarm(old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and call.when in ("setup", "call"):
        for name, fn in getattr(item, "_e2e_diagnostics", []):
            try:
                rep.sections.append((f"e2e diagnostics: {name}", fn()))
            except Exception as exc:  # noqa: BLE001
                rep.sections.append((f"e2e diagnostics: {name}", f"<failed: {exc!r}>"))


_add_diag = add_diagnostics


def _sigterm(signum, frame):
    # `timeout`/CI cancellation: unwind through pytest so fixtures tear the processes down.
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config):
    signal.signal(signal.SIGTERM, _sigterm)
    config.addinivalue_line("markers", "remit: needs the Remit binary (REMIT_BIN); missing binary = error")
    config.addinivalue_line("markers", "stub: runs the topology against the no-op ext_authz stub")


def pytest_report_header(config):
    path = remit_binary()
    state = "present" if path.is_file() else "MISSING (tests marked remit will error)"
    try:
        envoy = envoy_binary()
    except Exception as exc:  # noqa: BLE001
        envoy = f"<none: {exc}>"
    return [f"remit binary: {path} ({state})", f"envoy binary: {envoy}"]


# --------------------------------------------------------------------------------------------
# session: PKI, upstream, sidecars
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def e2e_dir():
    keep = os.environ.get("E2E_KEEP_DIR")
    d = Path(tempfile.mkdtemp(prefix="remit-e2e-", dir=keep or None))
    yield d
    if not keep:
        shutil.rmtree(d, ignore_errors=True)


@dataclass
class Mesh:
    ca: MeshCA
    inventory: object       # tools/inventory (server sidecar)
    checkout_bot: object    # agents/checkout-bot
    observer_bot: object    # agents/observer-bot (observe mode)
    rogue: object           # agents/rogue (bound to no agent)
    foreign_td: object      # spiffe://evil.example/ns/agents/sa/checkout-bot, signed by the mesh CA
    untrusted: object       # agents/checkout-bot signed by another CA

    @property
    def ca_path(self):
        return self.ca.ca_path


@pytest.fixture(scope="session")
def mesh(e2e_dir) -> Mesh:
    ca = MeshCA(e2e_dir / "pki")
    other = MeshCA(e2e_dir / "pki-other", name="not-the-mesh-root")
    return Mesh(
        ca=ca,
        inventory=ca.issue(*policies.INVENTORY),
        checkout_bot=ca.issue(*policies.CHECKOUT_BOT),
        observer_bot=ca.issue(*policies.OBSERVER_BOT),
        rogue=ca.issue(*policies.ROGUE),
        foreign_td=ca.issue(*policies.CHECKOUT_BOT, trust_domain="evil.example"),
        untrusted=other.issue(*policies.CHECKOUT_BOT),
    )


@pytest.fixture(scope="session")
def authz_port() -> int:
    """The port the server sidecar's ext_authz cluster points at (Remit or the stub binds it)."""
    return free_port()


@pytest.fixture(scope="session")
def upstream_server():
    srv = EchoUpstream().start()
    yield srv
    srv.stop()


@pytest.fixture
def upstream(upstream_server):
    """The echo tool, with its request record cleared for this test."""
    upstream_server.clear()
    yield upstream_server


@pytest.fixture(scope="session")
def server_sidecar(e2e_dir, mesh, authz_port, upstream_server):
    d = e2e_dir / "envoy-server"
    env = Envoy("server-sidecar", server_sidecar_config(mesh.inventory, authz_port, upstream_server.port, d), d)
    env.start()
    yield env
    env.stop()


@pytest.fixture(scope="session")
def client_sidecar(e2e_dir, mesh, server_sidecar):
    d = e2e_dir / "envoy-client"
    agents = {
        "checkout-bot": mesh.checkout_bot,
        "observer-bot": mesh.observer_bot,
        "rogue": mesh.rogue,
        "foreign-td": mesh.foreign_td,
    }
    env = Envoy(
        "client-sidecar",
        client_sidecar_config(agents, server_sidecar.port("inbound"), mesh.inventory.spiffe_id, d),
        d,
    )
    env.start()
    yield env
    env.stop()


@dataclass
class Topology:
    mesh: Mesh
    server: Envoy
    client: Envoy
    upstream: EchoUpstream

    def agent_port(self, name: str) -> int:
        """The client sidecar listener that sends as agent `name` (checkout-bot, observer-bot, rogue, foreign-td)."""
        return self.client.port(name)

    @property
    def inbound_port(self) -> int:
        return self.server.port("inbound")

    @property
    def inbound_nonorm_port(self) -> int:
        return self.server.port("inbound_nonorm")


@pytest.fixture
def topo(request, mesh, server_sidecar, client_sidecar, upstream) -> Topology:
    _add_diag(request, "server sidecar", server_sidecar.diagnostics)
    _add_diag(request, "client sidecar", client_sidecar.diagnostics)
    _add_diag(request, "upstream requests", lambda: "\n".join(repr(r) for r in upstream.requests) or "<none>")
    return Topology(mesh, server_sidecar, client_sidecar, upstream)


# --------------------------------------------------------------------------------------------
# function: the authorizer behind the sidecar
# --------------------------------------------------------------------------------------------
def _test_dir(e2e_dir: Path, request) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-120:]
    d = e2e_dir / "tests" / name
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture
def remit_factory(request, e2e_dir, authz_port):
    """start(policy_yaml) -> a running Remit on the sidecar's authorizer port (stopped at teardown).
    A missing binary fails the test (error at setup), it never skips."""
    binary = binary_or_fail()
    started: list[Remit] = []
    workdir = _test_dir(e2e_dir, request)

    def start(policy_text: str, port: int = None) -> Remit:
        port = authz_port if port is None else port
        wait_port_free(port)
        r = Remit(workdir / f"remit-{len(started)}", port, binary=binary)
        started.append(r)
        _add_diag(request, f"remit #{len(started)}", r.diagnostics)
        return r.start(policy_text)

    yield start
    for r in started:
        r.stop()


@pytest.fixture
def remit(remit_factory) -> Remit:
    """Remit with the default e2e policy (support/policies.py)."""
    return remit_factory(policies.default_policy_yaml())


@pytest.fixture
def noop_authz(request, authz_port):
    """The no-op ext_authz stub (always allow) on the sidecar's authorizer port, recording requests."""
    wait_port_free(authz_port)
    stub = NoopAuthz(port=authz_port, record=True).start()
    _add_diag(request, "noop authz", lambda: f"{stub.count} checks")
    yield stub
    stub.stop()


@pytest.fixture(scope="module")
def module_remit(request, e2e_dir, authz_port):
    """One Remit with the default policy for a whole module (on the sidecar's authorizer port)."""
    binary = binary_or_fail()
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-120:]
    wait_port_free(authz_port)
    r = Remit(e2e_dir / "modules" / name, authz_port, binary=binary)
    try:
        r.start(policies.default_policy_yaml())
    except Exception as exc:  # noqa: BLE001
        r.stop()
        pytest.fail(str(exc), pytrace=False)
    yield r
    r.stop()
