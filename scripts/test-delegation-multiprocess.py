#!/usr/bin/env python3
"""Two `remit control-plane` processes on ONE PostgreSQL database, many parallel delegation hops on
one chain split across both: no edge may be lost and no cycle may be missed (SPEC sections 6, 10).

Usage: scripts/test-delegation-multiprocess.py POSTGRES_URL
  POSTGRES_URL  an empty database, e.g. postgres://remit@127.0.0.1:55432/remit_mp?sslmode=disable
  REMIT_BIN     the remit binary (default .build/debug/remit)

Standard library only. scripts/test-control-plane-postgres.sh runs it against its private server.
The tree is built level by level: every new agent is claimed at the same moment by three members,
the claims spread over both processes, while the new agent also calls back up the tree. Exactly
one claim may be recorded and the others must be refused as cycles; the callbacks must be refused.
Then every member calls the root and an ancestor at once: all cycles. Finally both processes must
show the same tree, holding every recorded edge and no member twice.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHAIN = "multi-process-chain"
NODES = 120
WORKERS = 24


_HANDED_OUT: set = set()


def free_port() -> int:
    """A free port on 127.0.0.1 that this run has not handed out before (the kernel may repeat one)."""
    import socket

    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def request(base: str, method: str, path: str, key: str, body=None, timeout: float = 30.0):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


class ControlPlane:
    def __init__(self, binary: str, database: str, key: str, workdir: Path, name: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(workdir / f"{name}.log", "wb")
        env = {**os.environ, "REMIT_BOOTSTRAP_ADMIN_KEY": key}
        self.process = subprocess.Popen(
            [binary, "control-plane", "--listen", f"127.0.0.1:{self.port}", "--database", database],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=workdir)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{name} exited with {self.process.returncode}; see {self.log.name}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"{name} did not become healthy; see {self.log.name}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    database = sys.argv[1]
    binary = os.environ.get("REMIT_BIN") or str(REPO / ".build/debug/remit")
    if not os.access(binary, os.X_OK):
        print(f"multi-process: no remit binary at {binary} (set REMIT_BIN)", file=sys.stderr)
        return 2
    key = "remit_" + secrets.token_urlsafe(32)
    workdir = Path(tempfile.mkdtemp(prefix="remit-mp."))
    problems: list[str] = []
    # One after the other: the first migrates and bootstraps the tenant, the second finds it.
    planes = [ControlPlane(binary, database, key, workdir, "control-plane-1")]
    try:
        planes.append(ControlPlane(binary, database, key, workdir, "control-plane-2"))

        def hop(index: int, caller: str, callee: str | None) -> tuple[str, str | None, str]:
            body = {"chainId": CHAIN, "caller": caller, "callee": callee, "maxDepth": 32, "ttlSeconds": 3600}
            status, answer = request(planes[index % 2].base, "POST", "/v1/delegations/hops", key, body)
            if status != 200:
                return caller, callee, f"HTTP {status}: {answer}"
            return caller, callee, answer["outcome"]

        first = hop(0, "n0", None)
        if first[2] != "member":
            problems.append(f"the root's first call: {first}")
        members = ["n0"]
        parent_of: dict[str, str] = {}
        calls = 0
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            next_node = 1
            while next_node <= NODES:
                wave = [f"n{i}" for i in range(next_node, min(next_node + 24, NODES + 1))]
                next_node += len(wave)
                jobs = []
                for offset, node in enumerate(wave):
                    claimants = {members[(offset + k * 7) % len(members)] for k in range(3)}
                    for k, caller in enumerate(sorted(claimants)):
                        jobs.append(pool.submit(hop, offset + k, caller, node))
                    # The new agent calls back up: unknown before it joined, a cycle after.
                    jobs.append(pool.submit(hop, offset + 1, node, members[offset % len(members)]))
                results = [job.result() for job in jobs]
                calls += len(results)
                for node in wave:
                    claims = [r for r in results if r[1] == node]
                    winners = [r for r in claims if r[2] == "recorded"]
                    if len(winners) != 1:
                        problems.append(f"{node}: {len(winners)} claims recorded: {claims}")
                    problems += [f"{node}: claim {r}" for r in claims if r[2] not in ("recorded", "cycle")]
                    if winners:
                        parent_of[node] = winners[0][0]
                    back = [r for r in results if r[0] == node]
                    problems += [f"{node}: callback {r}" for r in back if r[2] not in ("unknown_member", "cycle")]
                members += wave

            def ancestors(node: str) -> list[str]:
                path = []
                while node in parent_of:
                    node = parent_of[node]
                    path.append(node)
                return path

            jobs = []
            for index, member in enumerate(members[1:]):
                jobs.append(pool.submit(hop, index, member, "n0"))
                above = ancestors(member) or ["n0"]
                jobs.append(pool.submit(hop, index + 1, member, above[-1 if index % 2 else 0]))
                jobs.append(pool.submit(hop, index, member, member))
            final = [job.result() for job in jobs]
            calls += len(final)
            problems += [f"cycle attempt {r}" for r in final if r[2] != "cycle"]

        trees = []
        for plane in planes:
            status, chain = request(plane.base, "GET", f"/v1/delegations/chains/{CHAIN}", key)
            if status != 200:
                problems.append(f"GET chain from {plane.base}: HTTP {status} {chain}")
                continue
            trees.append(chain["members"])
        if len(trees) == 2 and trees[0] != trees[1]:
            problems.append("the two processes show different trees")
        if trees:
            tree = trees[0]
            agents = [m["agent"] for m in tree]
            if len(agents) != len(set(agents)):
                problems.append("a member appears twice")
            if set(agents) != set(members):
                problems.append(f"members differ: missing {set(members) - set(agents)}, extra {set(agents) - set(members)}")
            parents = {m["agent"]: m["parent"] for m in tree}
            lost = [(p, c) for c, p in parent_of.items() if parents.get(c) != p]
            if lost:
                problems.append(f"recorded edges not stored with their parent: {lost[:10]}")
        print(f"multi-process: {calls} hops on one chain through 2 control planes, {len(members)} members")
    finally:
        for plane in planes:
            plane.stop()
    if problems:
        for problem in problems[:40]:
            print(f"multi-process: FAIL {problem}", file=sys.stderr)
        print(f"multi-process: {len(problems)} problems; logs in {workdir}", file=sys.stderr)
        return 1
    print("multi-process: passed (no lost edge, no missed cycle)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
