#!/usr/bin/env python3
"""gRPC Check throughput on loopback: `remit serve` on the SPEC section 13 policy against
`remit bench serve-noop` (the same grpc-swift-2 server stack answering OK without deciding), both
driven by `remit bench load` with the same arguments, alternated for --rounds rounds so drift on a
shared machine hits both. The request is the typical one (scripts/bench-policy.py: MCP tools/call,
1 KiB body, all checks on, allowed); `--expect allow` fails the run if Remit denies it.

    scripts/bench-grpc.sh                                  # 3 rounds of 10 s, 2 connections, 16 in flight
    scripts/bench-grpc.sh --rounds 1 --seconds 1           # the CI smoke form
    scripts/bench-grpc.sh --rate 2000                      # latency at a fixed rate instead of throughput

SPEC section 13 target: Remit's throughput at least 0.8x the no-op server's.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_RATIO = 0.8


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


class Server:
    def __init__(self, argv: list, port: int, log: Path):
        self.argv, self.port, self.log = argv, port, log

    def __enter__(self):
        self.process = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=open(self.log, "a"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.argv[:3]} exited: {self.log.read_text()[-2000:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    time.sleep(0.3)
                    return self
            time.sleep(0.1)
        raise RuntimeError(f"{self.argv[:3]} did not listen")

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=1)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, help="calls per second; leave out for closed loop")
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--binary", type=Path, default=Path(os.environ.get("REMIT_BIN", REPO / ".build-release/release/remit")))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="remit-bench-grpc-") as scratch:
        scratch = Path(scratch)
        subprocess.run(
            [sys.executable, str(REPO / "scripts/bench-policy.py"), "--agents", str(args.agents), "-o",
             str(scratch / "policy.yaml"), "--request-dir", str(scratch / "request")],
            check=True,
        )
        port = free_port()
        configurations = {
            "noop": [str(args.binary), "bench", "serve-noop", "--listen", f"127.0.0.1:{port}"],
            "remit": [str(args.binary), "serve", "--policy", str(scratch / "policy.yaml"),
                      "--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{free_port()}",
                      "--state-dir", str(scratch / "state")],
        }
        load = [str(args.binary), "bench", "load", "--target", f"127.0.0.1:{port}", "--json", "--expect", "allow",
                "--connections", str(args.connections), "--concurrency", str(args.concurrency),
                "--duration", str(args.seconds), "--warmup", str(args.warmup),
                "--request", str(scratch / "request/check-request.json")]
        if args.rate:
            load += ["--rate", str(args.rate)]
        runs = {name: [] for name in configurations}
        for _ in range(args.rounds):
            for name, argv in configurations.items():
                with Server(argv, port, scratch / f"{name}.err"):
                    done = subprocess.run(load, capture_output=True, text=True)
                    if done.returncode != 0:
                        sys.stderr.write(f"remit bench load against {name} failed:\n{done.stdout}{done.stderr}")
                        return 1
                    runs[name].append(json.loads(done.stdout))

    summary = {}
    for name, values in runs.items():
        summary[name] = {"throughput": round(statistics.median(v["throughput"] for v in values), 1)}
        for key in ("mean", "p50", "p90", "p99", "p999"):
            summary[name][key + "_us"] = round(statistics.median(v["latency_us"][key] for v in values), 1)
        summary[name]["calls"] = sum(v["requests"] for v in values)
    ratio = summary["remit"]["throughput"] / summary["noop"]["throughput"]
    result = {"rounds": args.rounds, "seconds": args.seconds, "connections": args.connections,
              "concurrency": args.concurrency, "rate": args.rate, "configurations": summary,
              "throughput_ratio": round(ratio, 2)}
    if args.json:
        print(json.dumps(result))
        return 0
    mode = f"{args.rate:g} calls/s" if args.rate else "closed loop"
    print(f"{args.rounds} rounds x {args.seconds:g} s, {args.connections} connections, {args.concurrency} in flight, "
          f"{mode}; medians over rounds:")
    print(f"{'server':<8}{'calls/s':>10}{'mean':>10}{'p50':>10}{'p90':>10}{'p99':>10}{'p99.9':>10}")
    for name in configurations:
        row = summary[name]
        print(f"{name:<8}{row['throughput']:>10.0f}{row['mean_us']:>8.0f}us{row['p50_us']:>8.0f}us"
              f"{row['p90_us']:>8.0f}us{row['p99_us']:>8.0f}us{row['p999_us']:>8.0f}us")
    if args.rate:
        print("fixed rate: compare latency; the throughput ratio is the offered rate's")
    else:
        verdict = "holds" if ratio >= TARGET_RATIO else "DOES NOT HOLD"
        print(f"throughput remit/noop {ratio:.2f}; target >= {TARGET_RATIO}: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
