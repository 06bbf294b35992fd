"""``PipelineRegistry`` on the MLflow model registry, and a read-only champion reader for
the functions, which carry no MLflow (it would not fit a Lambda package).

Each pipeline version is a version of one registered model (``ragops-pipeline``): a run
in the ``ragops-pipelines`` experiment holds the configuration as params and as
``pipeline/config.json``; the model version holds it as the tag ``ragops.config`` too, so
resolving the champion is one registry call (no artifact download at cold start). The
last evaluation of a version is the tag ``ragops.eval``; the champion's history, for
rollback, is the registered model's tag ``ragops.champion_history``.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from ragops.adapters.mlflow_tracker import MlflowTracker
from ragops.domain.pipeline import PipelineEvaluation, PipelineVersion
from ragops.errors import ObjectNotFound, TrackingUnavailable

PIPELINE_EXPERIMENT = "ragops-pipelines"
DEFAULT_MODEL_NAME = "ragops-pipeline"
CONFIG_TAG = "ragops.config"
EVAL_TAG = "ragops.eval"
HISTORY_TAG = "ragops.champion_history"
_MISSING = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


def registry_call(action: str, function: Any, *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` with MLflow's errors as ``ObjectNotFound`` (not found)
    or ``TrackingUnavailable`` (anything else)."""
    try:
        return function(*args, **kwargs)
    except TrackingUnavailable:
        raise
    except Exception as exc:  # MLflow raises many types (SQLAlchemy, REST, IO)
        if getattr(exc, "error_code", None) in _MISSING:
            raise ObjectNotFound(f"{action}: {exc}") from exc
        raise TrackingUnavailable(f"the MLflow registry could not {action}: {exc}") from exc


