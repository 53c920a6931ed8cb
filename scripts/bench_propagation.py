#!/usr/bin/env python3
"""Policy propagation: from a control-plane write to the authorizer applying it.

Starts `remit control-plane` (SQLite) and `remit serve --control-plane URL` following it (default
settings: the authorizer long-polls `GET /v1/snapshot?knownVersion=N&waitSeconds=30`, see
docs/authorizer-sync.md), seeds the end-to-end suite's base policy, then --rounds times changes
mission `checkout` through `PUT /v1/missions/checkout` and reads the authorizer's log line
"policy applied from the control plane" for the new version. Reported per round:

- write: from sending the PUT to its response (the control plane committed the change);
- propagation: from the PUT's response to the authorizer's log time of applying that version
  (the log's clock is the same machine's CLOCK_REALTIME, at millisecond resolution).

    scripts/bench-propagation.sh                 # 50 rounds
    scripts/bench-propagation.sh --rounds 3      # the CI smoke form
    scripts/bench-propagation.sh --agents 10000 --rounds 20   # on the SPEC section 13 policy

SPEC section 13 target: a policy change reaches every authorizer in at most 1 s.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "Tests/e2e"))

from support import policies  # noqa: E402
from support.control_plane import ControlPlane, FollowingRemit  # noqa: E402
from support.procs import free_port  # noqa: E402

TARGET_SECONDS = 1.0


def bench_policy_module():
    """scripts/bench-policy.py (a hyphenated file name, so loaded by path)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_policy", REPO / "scripts/bench-policy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def applied_at(remit: FollowingRemit, version: int) -> float:
    for line in remit.log_lines():
        if line.get("message") == "policy applied from the control plane" and int(line.get("policy_version", -1)) == version:
            stamp = datetime.datetime.strptime(line["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
            return stamp.replace(tzinfo=datetime.timezone.utc).timestamp()
    raise RuntimeError(f"no log line for version {version}")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between rounds")
    parser.add_argument("--agents", type=int, default=0,
                        help="load the SPEC section 13 benchmark policy with this many agents (10,000 indicators) "
                             "and change its mission-0; default: the end-to-end suite's small policy and its checkout mission")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="remit-bench-propagation-") as scratch:
        scratch = Path(scratch)
        control_plane = ControlPlane(scratch / "control-plane").start()
        remit = None
        try:
            if args.agents > 0:
                document = bench_policy_module().document(args.agents)
                _, headers, _ = control_plane.api("PUT", "/v1/policy", document)
                version = int(headers["remit-policy-version"])
                changed = "mission-0"
            else:
                version = control_plane.seed(policies.base_policy())
                changed = "checkout"
            remit = FollowingRemit(scratch / "authorizer", free_port(), control_plane,
                                   control_plane.issue_key("authorizer"))
            remit.start_following()
            remit.wait_applied(version, timeout=60)
            writes, propagations = [], []
            for round_number in range(args.rounds):
                _, _, mission = control_plane.api("GET", f"/v1/missions/{changed}")
                tools = mission["allow"][0]["mcp"]["tools"]
                mission["allow"][0]["mcp"]["tools"] = tools[:-1] if len(tools) > 1 else tools + ["bench_tool_*"]
                sent = time.time()
                _, headers, _ = control_plane.api("PUT", f"/v1/missions/{changed}", mission)
                acknowledged = time.time()
                version = int(headers["remit-policy-version"])
                remit.wait_applied(version, timeout=10)
                applied = applied_at(remit, version)
                writes.append(acknowledged - sent)
                # Millisecond log stamps can fall just before the client's clock read.
                propagations.append(max(0.0, applied - acknowledged))
                time.sleep(args.pause)
        finally:
            if remit is not None:
                remit.stop()
            control_plane.stop()

    result = {
        "rounds": args.rounds,
        "agents": args.agents or len(policies.base_policy().get("agents", [])),
        "write_ms_median": round(statistics.median(writes) * 1000, 1),
        "propagation_ms_min": round(min(propagations) * 1000, 1),
        "propagation_ms_median": round(statistics.median(propagations) * 1000, 1),
        "propagation_ms_p99": round(percentile(propagations, 0.99) * 1000, 1),
        "propagation_ms_max": round(max(propagations) * 1000, 1),
    }
    if args.json:
        print(json.dumps(result))
    else:
        verdict = "holds" if result["propagation_ms_max"] <= TARGET_SECONDS * 1000 else "DOES NOT HOLD"
        print(
            f"{args.rounds} changes on a {result['agents']}-agent policy: write (PUT to response) median {result['write_ms_median']} ms; "
            f"propagation (response to applied) min {result['propagation_ms_min']} ms, median "
            f"{result['propagation_ms_median']} ms, p99 {result['propagation_ms_p99']} ms, max "
            f"{result['propagation_ms_max']} ms; target <= 1000 ms: {verdict}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
