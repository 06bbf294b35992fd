"""The pipeline registry and the evaluation gate from the command line, with the real
local models and a local MLflow store: register, evaluate, promote, refuse a regressing
candidate with the reason, force, roll back."""

from __future__ import annotations

import json

import pytest

from tests.integration.test_cli import ragops
from tests.samples import write_beir, write_squad

pytestmark = pytest.mark.slow


def test_register_evaluate_promote_refuse_and_roll_back(tmp_path):
    data = tmp_path / "data"
    suite = [
        "eval",
        "suite",
        "--dataset",
        str(write_beir(tmp_path / "beir", split="train")),
        "--squad",
        str(write_squad(tmp_path / "squad.json")),
        "--queries",
        "3",
        "--distractors",
        "1",
        "--answers",
        "1",
        "--json",
    ]

    def run(*args, check=True):
        return ragops(*args, data_dir=data, check=check)

    first = json.loads(run("pipeline", "register", "--description", "baseline", "--json").stdout)
    assert first["version"] == 1 and first["aliases"] == ["challenger"]
    unevaluated = run("pipeline", "promote", "1", check=False)
    assert unevaluated.returncode == 1
    assert "promotion refused: version 1 has no evaluation" in unevaluated.stderr

    baseline = json.loads(run(*suite, "--pipeline", "1").stdout)
    assert baseline["gate"]["passed"] and baseline["pipeline_version"] == 1
    assert baseline["metrics"]["answerable_declined_rate"] < 0.5
    assert json.loads(run("pipeline", "promote", "1", "--json").stdout)["champion"] == 1

    # A candidate that declines every question: the gate fails and promotion is refused.
    run("pipeline", "register", "--set", "min_relevance=0.99", "--description", "strict")
    gated = run(*suite, "--pipeline", "2", check=False)
    assert gated.returncode == 1, gated.stderr
    report = json.loads(gated.stdout)
    assert report["gate"]["baseline_version"] == 1 and not report["gate"]["passed"]
    assert any("answerable_declined_rate" in r for r in report["gate"]["regressions"])
    refused = run("pipeline", "promote", "2", check=False)
    assert refused.returncode == 1
    assert "regresses the champion (version 1)" in refused.stderr
    assert "answerable_declined_rate" in refused.stderr

    listed = json.loads(run("pipeline", "list", "--json").stdout)["versions"]
    assert [(v["version"], v["aliases"]) for v in listed] == [
        (1, ["champion"]),
        (2, ["challenger"]),
    ]
    assert listed[1]["config"]["min_relevance"] == 0.99
    assert listed[1]["evaluation"]["run_id"] == report["mlflow_run_id"]

    forced = json.loads(run("pipeline", "promote", "2", "--force", "--json").stdout)
    assert forced == {"champion": 2, "previous": 1, "comparison": None, "forced": True}
    shown = json.loads(run("pipeline", "show", "champion").stdout)
    assert shown["version"] == 2
    rolled = json.loads(run("pipeline", "rollback", "--json").stdout)
    assert rolled == {"champion": 1, "previous": 2}
    assert json.loads(run("pipeline", "show", "champion").stdout)["version"] == 1

    bad = run("pipeline", "register", "--set", "top_k=0", check=False)
    assert bad.returncode == 1 and "top_k" in bad.stderr and "Traceback" not in bad.stderr
    missing = run("pipeline", "promote", "9", check=False)
    assert missing.returncode == 1 and "no pipeline version 9" in missing.stderr
