"""Evaluation runs recorded for MLflow: the pipeline's parameters with each run (over the
tracker's fake; a real store in the integration contract suite), nothing when tracking is
off, and a clear error when the store fails."""

from __future__ import annotations

import pytest

from ragops.adapters.mlflow_tracker import MlflowTracker, metric_name
from ragops.bootstrap import build_container
from ragops.errors import TrackingUnavailable
from ragops.services.tracking import EXPERIMENT, numeric, track_eval
from ragops.settings import Settings
from tests.fakes import RecordingTracker


def test_metric_names_follow_mlflow_rules():
    assert metric_name("ndcg@10") == "ndcg_at_10"
    assert metric_name("PHONE_NUMBER.recall") == "PHONE_NUMBER.recall"
    assert numeric({"a": 1, "b": {"c": 0.5, "d": "x"}, "e": True}) == {"a": 1.0, "b.c": 0.5}


def test_a_run_holds_the_pipelines_params_and_numeric_metrics(tmp_path):
    tracker = RecordingTracker()
    container = build_container(Settings(data_dir=tmp_path, top_k=7), tracker=tracker)
    report = {"ndcg@10": 0.71, "queries": 5, "mode": "hybrid"}
    tracked = track_eval(
        container.tracker, container.settings, "retrieval", {"split": "train"}, report
    )
    assert tracked["tracking_uri"] == tracker.tracking_uri
    run = tracker.run(tracked["mlflow_run_id"])
    assert run["experiment"] == EXPERIMENT and run["run_name"] == "retrieval"
    assert run["params"]["split"] == "train" and run["params"]["top_k"] == "7"
    assert run["metrics"] == {"ndcg_at_10": 0.71, "queries": 5.0}
    assert run["report"]["mode"] == "hybrid"


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
