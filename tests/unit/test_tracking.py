"""Evaluation runs recorded in MLflow: a local SQLite store by default, the pipeline's
parameters with each run, and a clear error when the store fails."""

from __future__ import annotations

import pytest

from ragops.adapters.mlflow_tracker import MlflowTracker, local_tracking_uri, metric_name
from ragops.bootstrap import build_container
from ragops.errors import TrackingUnavailable
from ragops.services.tracking import EXPERIMENT, numeric, track_eval
from ragops.settings import Settings


def test_metric_names_follow_mlflow_rules():
    assert metric_name("ndcg@10") == "ndcg_at_10"
    assert metric_name("PHONE_NUMBER.recall") == "PHONE_NUMBER.recall"
    assert numeric({"a": 1, "b": {"c": 0.5, "d": "x"}, "e": True}) == {"a": 1.0, "b.c": 0.5}


def test_a_run_holds_params_metrics_and_the_report(tmp_path):
    container = build_container(Settings(data_dir=tmp_path, top_k=7))
    report = {"ndcg@10": 0.71, "queries": 5, "mode": "hybrid"}
    tracked = track_eval(
        container.tracker, container.settings, "retrieval", {"split": "train"}, report
    )
    assert tracked["tracking_uri"] == local_tracking_uri(tmp_path)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracked["tracking_uri"])
    run = client.get_run(tracked["mlflow_run_id"])
    assert run.data.params["split"] == "train" and run.data.params["top_k"] == "7"
    assert run.data.metrics == {"ndcg_at_10": 0.71, "queries": 5.0}
    assert client.get_experiment(run.info.experiment_id).name == EXPERIMENT
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["report.json"]
    artifacts = tmp_path / "mlartifacts"
    assert any(p.name == "report.json" for p in artifacts.rglob("*"))


def test_runs_that_differ_in_any_pipeline_setting_differ_in_their_params(tmp_path):
    from ragops.domain.pipeline import PIPELINE_FIELDS
    from ragops.services.tracking import pipeline_params

    base = Settings(data_dir=tmp_path)
    params = pipeline_params(base)
    assert set(PIPELINE_FIELDS) <= set(params)
    for change in (
        {"temperature": 0.7},
        {"max_answer_tokens": 64},
        {"cache_semantic": not base.cache_semantic},
        {"groundedness_check": not base.groundedness_check},
        {"prompt_experiment": "answer-v1,answer-v2-quote"},
    ):
        assert pipeline_params(base.model_copy(update=change)) != params, change


def test_tracking_off_records_nothing(tmp_path):
    container = build_container(Settings(data_dir=tmp_path, tracking="off"))
    assert track_eval(container.tracker, container.settings, "pii", {}, {"x": 1}) == {}
    assert not (tmp_path / "mlflow.db").exists()


def test_a_store_that_cannot_be_written_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    tracker = MlflowTracker(f"sqlite:///{blocker / 'mlflow.db'}")
    with pytest.raises(TrackingUnavailable):
        tracker.log_run("x", "y", {}, {}, {})
