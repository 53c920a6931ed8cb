#!/usr/bin/env python3
"""The benchmark policy of SPEC section 13 as a policy document, for benchmarks outside the process.

It mirrors `Benchmarks/Benchmarks/Fixtures/SamplePolicy.swift` (the in-process benchmarks' policy)
field for field, so numbers through `remit serve`, Envoy or the control plane compare with them:

- N agents (default 1,000) `agent-I` bound to `spiffe://cluster.local/ns/agents/sa/agent-I`, on
  100 missions (`mission-(I % 100)`);
- each mission: MCP grants on `tools/inventory` (tools `get_stock reserve_* send_message
  list_M_* exfil*`, resources `inventory://items/*`, methods `tools/list`), HTTP routes on
  `tools/catalog` (`GET /api/v1/items/*`, `/api/v1/search`), A2A on `agents/*`, egress
  `api.stripe.com` and `*.payments.example.com`;
- 10,000 threat indicators (default) of every type (tool, tool prefix, domain, ip, cidr, url,
  hash: `SampleIndicators.make`, the same values in the same order) with the injection heuristics
  on (`block`);
- every built-in DLP detector on (`block`; `email` and `phone` `log`);
- one AIBOM component.

Python 3 standard library only. The document is written as YAML (default) or JSON.

    python3 scripts/bench-policy.py                         # 1,000 agents, YAML on stdout
    python3 scripts/bench-policy.py --agents 10000 -o /tmp/bench-10k.yaml
    python3 scripts/bench-policy.py --format json -o /tmp/bench.json
    python3 scripts/bench-policy.py -o /tmp/p.yaml --request-dir /tmp/req
    remit policy validate /tmp/p.yaml

`--request-dir DIR` also writes the request this policy ALLOWS, SPEC section 13's typical request
(`SamplePolicy.request` with `SampleBodies.toolCall(.ids, bytes: 1024, dirty: false)`: an MCP
`tools/call` of `reserve_items`, 1,024 bytes, no DLP finding, no indicator, no injection):

- `DIR/tools-call.json`: the 1 KiB JSON-RPC body (the bytes of `SampleBodies.toolCall`);
- `DIR/check-request.json`: an Envoy `CheckRequest` (proto3 JSON, body as `rawBody` as Envoy
  sends it with `pack_as_bytes`) from agent 0 (`--request-agent`) to `tools/inventory`, for
  `remit check --request` or any gRPC client;
- `DIR/request.env`: shell variables (`BENCH_AGENT`, `BENCH_SOURCE_PRINCIPAL`,
  `BENCH_DESTINATION_PRINCIPAL`, `BENCH_HOST`, `BENCH_PATH`, `BENCH_BODY`) for load generators
  that send it through a client sidecar holding agent 0's certificate (`POST /mcp`,
  `content-type: application/json`, `accept: application/json, text/event-stream`).

Through Envoy: the client sidecar presents `spiffe://cluster.local/ns/agents/sa/agent-0` and the
server sidecar `spiffe://cluster.local/ns/tools/sa/inventory`; with `:authority
inventory.tools.svc.cluster.local` that is exactly the request above.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

MASK = (1 << 64) - 1
TRUST_DOMAIN = "cluster.local"
INVENTORY = "spiffe://cluster.local/ns/tools/sa/inventory"
INVENTORY_HOST = "inventory.tools.svc.cluster.local"
MISSIONS = 100

# RemitEngine.DLPDetector.allCases, in declaration order.
DLP_DETECTORS = [
    "credit_card", "us_ssn", "iban", "email", "phone", "aws_access_key", "github_token", "slack_token",
    "stripe_key", "google_api_key", "openai_key", "anthropic_key", "private_key", "jwt", "generic_secret",
]


class SplitMix64:
    """Fixtures.swift's SplitMix64, bit for bit."""

    def __init__(self, seed: int):
        self.state = seed & MASK

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)


def agent_principal(index: int) -> str:
    return f"spiffe://{TRUST_DOMAIN}/ns/agents/sa/agent-{index}"


def indicators(count: int) -> list:
    """SampleIndicators.make(count:): the same values, in the same order."""
    out = [{"type": "tool", "value": "exfiltrate_*"}]
    n = 0
    while len(out) < count:
        kind = n % 7
        if kind == 0:
            out.append({"type": "tool", "value": f"tool_{n}"})
        elif kind == 1:
            out.append({"type": "tool", "value": f"prefix{n}_*"})
        elif kind == 2:
            out.append({"type": "domain", "value": f"bad-{n}.example"})
        elif kind == 3:
            out.append({"type": "ip", "value": f"203.0.113.{n % 250 + 1}"})
        elif kind == 4:
            out.append({"type": "cidr", "value": f"198.51.{n % 200}.0/24"})
        elif kind == 5:
            out.append({"type": "url", "value": f"https://files-{n}.example/payload"})
        else:
            gen = SplitMix64(n)
            out.append({"type": "hash", "value": "".join(format(gen.next(), "x").rjust(16, "0") for _ in range(4))})
        n += 1
    # The ones the lookups hit.
    out.append({"type": "domain", "value": "bad-4711.example"})
    return out


