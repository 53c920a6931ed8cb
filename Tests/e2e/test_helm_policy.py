"""The remit-authz chart's default policy (authz.policy.inline) is a policy Remit accepts.

Needs the Remit binary (REMIT_BIN): the chart's other tests in test_helm_charts.py need none.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml

from support.remit import binary_or_fail
from test_helm_charts import AUTHZ, objects, one, render


@pytest.mark.remit
def test_chart_default_policy_is_valid(tmp_path):
    binary = binary_or_fail()
    configmap = one(objects(render(AUTHZ, {})), "ConfigMap")
    text = configmap["data"]["policy.yaml"]
    assert yaml.safe_load(text)["settings"]["unmappedIdentity"] == "deny"
    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
    result = subprocess.run(
        [str(binary), "policy", "validate", str(policy)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid (0 agents, 0 missions)" in result.stdout
