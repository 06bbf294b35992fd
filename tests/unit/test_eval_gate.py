"""The evaluation gate's decisions: the baseline a suite run is compared with, the
verdict against the promotion margins, recording the result on a version."""

from __future__ import annotations

import json

import pytest

from ragops.domain.pipeline import PipelineEvaluation, PipelineVersion, PromotionMargins
from ragops.errors import InvalidInput, TrackingUnavailable
from ragops.services.eval_gate import GateBaseline, gate_verdict, load_baseline, record_on_version

REPORT = {"sample": "s1", "metrics": {"ndcg_at_10": 0.80, "groundedness_share": 0.9}}


def champion(ndcg: float, sample: str = "s1") -> PipelineVersion:
    evaluation = PipelineEvaluation("run-c", sample, {"ndcg_at_10": ndcg})
    return PipelineVersion(version=3, config={}, evaluation=evaluation)


def test_a_saved_baseline_must_be_a_suite_output_of_the_same_sample(tmp_path):
    good = tmp_path / "baseline.json"
    good.write_text(json.dumps({"sample": "s1", "metrics": {"ndcg_at_10": 0.8}}))
    assert load_baseline(good, "s1").metrics == {"ndcg_at_10": 0.8}
    with pytest.raises(InvalidInput, match="is for another sample"):
        load_baseline(good, "s2")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(InvalidInput, match="not an `eval suite --json` output"):
        load_baseline(bad, "s1")
    with pytest.raises(InvalidInput, match="not an `eval suite --json` output"):
        load_baseline(tmp_path / "missing.json", "s1")


def test_the_saved_file_wins_over_the_champion(tmp_path):
    saved = PipelineEvaluation("", "s1", {"ndcg_at_10": 0.95})
    chosen = GateBaseline.choose(saved, tmp_path / "b.json", champion(0.5))
    verdict = gate_verdict(REPORT, chosen, PromotionMargins())
    assert verdict["passed"] is False and verdict["baseline_file"].endswith("b.json")
    assert any("ndcg_at_10" in reason for reason in verdict["regressions"])


def test_the_champion_is_compared_only_on_its_own_sample():
    within = gate_verdict(
        REPORT, GateBaseline.choose(None, None, champion(0.805)), PromotionMargins()
    )
    assert within["passed"] is True and within["baseline_version"] == 3
    assert within["baseline_run_id"] == "run-c"
    other = gate_verdict(
        REPORT, GateBaseline.choose(None, None, champion(0.99, "s2")), PromotionMargins()
    )
    assert other["passed"] is True and "another sample" in other["note"]
    alone = gate_verdict(REPORT, GateBaseline.choose(None, None, None), PromotionMargins())
    assert alone == {"baseline_version": None, "passed": True, "note": alone["note"]}


class Registry:
    def __init__(self) -> None:
        self.recorded: dict[int, PipelineEvaluation] = {}

    def record_evaluation(self, version: int, evaluation: PipelineEvaluation) -> None:
        if version != 1:
            raise TrackingUnavailable(f"no pipeline version {version}")
        self.recorded[version] = evaluation


def test_the_result_is_recorded_on_the_version_or_the_failure_named():
    registry = Registry()
    record_on_version(registry, 1, "run-9", REPORT)
    assert registry.recorded[1] == PipelineEvaluation("run-9", "s1", REPORT["metrics"])
    with pytest.raises(InvalidInput, match="could not be recorded on version 7"):
        record_on_version(registry, 7, "run-9", REPORT)
