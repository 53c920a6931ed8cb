"""The audit spool on a full disk (issue 8, fault injection).

The authorizer runs in its own mount namespace (`unshare`) with its state directory on a 128 KiB
tmpfs, follows a control plane that is then stopped, and decides a stream of calls: what waits in
memory goes to the spool every second until the file system is full. Checked: every decision is
still right, the authorizer stays up, the events that did not fit are counted in
`remit_audit_events_dropped_total` and logged, and once the control plane is back the spool is
delivered, after which new decisions reach the audit log again (the spool made room).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.request

import pytest

from support import clients, policies
from support.asserts import assert_allowed
from support.control_plane import ControlPlane, FollowingRemit
from support.diag import add_diagnostics
from support.procs import wait_until
from support.remit import wait_port_free

pytestmark = pytest.mark.remit

TMPFS_SIZE = "128k"


def mount_namespace() -> list | None:
    """An `unshare` prefix that gives a command its own mount namespace where it may mount a tmpfs:
    a user namespace when the kernel allows one, else (as root) a plain mount namespace."""
    if shutil.which("unshare") is None:
        return None
    import os

    candidates = [["unshare", "--user", "--map-root-user", "--mount"]]
    if os.geteuid() == 0:
        candidates.append(["unshare", "--mount", "--propagation", "private"])
    for prefix in candidates:
        probe = subprocess.run([*prefix, "sh", "-c", "mount -t tmpfs -o size=16k tmpfs /mnt && umount /mnt"],
                               capture_output=True)
        if probe.returncode == 0:
            return prefix
    return None


def metric(remit, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{remit.admin_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    match = re.search(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def _call(topo, tool, id):
    return clients.mcp_post(topo.agent_port("checkout-bot"), clients.tools_call(tool, {"sku": "SKU-1"}, id=id))


def test_a_full_disk_drops_and_counts_audit_events_and_decisions_go_on(request, e2e_dir, topo, authz_port):
    # Not a skip: a machine where this cannot run is missing what the suite needs.
    namespace = mount_namespace()
    assert namespace, "unshare with a mount namespace is needed to give the spool a small tmpfs"
    cp = ControlPlane(e2e_dir / "disk-full" / "cp").start()
    add_diagnostics(request, "control plane", cp.diagnostics)
    try:
        cp.seed(policies.base_policy())
        wait_port_free(authz_port)
        remit = FollowingRemit(e2e_dir / "disk-full" / "authz", authz_port, cp, cp.issue_key("authorizer"))
        add_diagnostics(request, "following remit", remit.diagnostics)
        remit.state_dir.mkdir(parents=True, exist_ok=True)
        remit.launcher = [*namespace, "sh", "-c",
                          f'mount -t tmpfs -o size={TMPFS_SIZE} tmpfs "$0" && exec "$@"', str(remit.state_dir)]
        remit.start_following()
        try:
            assert_allowed(_call(topo, "get_stock", 0), topo.upstream)
            cp.stop()
            since = remit.mark()
            # Until the spool has filled the file system and events are dropped.
            calls = 0
            deadline = time.monotonic() + 60
            while metric(remit, "remit_audit_events_dropped_total") == 0:
                assert time.monotonic() < deadline, "the spool never filled"
                for _ in range(100):
                    calls += 1
                    tool = "get_stock" if calls % 4 else "delete_inventory"
                    r = _call(topo, tool, calls)
                    assert r.status == (200 if tool == "get_stock" else 403), r.describe()
                time.sleep(1.1)  # the shipper spools what waits once a second
            assert remit.alive(), "the authorizer exited on a full disk"
            dropped = metric(remit, "remit_audit_events_dropped_total")
            warnings = [line for line in remit.log_lines(since)
                        if line.get("message") == "audit spool full or unwritable; events dropped"]
            assert warnings, "dropping events was not logged"
            # Still deciding, correctly, with the disk full.
            topo.upstream.clear()
            assert_allowed(_call(topo, "get_stock", calls + 1), topo.upstream)

            # The control plane returns: what the spool holds is delivered.
            cp.start()

            def spool_delivered():
                _, _, page = cp.api("GET", "/v1/audit/events?agent=checkout-bot&limit=500")
                return len(page["events"]) >= 100

            wait_until(spool_delivered, 30, interval=0.5, what="spooled events delivered after the outage")
            # And new decisions flow again, now that the spool has room.
            mark = remit.mark()
            _call(topo, "delete_inventory", 999_999)
            [line] = [d for d in remit.decisions(mark)]
            new_id = line["decision_id"]

            def new_event_delivered():
                _, _, page = cp.api("GET", "/v1/audit/events?agent=checkout-bot&verdict=deny&limit=50")
                return any(e["decisionId"] == new_id for e in page["events"])

            wait_until(new_event_delivered, 30, interval=0.5, what="a decision after the outage in the audit log")
            print(f"disk full: {calls} calls, {dropped:.0f} events dropped and counted")
        finally:
            remit.stop()
    finally:
        cp.stop()
