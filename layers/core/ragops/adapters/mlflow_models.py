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
import time
from pathlib import Path
from typing import Any

from ragops.adapters.mlflow_registry import registry_call
from ragops.adapters.mlflow_tracker import MlflowTracker, metric_name
from ragops.errors import ObjectNotFound

MODELS_EXPERIMENT = "ragops-models"
METRICS_TAG = "ragops.metrics"
CHAMPION = "champion"


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
        from mlflow.entities import Metric, Param

        client = self.tracker.client
        experiment = self._call(
            "create the experiment", self.tracker._experiment_id, MODELS_EXPERIMENT
        )
        run = self._call("start a run", client.create_run, experiment, run_name=name)
        run_id = run.info.run_id
        now = int(time.time() * 1000)
        logged = [Metric(metric_name(k), float(v), now, 0) for k, v in sorted(metrics.items())]
        for curve, values in curves.items():
            logged += [Metric(metric_name(curve), float(v), now, i) for i, v in enumerate(values)]
        self._call(
            "log the parameters",
            client.log_batch,
            run_id,
            params=[Param(k, str(v)[:6000]) for k, v in sorted(params.items())],
        )
        for start in range(0, len(logged), 1000):  # MLflow takes 1,000 metrics a batch
            self._call(
                "log the metrics", client.log_batch, run_id, metrics=logged[start : start + 1000]
            )
        self._call("store the report", client.log_dict, run_id, report, "report.json")
        self._call("store the model", client.log_artifacts, run_id, str(folder), "model")
        self._call("finish the run", client.set_terminated, run_id)
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