def _version_from(
    version: Any, tags: dict[str, str], aliases: list[str], created_ms: Any, description: str
) -> PipelineVersion:
    """A registry version (SDK object or REST JSON, already unpacked) as the domain's."""
    evaluation = None
    if tags.get(EVAL_TAG):
        data = json.loads(tags[EVAL_TAG])
        evaluation = PipelineEvaluation(data["run_id"], data["sample"], data["metrics"])
    created = ""
    if created_ms:
        created = datetime.datetime.fromtimestamp(int(created_ms) / 1000, datetime.UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
    return PipelineVersion(
        version=int(version),
        config=json.loads(tags.get(CONFIG_TAG) or "{}"),
        aliases=tuple(sorted(aliases)),
        description=description or "",
        created_at=created,
        evaluation=evaluation,
    )


class MlflowPipelineRegistry:
    """The registry through an ``MlflowClient`` (the tracker's: same store, same lazy
    import). Every MLflow failure other than "not found" is ``TrackingUnavailable``."""

    def __init__(self, tracker: MlflowTracker, model_name: str = DEFAULT_MODEL_NAME) -> None:
        self.tracker = tracker
        self.model_name = model_name

    @property
    def tracking_uri(self) -> str:
        return self.tracker.tracking_uri

    def _call(self, action: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        return registry_call(action, function, *args, **kwargs)

    def _model(self) -> Any | None:
        client = self.tracker.client
        found = self._call(
            "list models",
            client.search_registered_models,
            filter_string=f"name='{self.model_name}'",
        )
        return found[0] if found else None

    def _aliases(self) -> dict[int, list[str]]:
        model = self._model()
        by_version: dict[int, list[str]] = {}
        for alias, version in (model.aliases if model else {}).items():
            by_version.setdefault(int(version), []).append(alias)
        return by_version

    def _domain(self, version: Any, aliases: list[str] | None = None) -> PipelineVersion:
        return _version_from(
            version.version,
            dict(version.tags or {}),
            list(aliases if aliases is not None else version.aliases or []),
            version.creation_timestamp,
            version.description,
        )

    def register(self, config: dict[str, Any], description: str) -> PipelineVersion:
        from mlflow.entities import Param

        client = self.tracker.client
        experiment = self._call(
            "create the experiment", self.tracker._experiment_id, PIPELINE_EXPERIMENT
        )
        run = self._call("start a run", client.create_run, experiment, run_name="pipeline")
        run_id = run.info.run_id
        params = [Param(k, json.dumps(v)[:6000]) for k, v in sorted(config.items())]
        self._call("log the configuration", client.log_batch, run_id, params=params)
        self._call(
            "store the configuration", client.log_dict, run_id, config, "pipeline/config.json"
        )
        self._call("finish the run", client.set_terminated, run_id)
        if self._model() is None:
            self._call(
                "create the registered model",
                client.create_registered_model,
                self.model_name,
                description="ragops pipeline configurations (ragops pipeline register)",
            )
        version = self._call(
            "register the version",
            client.create_model_version,
            self.model_name,
            source=f"{run.info.artifact_uri}/pipeline",
            run_id=run_id,
            tags={CONFIG_TAG: json.dumps(config, sort_keys=True)},
            description=description,
        )
        return self._domain(version, [])

    def versions(self) -> list[PipelineVersion]:
        if self._model() is None:
            return []
        client = self.tracker.client
        found = self._call(
            "list versions", client.search_model_versions, f"name='{self.model_name}'"
        )
        aliases = self._aliases()
        listed = [self._domain(v, aliases.get(int(v.version), [])) for v in found]
        return sorted(listed, key=lambda v: v.version)

    def get(self, version: int) -> PipelineVersion:
        client = self.tracker.client
        try:
            found = self._call(
                f"read version {version}", client.get_model_version, self.model_name, str(version)
            )
        except ObjectNotFound as exc:
            raise ObjectNotFound(f"no pipeline version {version}") from exc
        return self._domain(found, self._aliases().get(int(version), []))

    def by_alias(self, alias: str) -> PipelineVersion | None:
        if self._model() is None:
            return None
        client = self.tracker.client
        try:
            found = self._call(
                f"resolve {alias}", client.get_model_version_by_alias, self.model_name, alias
            )
        except ObjectNotFound:
            return None
        return self._domain(found)

    def set_alias(self, alias: str, version: int) -> None:
        client = self.tracker.client
        self._call(
            f"set {alias}",
            client.set_registered_model_alias,
            self.model_name,
            alias,
            str(version),
        )

    def remove_alias(self, alias: str) -> None:
        client = self.tracker.client
        with contextlib.suppress(ObjectNotFound):
            self._call(
                f"remove {alias}", client.delete_registered_model_alias, self.model_name, alias
            )

    def champion_history(self) -> list[int]:
        model = self._model()
        raw = (model.tags or {}).get(HISTORY_TAG) if model else None
        return [int(v) for v in json.loads(raw)] if raw else []

    def set_champion_history(self, versions: list[int]) -> None:
        client = self.tracker.client
        self._call(
            "record the champion history",
            client.set_registered_model_tag,
            self.model_name,
            HISTORY_TAG,
            json.dumps(versions[-200:]),  # a tag holds 5000 characters
        )

    def record_evaluation(self, version: int, evaluation: PipelineEvaluation) -> None:
        client = self.tracker.client
        self._call(
            f"record the evaluation of version {version}",
            client.set_model_version_tag,
            self.model_name,
            str(version),
            EVAL_TAG,
            json.dumps(evaluation.to_dict(), sort_keys=True),
        )


class MlflowRestChampion:
    """Reads the champion from an MLflow tracking server over its REST API, with the
    standard library only (the functions resolve it at cold start). A bearer token comes
    from ``MLFLOW_TRACKING_TOKEN`` when set, as MLflow's own client does."""

    def __init__(
        self, tracking_uri: str, model_name: str = DEFAULT_MODEL_NAME, timeout: float = 5.0
    ) -> None:
        self.tracking_uri = tracking_uri.rstrip("/")
        self.model_name = model_name
        self.timeout = timeout

    def by_alias(self, alias: str) -> PipelineVersion | None:
        query = urllib.parse.urlencode({"name": self.model_name, "alias": alias})
        url = f"{self.tracking_uri}/api/2.0/mlflow/registered-models/alias?{query}"
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                code = json.loads(exc.read()).get("error_code")
            except (ValueError, OSError):
                code = None
            if exc.code == 404 or code in _MISSING:
                return None
            raise TrackingUnavailable(f"MLflow answered {exc.code} for the {alias}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise TrackingUnavailable(f"MLflow at {self.tracking_uri}: {exc}") from exc
        version = body.get("model_version") or {}
        tags = {t["key"]: t["value"] for t in version.get("tags", [])}
        return _version_from(
            version.get("version", 0),
            tags,
            list(version.get("aliases", [])),
            version.get("creation_timestamp"),
            version.get("description", ""),
        )
