"""``ExperimentTracker`` on MLflow: a local SQLite store under the data directory by
default (no server), or any tracking server (``MLFLOW_TRACKING_URI``).

MLflow is imported on first use (it takes a second or two) and never in the functions.
Its telemetry is off.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

from ragops.errors import TrackingUnavailable

_METRIC_NAME = re.compile(r"[^0-9A-Za-z_\-. /]")


def metric_name(name: str) -> str:
    """MLflow's allowed characters: ``ndcg@10`` -> ``ndcg_at_10``."""
    return _METRIC_NAME.sub("_", name.replace("@", "_at_"))


def local_tracking_uri(data_dir: Path) -> str:
    return f"sqlite:///{(Path(data_dir) / 'mlflow.db').resolve()}"


class MlflowTracker:
    """Logs each run with an ``MlflowClient`` (no global MLflow state). ``artifact_dir``
    holds the artifacts of experiments this tracker creates in a local store."""

    def __init__(self, tracking_uri: str, artifact_dir: Path | None = None) -> None:
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        os.environ.setdefault("DO_NOT_TRACK", "true")
        self.tracking_uri = tracking_uri
        self.artifact_dir = artifact_dir
        self._client: Any | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            # MLflow and alembic announce schema work at INFO on stderr; keep the CLI quiet.
            for name in ("mlflow", "alembic"):
                logging.getLogger(name).setLevel(logging.WARNING)
            try:
                from mlflow.tracking import MlflowClient
            except ImportError as exc:
                raise TrackingUnavailable(
                    "experiment tracking needs MLflow: pip install 'ragops[mlops]', "
                    "or pass --no-track"
                ) from exc
            if self.tracking_uri.startswith("sqlite:///"):
                Path(self.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(
                    parents=True, exist_ok=True
                )
            self._client = MlflowClient(tracking_uri=self.tracking_uri)
        return self._client

    def _experiment_id(self, name: str) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        location = self.artifact_dir.resolve().as_uri() + f"/{name}" if self.artifact_dir else None
        return self.client.create_experiment(name, artifact_location=location)

    def log_run(
        self,
        experiment: str,
        run_name: str,
        params: dict[str, Any],
        metrics: dict[str, float],
        report: dict[str, Any],
    ) -> str:
        try:
            from mlflow.entities import Metric, Param

            client = self.client
            run = client.create_run(self._experiment_id(experiment), run_name=run_name)
            run_id = run.info.run_id
            client.log_batch(
                run_id,
                params=[Param(k, str(v)[:6000]) for k, v in sorted(params.items())],
                metrics=[
                    Metric(metric_name(k), float(v), 0, 0)
                    for k, v in sorted(metrics.items())
                    if isinstance(v, int | float) and not isinstance(v, bool)
                ],
            )
            client.log_dict(run_id, report, "report.json")
            client.set_terminated(run_id)
            return run_id
        except TrackingUnavailable:
            raise
        except Exception as exc:  # MLflow raises many types (SQLAlchemy, REST, IO)
            raise TrackingUnavailable(f"MLflow could not record the run: {exc}") from exc

    def latest_run(
        self, experiment: str, run_name: str
    ) -> tuple[str, dict[str, float], dict[str, str]] | None:
        """The most recently started run named ``run_name`` in ``experiment``, as
        ``(run_id, metrics, params)``; None when the local store does not exist (it is not
        created), the experiment does not, or it holds no such run. ``ValueError`` for a
        name with a quote (names are eval kinds: ``cache``, ``routing``...)."""
        if "'" in run_name:
            raise ValueError(f"run name {run_name!r} must not contain a quote")
        if (
            self.tracking_uri.startswith("sqlite:///")
            and not Path(self.tracking_uri.removeprefix("sqlite:///")).is_file()
        ):
            return None
        try:
            client = self.client
            found = client.get_experiment_by_name(experiment)
            if found is None:
                return None
            runs = client.search_runs(
                [found.experiment_id],
                filter_string=f"attributes.run_name = '{run_name}'",
                order_by=["attributes.start_time DESC"],
                max_results=1,
            )
        except TrackingUnavailable:
            raise
        except Exception as exc:  # MLflow raises many types (SQLAlchemy, REST, IO)
            raise TrackingUnavailable(f"MLflow could not read the runs: {exc}") from exc
        if not runs:
            return None
        run = runs[0]
        return run.info.run_id, dict(run.data.metrics), dict(run.data.params)