def mission(index: int) -> dict:
    return {
        "id": f"mission-{index}",
        "allow": [
            {
                "to": "tools/inventory",
                "mcp": {
                    # `exfil*` lets a tool the threat feed names past scope, so the threat stage decides.
                    "tools": ["get_stock", "reserve_*", "send_message", f"list_{index}_*", "exfil*"],
                    "resources": ["inventory://items/*"],
                    "methods": ["tools/list"],
                },
            },
            {"to": "tools/catalog", "http": [{"methods": ["GET"], "paths": ["/api/v1/items/*", "/api/v1/search"]}]},
            {"to": "agents/*", "a2a": {"methods": ["message/send", "tasks/*"]}},
        ],
        "egress": ["api.stripe.com", "*.payments.example.com"],
    }


def agent(index: int, missions: int = MISSIONS) -> dict:
    return {
        "id": f"agent-{index}",
        "meshIdentity": {"namespace": "agents", "serviceAccount": f"agent-{index}"},
        "mission": f"mission-{index % missions}",
    }


def document(agents: int = 1000, indicator_count: int = 10000, missions: int = MISSIONS,
             name: str = "bench", version: str = "1") -> dict:
    detectors = {d: "block" for d in DLP_DETECTORS}
    detectors["email"] = "log"
    detectors["phone"] = "log"
    doc = {
        "apiVersion": "remit/v1",
        "kind": "Policy",
        "metadata": {"name": name, "version": version},
        "settings": {
            "trustDomains": [TRUST_DOMAIN],
            "a2aNamespaces": ["agents"],
            "egressGateways": ["istio-system/istio-egressgateway-service-account"],
        },
        "agents": [agent(i, missions) for i in range(agents)],
        "missions": [mission(i) for i in range(missions)],
        "dlp": {"detectors": detectors},
        "threatIntel": {"injection": "block", "indicators": indicators(indicator_count) if indicator_count > 0 else []},
        "aibom": {
            "components": [
                {"to": "tools/inventory", "tool": "reserve_items", "publisher": "acme", "version": "1.2.0", "risk": "low"}
            ]
        },
    }
    return doc


# ------------------------------------------------------------------------------------------
# YAML: flow style per list item (JSON scalars are valid YAML), one item per line.
# ------------------------------------------------------------------------------------------
def _flow(value) -> str:
    return json.dumps(value, separators=(", ", ": "), ensure_ascii=False)


