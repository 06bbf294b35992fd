"""Recording evaluation runs: the pipeline configuration they ran with, their metrics and
report, in the experiment tracker (MLflow). Every ``ragops eval`` command calls
``track_eval`` unless told ``--no-track``."""

from __future__ import annotations

from typing import Any

from ragops.ports import ExperimentTracker
from ragops.services.pipeline import pipeline_config
from ragops.settings import Settings

EXPERIMENT = "ragops-eval"


def pipeline_params(settings: Settings) -> dict[str, Any]:
    """A run's parameters: the pipeline configuration exactly as the registry keeps it
    (``services.pipeline.pipeline_config``, every field of ``PIPELINE_FIELDS``), so two
    runs that differ in any pipeline setting differ in their parameters; and whether the
    answer cache was on."""
    return {**pipeline_config(settings), "cache": settings.cache}


def numeric(report: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The report's numbers, nested keys joined with dots."""
    found: dict[str, float] = {}
    for key, value in report.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            found.update(numeric(value, f"{name}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            found[name] = float(value)
    return found


def track_eval(
    tracker: ExperimentTracker | None,
    settings: Settings,
    kind: str,
    params: dict[str, Any],
    report: dict[str, Any],
) -> dict[str, str]:
    """Log one evaluation run with ``settings``' pipeline configuration; returns
    ``{"mlflow_run_id", "tracking_uri"}``, or {} when tracking is off (no ``tracker``).
    Raises ``TrackingUnavailable`` if the store fails."""
    if tracker is None:
        return {}
    run_id = tracker.log_run(
        EXPERIMENT,
        kind,
        {**pipeline_params(settings), **params, "eval": kind},
        numeric(report),
        report,
    )
    return {"mlflow_run_id": run_id, "tracking_uri": tracker.tracking_uri}
