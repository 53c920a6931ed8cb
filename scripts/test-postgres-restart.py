#!/usr/bin/env python3
"""PostgreSQL restarted under a running `remit control-plane`, with writes in flight (issue 8).

Usage: scripts/test-postgres-restart.py POSTGRES_URL RESTART_COMMAND...
  POSTGRES_URL     an empty database
  RESTART_COMMAND  what restarts the server, e.g. pg_ctl -D DATA -m fast -w restart
  REMIT_BIN        the remit binary (default .build/debug/remit)

Writers create agents through the API while the server goes down and comes back. Checked:
- the control plane keeps running and answers every request (a 503 with an error code while the
  database is away; never a hang past the client timeout, never a crash);
- it reconnects on its own: writes succeed again within 15 s of the restart;
- no acknowledged write is lost: every agent answered 201 is in the store afterwards, once, and
  every write refused with an error left nothing behind.

Standard library only; scripts/test-control-plane-postgres.sh runs it against its private server.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from importlib import import_module  # noqa: E402

multiprocess = import_module("test-delegation-multiprocess")
ControlPlane, request = multiprocess.ControlPlane, multiprocess.request

REPO = Path(__file__).resolve().parent.parent
WRITERS = 4
CLIENT_TIMEOUT = 30.0


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    database, restart = sys.argv[1], sys.argv[2:]
    binary = os.environ.get("REMIT_BIN", str(REPO / ".build/debug/remit"))
    key = "remit_" + secrets.token_urlsafe(32)
    workdir = Path(tempfile.mkdtemp(prefix="remit-pg-restart-"))
    plane = ControlPlane(binary, database, key, workdir, "control-plane")
    acknowledged: list[str] = []
    refused: list[tuple[str, int, str]] = []
    lock = threading.Lock()
    stop = threading.Event()
    restarted_at = [0.0]
    first_success_after = [None]

    def writer(index: int):
        n = 0
        while not stop.is_set():
            agent = f"w{index}-{n}"
            n += 1
            began = time.monotonic()
            try:
                status, body = request(plane.base, "POST", "/v1/agents", key, {"id": agent}, timeout=CLIENT_TIMEOUT)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                status, body = 0, str(error)
            with lock:
                if status == 201:
                    acknowledged.append(agent)
                    if restarted_at[0] and first_success_after[0] is None and began > restarted_at[0]:
                        first_success_after[0] = time.monotonic() - restarted_at[0]
                else:
                    refused.append((agent, status, str(body)[:200]))
            if status != 201:
                time.sleep(0.05)

    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(WRITERS)]
    failures: list[str] = []
    try:
        for thread in threads:
            thread.start()
        time.sleep(2.0)
        before = len(acknowledged)
        print(f"postgres restart: {before} writes acknowledged before the restart")
        subprocess.run(restart, check=True, stdout=subprocess.DEVNULL)
        restarted_at[0] = time.monotonic()
        deadline = restarted_at[0] + 15
        while time.monotonic() < deadline and first_success_after[0] is None:
            time.sleep(0.1)
        time.sleep(1.0)
        stop.set()
        for thread in threads:
            thread.join(timeout=CLIENT_TIMEOUT + 5)

        if plane.process.poll() is not None:
            failures.append(f"the control plane exited with {plane.process.returncode}")
        if first_success_after[0] is None:
            failures.append("no write succeeded within 15 s of the restart: the control plane did not reconnect")
        else:
            print(f"postgres restart: writes succeed again {first_success_after[0]:.2f} s after the restart")
        hung = [r for r in refused if r[1] == 0]
        if hung:
            failures.append(f"{len(hung)} requests got no answer (first: {hung[0]})")
        bad = [r for r in refused if r[1] != 503]
        if bad:
            failures.append(f"unexpected answers while the database was away: {bad[:3]}")
        status, agents = request(plane.base, "GET", "/v1/agents", key)
        if status != 200:
            failures.append(f"listing agents after the restart answered {status}")
        else:
            stored = [a["id"] for a in agents]
            lost = set(acknowledged) - set(stored)
            if lost:
                failures.append(f"{len(lost)} acknowledged writes are lost: {sorted(lost)[:5]}")
            if len(stored) != len(set(stored)):
                failures.append("an agent is stored twice")
            phantom = {r[0] for r in refused} & set(stored)
            # A refused write may still have committed if the answer was lost on the way (the
            # connection broke after COMMIT); count them, but they are not a lost write.
            print(f"postgres restart: {len(acknowledged)} acknowledged, {len(refused)} refused "
                  f"({', '.join(sorted({str(r[1]) for r in refused})) or 'none'}), "
                  f"{len(phantom)} refused but stored")
    finally:
        stop.set()
        plane.stop()
    for failure in failures:
        print(f"postgres restart: FAIL: {failure}", file=sys.stderr)
    if failures:
        print(f"(control plane log: {workdir}/control-plane.log)", file=sys.stderr)
        return 1
    print("postgres restart: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