def to_yaml(doc: dict) -> str:
    lines = [
        "# Generated by scripts/bench-policy.py: SPEC section 13's benchmark policy",
        "# (mirrors Benchmarks/Benchmarks/Fixtures/SamplePolicy.swift).",
        f"apiVersion: {doc['apiVersion']}",
        f"kind: {doc['kind']}",
        f"metadata: {_flow(doc['metadata'])}",
        f"settings: {_flow(doc['settings'])}",
        "agents:",
    ]
    lines += [f"  - {_flow(a)}" for a in doc["agents"]]
    if not doc["agents"]:
        lines[-1] = "agents: []"
    lines.append("missions:")
    lines += [f"  - {_flow(m)}" for m in doc["missions"]]
    lines.append(f"dlp: {_flow(doc['dlp'])}")
    lines.append("threatIntel:")
    lines.append(f"  injection: {doc['threatIntel']['injection']}")
    if doc["threatIntel"]["indicators"]:
        lines.append("  indicators:")
        lines += [f"    - {_flow(i)}" for i in doc["threatIntel"]["indicators"]]
    else:
        lines.append("  indicators: []")
    lines.append(f"aibom: {_flow(doc['aibom'])}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------
# The request it allows: SampleBodies.toolCall(.ids, bytes: 1024, dirty: false)
# ------------------------------------------------------------------------------------------
WORDS = [
    "inventory", "reserve", "customer", "shipping", "the", "order", "item", "warehouse", "quantity", "status",
    "pending", "delivered", "Berlin", "Lisbon", "notes", "please", "call", "back", "tomorrow", "priority",
]


def tool_call_body(size: int = 1024, dirty: bool = False) -> bytes:
    """SampleBodies.toolCall(bytes:dirty:) (the `ids` shape), byte for byte."""
    gen = SplitMix64(42)
    text = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"reserve_items","arguments":{"items":['
    index = 0
    while len(text.encode()) < size - 200:
        note = " ".join(WORDS[gen.next() % len(WORDS)] for _ in range(12))
        if dirty and index % 24 == 23:
            note += " card 4111 1111 1111 1111 key AKIAQYLPMN5HHHFPZAM2 mail jane.doe@example.com"
        sku = f"SKU-{gen.next() % 100_000}"
        # Swift evaluates the interpolations left to right: qty, warehouse, eta day, price.
        qty = gen.next() % 50
        warehouse = gen.next() % 9
        day = 10 + gen.next() % 18
        price = gen.next() % 9999
        item = (
            f'{{"sku":"{sku}","qty":{qty},"warehouse":"wh-{warehouse}",'
            f'"eta":"2026-11-{day}T10:00:00Z","price":{price}.99,"note":"{note}"}}'
        )
        text += ("" if index == 0 else ",") + item
        index += 1
    text += "]}}}"
    body = bytearray(text.encode())
    if len(body) < size:
        at = len(body) - 3
        body[at:at] = b" " * (size - len(body))
    return bytes(body)


def check_request(body: bytes, agent_index: int = 0) -> dict:
    """An Envoy CheckRequest as the server sidecar sends it for the request (proto3 JSON)."""
    headers = {
        ":method": "POST",
        ":path": "/mcp",
        ":authority": INVENTORY_HOST,
        ":scheme": "http",
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
        "x-request-id": "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b",
        "user-agent": "agent-sdk/1.0",
        "content-length": str(len(body)),
    }
    return {
        "attributes": {
            "source": {
                "principal": agent_principal(agent_index),
                "address": {"socketAddress": {"address": "127.0.0.1", "portValue": 40000}},
            },
            "destination": {
                "principal": INVENTORY,
                "address": {"socketAddress": {"address": "127.0.0.1", "portValue": 8443}},
            },
            "request": {
                "http": {
                    "id": "1",
                    "method": "POST",
                    "path": "/mcp",
                    "host": INVENTORY_HOST,
                    "scheme": "http",
                    "protocol": "HTTP/1.1",
                    "headers": headers,
                    "rawBody": base64.b64encode(body).decode(),
                    "size": str(len(body)),
                }
            },
        }
    }


def write_request(directory: Path, agent_index: int, size: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    body = tool_call_body(size)
    (directory / "tools-call.json").write_bytes(body)
    (directory / "check-request.json").write_text(json.dumps(check_request(body, agent_index), indent=2) + "\n")
    (directory / "request.env").write_text(
        f"BENCH_AGENT=agent-{agent_index}\n"
        f"BENCH_SOURCE_PRINCIPAL={agent_principal(agent_index)}\n"
        f"BENCH_DESTINATION_PRINCIPAL={INVENTORY}\n"
        f"BENCH_HOST={INVENTORY_HOST}\n"
        "BENCH_PATH=/mcp\n"
        f"BENCH_BODY={directory / 'tools-call.json'}\n"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="SPEC section 13's benchmark policy (mirrors SamplePolicy.swift).")
    parser.add_argument("--agents", type=int, default=1000, help="agents (default 1000)")
    parser.add_argument("--indicators", type=int, default=10000, help="threat indicators (default 10000)")
    parser.add_argument("--missions", type=int, default=MISSIONS, help=f"missions (default {MISSIONS})")
    parser.add_argument("--format", choices=("yaml", "json"), default=None,
                        help="output format (default: json when -o ends in .json, else yaml)")
    parser.add_argument("-o", "--output", help="write the policy here (default stdout)")
    parser.add_argument("--request-dir", help="also write the allowed request (body, CheckRequest, request.env) here")
    parser.add_argument("--request-agent", type=int, default=0, help="the agent of the request (default 0)")
    parser.add_argument("--body-bytes", type=int, default=1024, help="request body size (default 1024)")
    args = parser.parse_args(argv)
    if args.agents < 1 or args.missions < 1 or args.indicators < 0:
        parser.error("--agents and --missions must be at least 1, --indicators at least 0")
    if not 0 <= args.request_agent < args.agents:
        parser.error("--request-agent must name one of the agents")

    doc = document(args.agents, args.indicators, args.missions)
    fmt = args.format or ("json" if args.output and args.output.endswith(".json") else "yaml")
    text = json.dumps(doc, separators=(",", ":")) + "\n" if fmt == "json" else to_yaml(doc)
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    if args.request_dir:
        write_request(Path(args.request_dir), args.request_agent, args.body_bytes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
