"""``ModelRegistry`` on the MLflow model registry: models the product trains itself (the
answer cache's duplicate-question model).

Each ``register`` is a run in the ``ragops-models`` experiment (parameters, metrics, a
curve per step, ``report.json`` and the model's files under ``model/``) and a new version
of the registered model; the version carries its metrics as the tag ``ragops.metrics`` so
that comparing with the champion needs no artifact download. Weights live in the tracking
store's artifacts (a local folder, S3 on AWS), never in git.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ragops.adapters.mlflow_registry import registry_call
from ragops.adapters.mlflow_tracker import MlflowTracker, metric_name
from ragops.domain.pipeline import CHAMPION
from ragops.errors import ObjectNotFound

MODELS_EXPERIMENT = "ragops-models"
METRICS_TAG = "ragops.metrics"


class MlflowModelRegistry:
    def __init__(self, tracker: MlflowTracker) -> None:
        self.tracker = tracker

    _call = staticmethod(registry_call)

    def register(
        self,
        name: str,
        folder: Path,
        params: dict[str, Any],
        metrics: dict[str, float],
        curves: dict[str, list[float]],
        report: dict[str, Any],
    ) -> int:
        from mlflow.entities import Metric

        # The run as every ragops run is logged (params, metrics, report.json), then what a
        # model adds to it: its curves, step by step, and its files.
        run_id = self.tracker.log_run(MODELS_EXPERIMENT, name, params, metrics, report)
        client = self.tracker.client
        points = [
            Metric(metric_name(curve), float(value), 0, step)
            for curve, values in curves.items()
            for step, value in enumerate(values)
        ]
        for start in range(0, len(points), 1000):  # MLflow takes 1,000 metrics a batch
            self._call(
                "log the curves", client.log_batch, run_id, metrics=points[start : start + 1000]
            )
        self._call("store the model", client.log_artifacts, run_id, str(folder), "model")
        run = self._call("read the run", client.get_run, run_id)
        try:
            self._call("read the registered model", client.get_registered_model, name)
        except ObjectNotFound:
            self._call(
                "create the registered model",
                client.create_registered_model,
                name,
                description="trained by ragops (ragops cache train)",
            )
        version = self._call(
            "register the version",
            client.create_model_version,
            name,
            source=f"{run.info.artifact_uri}/model",
            run_id=run_id,
            tags={METRICS_TAG: json.dumps(metrics, sort_keys=True)},
        )
        return int(version.version)

    def champion(self, name: str) -> tuple[int, dict[str, float]] | None:
        client = self.tracker.client
        try:
            self._call("read the registered model", client.get_registered_model, name)
            found = self._call(
                "resolve the champion", client.get_model_version_by_alias, name, CHAMPION
            )
        except ObjectNotFound:
            return None
        return int(found.version), json.loads((found.tags or {}).get(METRICS_TAG) or "{}")

    def set_champion(self, name: str, version: int) -> None:
        client = self.tracker.client
        self._call(
            "set the champion", client.set_registered_model_alias, name, CHAMPION, str(version)
        )
