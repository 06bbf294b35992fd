"""The evaluation gate's decisions (``ragops eval suite``): which run a suite is compared
with, the comparison against the promotion margins, and recording the evaluation on a
registered version. Running the suite itself is ``services/eval_suite.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragops.domain.pipeline import PipelineEvaluation, PipelineVersion, PromotionMargins, compare
from ragops.errors import InvalidInput, RagopsError
from ragops.ports import PipelineRegistry


def load_baseline(path: Path, sample: str) -> PipelineEvaluation:
    """A saved ``eval suite --json`` output as the baseline. ``InvalidInput`` when the file
    is not one, or was made on another sample than ``sample`` (the fingerprint this run
    will have): runs are comparable only on the same sample."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
        saved = PipelineEvaluation(
            str(loaded.get("mlflow_run_id", "")), loaded["sample"], loaded["metrics"]
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"--baseline {path}: not an `eval suite --json` output") from exc
    if saved.sample != sample:
        raise InvalidInput(
            f"--baseline {path} is for another sample ({saved.sample}, this one is {sample}): "
            "regenerate it with these options"
        )
    return saved


@dataclass(frozen=True)
class GateBaseline:
    """What a suite run is compared with: a saved file's run, else the champion's last
    evaluation (``None`` when there is neither)."""

    evaluation: PipelineEvaluation | None
    version: int | None = None
    file: Path | None = None

    @classmethod
    def choose(
        cls, saved: PipelineEvaluation | None, file: Path | None, champion: PipelineVersion | None
    ) -> GateBaseline:
        if saved is not None:
            return cls(saved, None, file)
        if champion is None:
            return cls(None)
        return cls(champion.evaluation, champion.version)


def gate_verdict(
    report: dict[str, Any], baseline: GateBaseline, margins: PromotionMargins
) -> dict[str, Any]:
    """The gate's verdict on a suite ``report`` (``sample`` and ``metrics``): ``passed``,
    with the regressions beyond ``margins``, or a note saying why nothing was compared."""
    gate: dict[str, Any] = (
        {"baseline_version": None, "baseline_file": str(baseline.file)}
        if baseline.file is not None
        else {"baseline_version": baseline.version}
    )
    evaluation = baseline.evaluation
    if evaluation is None:
        gate.update(passed=True, note="no champion evaluation to compare with")
    elif evaluation.sample != report["sample"]:
        gate.update(passed=True, note="the champion was evaluated on another sample: not compared")
    else:
        comparison = compare(report["metrics"], evaluation.metrics, margins)
        gate.update(comparison.to_dict(), baseline_run_id=evaluation.run_id)
    return gate


def record_on_version(
    registry: PipelineRegistry, version: int, run_id: str, report: dict[str, Any]
) -> None:
    """Keep the suite's result on registered ``version`` (what promotion compares).
    ``InvalidInput`` naming the version when it cannot be recorded."""
    try:
        registry.record_evaluation(
            version, PipelineEvaluation(run_id, report["sample"], report["metrics"])
        )
    except (RagopsError, KeyError) as exc:
        raise InvalidInput(
            f"the evaluation could not be recorded on version {version}: {exc}"
        ) from exc
