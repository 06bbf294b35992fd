"""Behaviour suites for the MLOps ports, run against the in-memory fakes the unit tests use
and the real MLflow adapters over a local SQLite store: the ``PipelineRegistry`` (versions,
aliases, the champion's history, evaluations) and the ``ExperimentTracker`` (runs and
their latest). What the services rely on must hold for each; then the end-to-end paths
that need a real store: the API serving the champion's configuration, and runs as MLflow
keeps them (artifacts, the CLI's report)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ragops.adapters.localfs import LocalFsObjectStore
from ragops.adapters.mlflow_registry import MlflowPipelineRegistry
from ragops.adapters.mlflow_tracker import MlflowTracker, local_tracking_uri
from ragops.bootstrap import build_container, champion_reader
from ragops.domain.pipeline import CHALLENGER, CHAMPION, PipelineEvaluation, PromotionMargins
from ragops.entrypoints.api import create_app
from ragops.entrypoints.cli import app
from ragops.errors import ObjectNotFound
from ragops.services.feedback import ab_report
from ragops.services.pipeline import promote_pipeline, register_pipeline
from ragops.services.tracking import EXPERIMENT, track_eval
from ragops.settings import Settings
from tests.fakes import (
    GENERATIVE,
    InMemoryPipelineRegistry,
    RecordingTracker,
    ScriptedChatModel,
)
from tests.unit.test_prompt_ab_report import PLAIN, QUOTE, _experiment

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mlflow_tracker(tmp_path_factory):
    """One SQLite store for the module (creating one migrates a schema: seconds)."""
    folder = tmp_path_factory.mktemp("mlflow")
    return MlflowTracker(local_tracking_uri(folder), artifact_dir=folder / "mlartifacts")


@pytest.fixture(params=["memory", "mlflow"])
def any_registry(request):
    if request.param == "memory":
        return InMemoryPipelineRegistry()
    tracker = request.getfixturevalue("mlflow_tracker")
    return MlflowPipelineRegistry(tracker, f"contract-{request.node.name[:40]}")


@pytest.fixture(params=["memory", "mlflow"])
def any_tracker(request):
    if request.param == "memory":
        return RecordingTracker()
    return request.getfixturevalue("mlflow_tracker")


def test_registry_versions_keep_their_configuration_and_description(any_registry):
    assert any_registry.versions() == [] and any_registry.by_alias(CHAMPION) is None
    first = any_registry.register({"top_k": 3, "fusion_method": "rrf"}, "fewer passages")
    second = any_registry.register({}, "")
    assert (first.version, second.version) == (1, 2)
    assert first.config == {"fusion_method": "rrf", "top_k": 3} and first.aliases == ()
    assert first.description == "fewer passages" and first.created_at.endswith("Z")
    assert [v.version for v in any_registry.versions()] == [1, 2]
    assert any_registry.get(1).config == first.config
    with pytest.raises(ObjectNotFound, match="no pipeline version 9"):
        any_registry.get(9)


def test_registry_aliases_name_one_version_each_and_move(any_registry):
    for _ in range(2):
        any_registry.register({}, "")
    any_registry.set_alias(CHAMPION, 1)
    any_registry.set_alias(CHALLENGER, 2)
    assert any_registry.by_alias(CHAMPION).version == 1
    assert [v.aliases for v in any_registry.versions()] == [(CHAMPION,), (CHALLENGER,)]
    any_registry.set_alias(CHAMPION, 2)  # an alias moves, it is never on two versions
    assert [v.aliases for v in any_registry.versions()] == [(), (CHALLENGER, CHAMPION)]
    assert any_registry.get(2).aliases == (CHALLENGER, CHAMPION)
    any_registry.remove_alias(CHALLENGER)
    any_registry.remove_alias(CHALLENGER)  # removing a missing alias is not an error
    assert any_registry.by_alias(CHALLENGER) is None


def test_registry_keeps_the_champion_history_and_evaluations(any_registry):
    any_registry.register({}, "")
    assert any_registry.champion_history() == []
    any_registry.set_champion_history([1, 3, 2])
    assert any_registry.champion_history() == [1, 3, 2]
    evaluation = PipelineEvaluation("run-1", "sample-a", {"ndcg_at_10": 0.7})
    any_registry.record_evaluation(1, evaluation)
    assert any_registry.get(1).evaluation == evaluation
    any_registry.record_evaluation(1, PipelineEvaluation("run-2", "sample-b", {}))
    assert any_registry.get(1).evaluation.run_id == "run-2"  # the last one counts


def test_tracker_runs_keep_params_as_text_and_numeric_metrics(any_tracker):
    experiment = "ragops-contract"
    assert any_tracker.latest_run(experiment, "cache") is None
    first = any_tracker.log_run(
        experiment,
        "cache",
        {"split": "holdout", "threshold": 0.69},
        {"hit_rate": 0.25, "ndcg@10": 0.7, "queries": 5, "flag": True, "mode": "x"},
        {"report": [1, 2]},
    )
    run_id, metrics, params = any_tracker.latest_run(experiment, "cache")
    assert run_id == first
    assert params == {"split": "holdout", "threshold": "0.69"}
    assert metrics == {"hit_rate": 0.25, "ndcg_at_10": 0.7, "queries": 5.0}
    second = any_tracker.log_run(experiment, "cache", {}, {"hit_rate": 0.3}, {})
    assert any_tracker.latest_run(experiment, "cache")[0] == second != first
    assert any_tracker.latest_run(experiment, "routing") is None
    assert any_tracker.latest_run("no-such-experiment", "cache") is None
    with pytest.raises(ValueError, match="quote"):
        any_tracker.latest_run(experiment, "it's")


# -- end to end over a real store --------------------------------------------------------

MARGINS = PromotionMargins(ndcg_at_10=0.01, groundedness_share=0.02, cost_per_query_usd=0.10)


def test_the_api_serves_the_champion_configuration(tmp_path, embedder, chroma_client):
    settings = Settings(data_dir=tmp_path, min_relevance=0.1, cache="off", **GENERATIVE)
    registry = build_container(settings).pipeline_registry
    assert champion_reader(settings) is None  # no store yet: nothing read, nothing created
    assert not (tmp_path / "mlflow.db").exists()
    register_pipeline(registry, settings, {"prompt_version": "answer-v2-quote", "top_k": 2})
    promote_pipeline(registry, 1, MARGINS, force=True)

    chat = ScriptedChatModel(["Tides follow the Moon [1]."])
    container = build_container(
        settings,
        resolve_champion=True,
        embedder=embedder,
        chroma_client=chroma_client,
        chat_model=chat,
    )
    assert container.settings.prompt_version == "answer-v2-quote"
    assert container.settings.top_k == 2
    client = TestClient(create_app(container))
    served = client.get("/v1/pipeline").json()
    assert served["source"] == "champion" and served["version"] == 1
    assert served["config"]["prompt_version"] == "answer-v2-quote"
    files = [
        ("file", (f"{n}.txt", f"The Moon's gravity pulls tides, note {n}.".encode(), "text/plain"))
        for n in range(4)
    ]
    assert client.post("/v1/documents", files=files).status_code == 201
    answer = client.post("/v1/query", json={"question": "What pulls the tides?"}).json()
    assert answer["prompt"]["version"] == "answer-v2-quote"
    assert len(answer["citations"]) <= 2

    # The settings alone, when told not to read the registry.
    plain = build_container(settings.replaced(pipeline_source="settings"), resolve_champion=True)
    assert plain.settings.prompt_version == "answer-v1"
    assert plain.served_pipeline.source == "settings" and not plain.served_pipeline.degraded


def test_a_run_holds_params_metrics_and_the_report_artifact(tmp_path):
    from mlflow.tracking import MlflowClient

    container = build_container(Settings(data_dir=tmp_path, top_k=7))
    report = {"ndcg@10": 0.71, "queries": 5, "mode": "hybrid"}
    tracked = track_eval(
        container.tracker, container.settings, "retrieval", {"split": "train"}, report
    )
    assert tracked["tracking_uri"] == local_tracking_uri(tmp_path)
    client = MlflowClient(tracked["tracking_uri"])
    run = client.get_run(tracked["mlflow_run_id"])
    assert run.data.params["split"] == "train" and run.data.params["top_k"] == "7"
    assert run.data.metrics == {"ndcg_at_10": 0.71, "queries": 5.0}
    assert client.get_experiment(run.info.experiment_id).name == EXPERIMENT
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["report.json"]
    artifacts = tmp_path / "mlartifacts"
    assert any(p.name == "report.json" for p in artifacts.rglob("*"))


def test_the_ab_report_is_logged_to_mlflow_with_its_scope_and_figures(tmp_path):
    from mlflow.tracking import MlflowClient

    container = build_container(Settings(data_dir=tmp_path))
    _experiment(container.store)
    report = ab_report(container.store, tenant="acme", experiment="exp", since="2025-03-01")
    tracked = track_eval(
        container.tracker, container.settings, "prompts-ab", report.params(), report.to_dict()
    )
    client = MlflowClient(tracked["tracking_uri"])
    run = client.get_run(tracked["mlflow_run_id"])
    assert run.data.params["variants"] == f"exp/{PLAIN},exp/{QUOTE}"
    assert run.data.metrics[f"comparisons.exp/{QUOTE}.difference_points"] == 50.0
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["report.json"]


def test_cli_report_json_carries_the_mlflow_run_and_the_table_states_the_result(
    tmp_path, monkeypatch
):
    from mlflow.tracking import MlflowClient

    for name in ("MLFLOW_TRACKING_URI", "RAGOPS_MLFLOW_TRACKING_URI", "RAGOPS_TRACKING"):
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / "data"
    _experiment(LocalFsObjectStore(Settings(data_dir=data).object_store_dir))
    runner = CliRunner()
    result = runner.invoke(app, ["prompts", "report", "--data-dir", str(data), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["mlflow_run_id"] and body["tracking_uri"].startswith("sqlite:///")
    assert body["variants"][f"exp/{QUOTE}"]["total_cost_usd"] == pytest.approx(0.06)
    assert body["comparisons"][f"exp/{QUOTE}"]["significant"] is True
    run = MlflowClient(body["tracking_uri"]).get_run(body["mlflow_run_id"])
    assert run.data.params["eval"] == "prompts-ab"

    untracked = runner.invoke(
        app, ["prompts", "report", "--data-dir", str(data), "--json", "--no-track"]
    )
    assert untracked.exit_code == 0 and "mlflow_run_id" not in json.loads(untracked.stdout)

    table = runner.invoke(
        app, ["prompts", "report", "--data-dir", str(data), "--no-track", "--experiment", "exp"]
    )
    assert table.exit_code == 0, table.output
    assert f"exp: {QUOTE} vs {PLAIN}: +50.0 points (n=20 vs 20)" in table.stdout
    assert "significant at 5%" in table.stdout and "not significant" not in table.stdout

    empty = runner.invoke(
        app, ["prompts", "report", "--data-dir", str(tmp_path / "none"), "--json"]
    )
    assert empty.exit_code == 0 and "mlflow_run_id" not in json.loads(empty.stdout)


@pytest.fixture(params=["memory", "mlflow"])
def any_model_registry(request):
    from tests.fakes import InMemoryModelRegistry

    if request.param == "memory":
        return InMemoryModelRegistry()
    from ragops.adapters.mlflow_models import MlflowModelRegistry

    return MlflowModelRegistry(request.getfixturevalue("mlflow_tracker"))


def test_model_registry_numbers_versions_and_names_one_champion(any_model_registry, tmp_path):
    registry = any_model_registry
    name = f"model-{abs(hash(str(tmp_path))) % 10**8}"
    (tmp_path / "model.onnx").write_bytes(b"weights")
    assert registry.champion(name) is None
    first = registry.register(
        name, tmp_path, {"epochs": 1.0}, {"holdout_hit_rate": 0.4}, {"loss": [2.0, 1.0]}, {}
    )
    second = registry.register(
        name, tmp_path, {"epochs": 2.0}, {"holdout_hit_rate": 0.5}, {"loss": [1.5]}, {}
    )
    assert (first, second) == (1, 2)
    assert registry.champion(name) is None  # registering promotes nothing
    registry.set_champion(name, first)
    assert registry.champion(name) == (1, {"holdout_hit_rate": 0.4})
    registry.set_champion(name, second)
    assert registry.champion(name) == (2, {"holdout_hit_rate": 0.5})
    with pytest.raises(ObjectNotFound):
        registry.set_champion(name, 9)


def test_mlflow_model_versions_keep_the_files_curve_and_report(mlflow_tracker, tmp_path):
    from pathlib import Path

    from ragops.adapters.mlflow_models import MlflowModelRegistry

    model = tmp_path / "model"
    model.mkdir()
    (model / "model.onnx").write_bytes(b"weights")
    (model / "tokenizer.json").write_text("{}")
    registry = MlflowModelRegistry(mlflow_tracker)
    version = registry.register(
        "files-model",
        model,
        {"seed": 0},
        {"threshold": 0.8},
        {"loss": [3.0, 2.0, 1.0]},
        {"holdout": {"hit_rate": 0.5}},
    )
    client = mlflow_tracker.client
    run_id = client.get_model_version("files-model", str(version)).run_id
    history = sorted(client.get_metric_history(run_id, "loss"), key=lambda m: m.step)
    assert [(m.step, m.value) for m in history] == [(0, 3.0), (1, 2.0), (2, 1.0)]
    downloaded = Path(client.download_artifacts(run_id, "model", str(tmp_path / "out")))
    assert (downloaded / "model.onnx").read_bytes() == b"weights"
    assert sorted(p.name for p in downloaded.iterdir()) == ["model.onnx", "tokenizer.json"]
    report = Path(client.download_artifacts(run_id, "report.json", str(tmp_path / "r")))
    assert json.loads(report.read_text())["holdout"] == {"hit_rate": 0.5}
