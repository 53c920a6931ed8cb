#!/usr/bin/env python3
"""Resident memory of `remit serve` on the SPEC section 13 benchmark policy, idle and under load.

For each agent count: writes the policy with scripts/bench-policy.py, starts `remit serve` on it
(decision log to /dev/null), waits for gRPC health SERVING, reads VmRSS after the load settles
(idle), then sends the typical request (MCP tools/call, 1 KiB, allowed) over gRPC for --seconds
with --concurrency calls in flight (Envoy's own generated Python stubs, xds-protos) and samples
VmRSS and VmHWM throughout. Every response must be an allow; the run fails otherwise.

    scripts/bench-memory.sh                       # 1,000 and 10,000 agents, 20 s of load each
    scripts/bench-memory.sh --agents 100 --seconds 2    # the CI smoke form

SPEC section 13 target: at most 64 MiB resident with 10,000 agents. The verdict is on the process
while serving (idle, under load, after); the high-water mark of the policy compile at start is
printed beside it and is higher (BENCHMARKS.md, "Memory").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO = Path(__file__).resolve().parents[1]
TARGET_MIB = 64


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


def status_kib(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            values[key] = int(rest.split()[0])
    return values


def wait_serving(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"remit serve exited with {process.returncode}")
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
        except grpc.RpcError:
            pass
        time.sleep(0.2)
    raise SystemExit("remit serve did not become SERVING")


async def load(port: int, request, seconds: float, concurrency: int, pid: int) -> dict:
    counts = {"allowed": 0, "denied": 0, "errors": 0}
    peak_rss = 0
    stop = time.monotonic() + seconds
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = external_auth_pb2_grpc.AuthorizationStub(channel)

        async def worker():
            while time.monotonic() < stop:
                try:
                    reply = await stub.Check(request, timeout=5)
                    counts["allowed" if reply.status.code == 0 else "denied"] += 1
                except grpc.RpcError:
                    counts["errors"] += 1

        async def sampler():
            nonlocal peak_rss
            while time.monotonic() < stop:
                peak_rss = max(peak_rss, status_kib(pid)["VmRSS"])
                await asyncio.sleep(0.1)

        await asyncio.gather(sampler(), *(worker() for _ in range(concurrency)))
    counts["peak_rss_kib"] = peak_rss
    return counts


def measure(binary: Path, agents: int, seconds: float, concurrency: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="remit-bench-memory-") as scratch:
        scratch = Path(scratch)
        policy = scratch / "policy.yaml"
        subprocess.run(
            [sys.executable, str(REPO / "scripts/bench-policy.py"), "--agents", str(agents), "-o", str(policy),
             "--request-dir", str(scratch / "request")],
            check=True,
        )
        request = json_format.Parse((scratch / "request/check-request.json").read_text(), external_auth_pb2.CheckRequest())
        port = free_port()
        process = subprocess.Popen(
            [str(binary), "serve", "--policy", str(policy), "--listen", f"127.0.0.1:{port}",
             "--admin-listen", f"127.0.0.1:{free_port()}", "--state-dir", str(scratch / "state")],
            stdout=subprocess.DEVNULL, stderr=open(scratch / "stderr", "w"),
        )
        try:
            wait_serving(port, process)
            time.sleep(1.0)
            idle = status_kib(process.pid)
            counts = asyncio.run(load(port, request, seconds, concurrency, process.pid))
            time.sleep(1.0)
            after = status_kib(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=30)
    return {
        "agents": agents,
        "idle_rss_mib": round(idle["VmRSS"] / 1024, 1),
        # Private heap and stacks vs. pages of the binary and shared libraries it has touched.
        "idle_anon_mib": round(idle["RssAnon"] / 1024, 1),
        "idle_file_mib": round(idle["RssFile"] / 1024, 1),
        "load_peak_rss_mib": round(counts.pop("peak_rss_kib") / 1024, 1),
        "after_load_rss_mib": round(after["VmRSS"] / 1024, 1),
        "hwm_mib": round(after["VmHWM"] / 1024, 1),
        # The high-water mark before any load: the policy compile at start, before serving.
        "startup_hwm_mib": round(idle["VmHWM"] / 1024, 1),
        "requests": counts["allowed"] + counts["denied"] + counts["errors"],
        **counts,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, action="append", help="agent count (repeatable); default 1000 and 10000")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--binary", type=Path, default=Path(os.environ.get("REMIT_BIN", REPO / ".build-release/release/remit")))
    parser.add_argument("--json", action="store_true", help="one JSON object per agent count")
    args = parser.parse_args()
    failed = False
    for agents in args.agents or [1000, 10000]:
        result = measure(args.binary, agents, args.seconds, args.concurrency)
        if result["allowed"] == 0 or result["denied"] or result["errors"]:
            failed = True
        if args.json:
            print(json.dumps(result))
        else:
            # Serving: idle, the samples under load, after it, and the high-water mark if load
            # raised it past the startup one (a peak between samples).
            serving = max(result["idle_rss_mib"], result["load_peak_rss_mib"], result["after_load_rss_mib"],
                          result["hwm_mib"] if result["hwm_mib"] > result["startup_hwm_mib"] else 0)
            verdict = "holds" if serving <= TARGET_MIB else "DOES NOT HOLD"
            print(
                f"{agents:>6} agents: idle {result['idle_rss_mib']} MiB (anonymous {result['idle_anon_mib']}, "
                f"file-backed {result['idle_file_mib']}), under load peak {result['load_peak_rss_mib']} MiB, "
                f"after {result['after_load_rss_mib']} MiB, high-water {result['hwm_mib']} MiB "
                f"(at start, compiling the policy: {result['startup_hwm_mib']} MiB) "
                f"({result['requests']} checks: {result['allowed']} allowed, {result['denied']} denied, "
                f"{result['errors']} errors); target <= {TARGET_MIB} MiB while serving: {verdict}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
