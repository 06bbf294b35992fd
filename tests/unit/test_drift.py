"""Query drift: the statistics, the question files, the live monitor and its gauges, the
query path's hook, and `ragops monitor drift`."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from ragops.adapters.metrics import CloudWatchMetrics, NullMetrics, PrometheusMetrics
from ragops.bootstrap import build_container
from ragops.domain.drift import (
    MIN_WINDOW,
    compare_windows,
    embedding_drift,
    ks_statistic,
    similarity_drift,
)
from ragops.entrypoints import cli
from ragops.errors import ConfigurationError, InvalidInput
from ragops.services.answering import answer_question
from ragops.services.drift import DriftMonitor, load_questions, measure_drift
from ragops.settings import Settings
from tests.fakes import HashingEmbedder, RecordingMetrics, ScriptedChatModel, fill_index

# Two "domains" of questions for the hashing embedder: each question is words of one
# topic, so questions of a topic share words (and embedding directions), the topics none.
TOPICS = {
    "geology": "glacier valley river delta sediment volcano lava ash erosion rock basalt "
    "granite canyon cliff moraine quartz mineral crust mantle magma fault quake tide coast",
    "cooking": "recipe oven flour butter sugar garlic onion pepper salt simmer boil roast "
    "bake knife pan sauce pasta bread yeast dough cheese tomato basil lemon olive",
}


def questions(topic: str, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words = TOPICS[topic].split()
    return [" ".join(rng.sample(words, 6)) + "?" for _ in range(count)]


def embed(texts: list[str]) -> np.ndarray:
    return HashingEmbedder().embed_array(texts)


# -- the statistics ----------------------------------------------------------------------
def test_same_distribution_is_not_flagged():
    report = compare_windows(
        embed(questions("geology", 150, 1)), embed(questions("geology", 150, 2))
    )
    assert report.drift is False
    assert report.threshold == 1.0 and 0.0 <= report.score < 1.0
    part = report.details["embedding"]
    assert part["statistic"] == "mmd2" and part["value"] < part["threshold"]
    assert report.details["top1_similarity"] == {
        "used": False,
        "reason": "no retrieval similarities were given",
    }


def test_another_domain_is_flagged_with_a_small_p_value():
    report = compare_windows(
        embed(questions("geology", 150, 1)), embed(questions("cooking", 150, 2))
    )
    assert report.drift is True and report.score > 1.0
    part = report.details["embedding"]
    assert part["drift"] is True and part["p_value"] < 0.01
    assert part["threshold"] == max(part["floor"], part["critical_value"])
    assert report.details["reference_size"] == report.details["current_size"] == 150


def test_a_shift_only_in_passage_similarity_is_flagged_by_that_part():
    rows = embed(questions("geology", 120, 1))
    rng = np.random.default_rng(0)
    found, lost = rng.uniform(0.5, 0.8, 120), rng.uniform(0.1, 0.3, 120)
    report = compare_windows(rows, rows, list(found), list(lost))
    assert report.details["embedding"]["drift"] is False
    similarity = report.details["top1_similarity"]
    assert similarity["used"] and similarity["drift"] and similarity["value"] == 1.0
    assert report.drift and report.score == similarity["ratio"]
    steady = compare_windows(rows, rows, list(found), list(rng.uniform(0.5, 0.8, 120)))
    assert not steady.drift


def test_similarities_are_left_out_when_too_few_questions_found_a_passage():
    rows = embed(questions("geology", 120, 1))
    report = compare_windows(rows, rows, [0.5] * 120, [0.5] * 50 + [None] * 70)
    assert report.details["top1_similarity"]["used"] is False
    assert "fewer than 100" in report.details["top1_similarity"]["reason"]


@pytest.mark.parametrize(
    ("reference", "current", "which"), [(99, 150, "reference"), (150, 20, "current")]
)
def test_windows_below_the_minimum_are_refused(reference, current, which):
    with pytest.raises(InvalidInput, match=f"the {which} window has .* at least {MIN_WINDOW}"):
        compare_windows(
            embed(questions("geology", reference, 1)), embed(questions("geology", current, 2))
        )


def test_windows_of_different_embedders_are_refused():
    with pytest.raises(InvalidInput, match="differ in size"):
        embedding_drift(np.ones((120, 8)), np.ones((120, 16)))


def test_ks_statistic_and_its_threshold():
    assert ks_statistic([0.1, 0.2, 0.3], [0.1, 0.2, 0.3]) == 0.0
    assert ks_statistic([0.1, 0.2], [0.7, 0.8]) == 1.0
    part = similarity_drift([0.5] * 100, [0.5] * 100)
    assert part["value"] == 0.0 and not part["drift"] and part["p_value"] == 1.0
    # The floor governs at these sizes; Smirnov's bound would at small ones.
    assert part["threshold"] == part["floor"] > part["critical_value"]


def test_the_score_is_stable_across_seeds():
    reference, current = embed(questions("geology", 200, 1)), embed(questions("cooking", 200, 2))
    scores = {compare_windows(reference, current, seed=s).score for s in range(3)}
    assert len(scores) == 1  # the statistic does not depend on the permutations


# -- question files ----------------------------------------------------------------------
def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_question_files_are_json_lines_with_text(tmp_path):
    path = write_lines(tmp_path / "q.jsonl", ['{"text": " a? ", "id": 1}', "", '{"text": "b?"}'])
    assert load_questions(path) == ["a?", "b?"]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"text": "a?"}', '{"question": "b?"}'], r'line 2: expected an object with a "text"'),
        (['{"text": "a?"}', "", "not json"], r"line 3: not JSON"),
        (['["a?"]'], r"line 1: expected an object"),
        (['{"text": 3}'], r"line 1: expected an object"),
    ],
)
def test_a_bad_line_is_named(tmp_path, lines, message):
    path = write_lines(tmp_path / "q.jsonl", lines)
    with pytest.raises(InvalidInput, match=message) as error:
        load_questions(path)
    assert str(path) in str(error.value)


def test_a_missing_file_is_invalid_input(tmp_path):
    with pytest.raises(InvalidInput, match="no such file"):
        load_questions(tmp_path / "missing.jsonl")


def test_measure_drift_refuses_small_windows_before_embedding():
    embedder = HashingEmbedder()
    with pytest.raises(InvalidInput, match="at least 100"):
        measure_drift(embedder, questions("geology", 150, 1), ["one?"] * 10)
    assert embedder.calls == 0


# -- the live monitor --------------------------------------------------------------------
def feed(monitor, texts, similarity=0.6):
    for row in embed(texts):
        monitor.observe(row, similarity)


def test_the_monitor_checks_every_k_questions_once_the_window_is_full():
    metrics = RecordingMetrics()
    monitor = DriftMonitor(metrics, window=100, every=25, run=lambda job: job())
    feed(monitor, questions("geology", 100, 1))  # the reference: the first 100 questions
    feed(monitor, questions("geology", 99, 2))
    assert monitor.checks == 0 and metrics.gauges == []
    feed(monitor, questions("geology", 1, 3))  # the window is full: first check
    assert monitor.checks == 1
    assert metrics.gauges == [("query_drift_score", monitor.last.score), ("query_drift", 0.0)]
    assert monitor.last.details["top1_similarity"]["used"] is True
    feed(monitor, questions("geology", 24, 4))
    assert monitor.checks == 1  # not every question
    feed(monitor, questions("cooking", 1, 5))
    assert monitor.checks == 2
    feed(monitor, questions("cooking", 100, 6))  # the window is now another domain
    assert monitor.checks == 6
    assert metrics.gauges[-1] == ("query_drift", 1.0)
    assert metrics.gauges[-2][1] == monitor.last.score > 1.0


def test_the_monitor_compares_with_a_reference_file_embedded_on_first_check():
    embedded: list[int] = []

    def embed_reference(texts):
        embedded.append(len(texts))
        return embed(list(texts))

    metrics = RecordingMetrics()
    monitor = DriftMonitor(
        metrics,
        window=100,
        every=50,
        reference_questions=questions("geology", 120, 1),
        embed=embed_reference,
        run=lambda job: job(),
    )
    feed(monitor, questions("cooking", 100, 2))
    assert embedded == [120] and monitor.checks == 1
    assert monitor.last.drift and metrics.gauges[-1] == ("query_drift", 1.0)
    similarity = monitor.last.details["top1_similarity"]
    assert similarity == {"used": False, "reason": "the reference file has no passage similarities"}
    feed(monitor, questions("cooking", 50, 3))
    assert embedded == [120] and monitor.checks == 2  # embedded once


def test_one_check_at_a_time_and_observe_never_raises():
    pending = []
    metrics = RecordingMetrics()
    monitor = DriftMonitor(metrics, window=100, every=10, run=pending.append)
    feed(monitor, questions("geology", 230, 1))
    assert len(pending) == 1  # due again meanwhile, but the first has not finished
    pending.pop()()
    assert monitor.checks == 1
    feed(monitor, questions("geology", 1, 2))
    assert len(pending) == 1
    monitor.observe(object(), None)  # not an embedding: logged, not raised
    monitor.observe([0.1, 0.2], None)  # another size (another model): left out
    feed(monitor, questions("geology", 20, 3))
    pending.pop()()
    assert monitor.checks == 2 and len(monitor._recent) == 100


def test_a_check_that_cannot_start_does_not_stop_the_monitor():
    def refuse(job):
        raise RuntimeError("can't start new thread")

    monitor = DriftMonitor(RecordingMetrics(), window=100, every=10, run=refuse)
    feed(monitor, questions("geology", 210, 1))  # logged, not raised
    monitor._run = lambda job: job()
    feed(monitor, questions("geology", 1, 2))
    assert monitor.checks == 1


def test_the_monitor_refuses_a_small_window_or_reference():
    with pytest.raises(InvalidInput, match="at least 100"):
        DriftMonitor(NullMetrics(), window=50)
    with pytest.raises(InvalidInput, match="reference window has 10"):
        DriftMonitor(NullMetrics(), reference_questions=["q?"] * 10, embed=embed)


# -- gauges in every metrics adapter -----------------------------------------------------
def test_gauges_render_in_prometheus_and_cloudwatch():
    metrics = PrometheusMetrics()
    metrics.gauge("query_drift_score", 2.5)
    metrics.gauge("query_drift_score", 0.4)
    metrics.gauge("query_drift", 0.0)
    text = metrics.render()[0].decode()
    assert "ragops_query_drift_score 0.4" in text and "ragops_query_drift 0.0" in text
    assert "# TYPE ragops_query_drift_score gauge" in text
    cloudwatch = CloudWatchMetrics(namespace="ragops-test")
    cloudwatch.gauge("query_drift_score", 0.4)
    assert cloudwatch._metrics.metric_set["QueryDriftScore"]["Value"] == [0.4]
    cloudwatch._metrics.clear_metrics()
    assert NullMetrics().gauge("query_drift", 1.0) is None


# -- the query path and the bootstrap ----------------------------------------------------
def test_answering_reports_each_question_embedding_and_best_similarity(container):
    fill_index(container.index, container.embedder, "default")
    seen = []
    ctx = replace(container.answer_context(), question_observer=lambda e, s: seen.append((e, s)))
    answer_question(ctx, tenant="default", question="Where do rivers deposit sediment?")
    ((embedding, similarity),) = seen
    assert len(embedding) == container.embedder.dimensions
    assert 0.3 < similarity <= 1.0


def test_the_bootstrap_wires_the_monitor_into_the_query_path(container, tmp_path):
    monitor = container.drift_monitor
    assert isinstance(monitor, DriftMonitor) and monitor.window == 300
    assert container.answer_context().question_observer == monitor.observe
    fill_index(container.index, container.embedder, "default")
    answer_question(container.answer_context(), tenant="default", question="What do rivers do?")
    assert len(monitor._reference) == 1
    off = build_container(Settings(data_dir=tmp_path / "off", drift_window=0))
    assert off.drift_monitor is None and off.answer_context().question_observer is None


def test_bad_drift_settings_are_configuration_errors(tmp_path):
    with pytest.raises(ConfigurationError, match="RAGOPS_DRIFT_WINDOW"):
        _ = build_container(Settings(data_dir=tmp_path, drift_window=20)).drift_monitor
    bad = write_lines(tmp_path / "ref.jsonl", ['{"text": "a?"}', '{"q": "b"}'])
    settings = Settings(data_dir=tmp_path, drift_reference=bad)
    with pytest.raises(ConfigurationError, match=r"RAGOPS_DRIFT_REFERENCE: .*line 2"):
        _ = build_container(settings).drift_monitor


# -- the command -------------------------------------------------------------------------
@pytest.fixture
def drift_cli(monkeypatch, tmp_path, embedder, chroma_client):
    container = build_container(
        Settings(data_dir=tmp_path / "data"),
        embedder=embedder,
        chroma_client=chroma_client,
        chat_model=ScriptedChatModel(["x"]),
    )
    monkeypatch.setattr(cli, "_container", lambda data_dir, serving=False: container)

    def run(*args: str):
        return CliRunner().invoke(cli.app, ["monitor", "drift", *args])

    run.container = container
    return run


def window_file(tmp_path, name, texts):
    return str(write_lines(tmp_path / f"{name}.jsonl", [json.dumps({"text": t}) for t in texts]))


def test_monitor_drift_json(drift_cli, tmp_path):
    reference = window_file(tmp_path, "ref", questions("geology", 150, 1))
    same = window_file(tmp_path, "same", questions("geology", 120, 2))
    other = window_file(tmp_path, "other", questions("cooking", 120, 3))
    result = drift_cli("--reference", reference, "--current", same, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"drift", "score", "threshold", "details"}
    assert report["drift"] is False and report["threshold"] == 1.0
    assert report["details"]["embedding_model"] == "fake/hashing-256"
    assert "no tenant given" in report["details"]["top1_similarity"]["reason"]
    flagged = json.loads(drift_cli("--reference", reference, "--current", other, "--json").stdout)
    assert flagged["drift"] is True and flagged["score"] > 1.0
    table = drift_cli("--reference", reference, "--current", other)
    assert table.exit_code == 0 and "DRIFT" in table.stdout and "mmd2" in table.stdout


def test_monitor_drift_compares_best_passage_similarity_with_a_tenant(drift_cli, tmp_path):
    container = drift_cli.container
    fill_index(container.index, container.embedder, "acme", questions("geology", 20, 9))
    reference = window_file(tmp_path, "ref", questions("geology", 120, 1))
    other = window_file(tmp_path, "other", questions("cooking", 120, 3))
    report = json.loads(
        drift_cli("--reference", reference, "--current", other, "--tenant", "acme", "--json").stdout
    )
    similarity = report["details"]["top1_similarity"]
    assert similarity["used"] and similarity["drift"]
    assert similarity["reference_median"] > similarity["current_median"]
    empty = json.loads(
        drift_cli(
            "--reference", reference, "--current", other, "--tenant", "nobody", "--json"
        ).stdout
    )
    assert "tenant 'nobody' has no documents" in empty["details"]["top1_similarity"]["reason"]


@pytest.mark.parametrize(
    ("current", "message"),
    [
        ("missing", "missing.jsonl: no such file"),
        ("bad", 'bad.jsonl, line 2: expected an object with a "text" field'),
        ("small", "the current window has 10 questions"),
    ],
)
def test_monitor_drift_errors_exit_1_with_a_message(drift_cli, tmp_path, current, message):
    reference = window_file(tmp_path, "ref", questions("geology", 150, 1))
    window_file(tmp_path, "small", questions("geology", 10, 2))
    write_lines(tmp_path / "bad.jsonl", ['{"text": "a?"}', '{"question": "b?"}'])
    result = drift_cli("--reference", reference, "--current", str(tmp_path / f"{current}.jsonl"))
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_the_dashboard_charts_the_drift_gauges():
    from pathlib import Path

    dashboard = Path(__file__).resolve().parents[2] / "k8s/base/monitoring/ragops-dashboard.json"
    panels = json.loads(dashboard.read_text())["panels"]
    (panel,) = [p for p in panels if "drift" in p["title"].lower()]
    assert panel["datasource"]["uid"] == "${prometheus}"
    exprs = [t["expr"] for t in panel["targets"]]
    # The names PrometheusMetrics gives the monitor's gauges.
    assert exprs == [
        "max by (instance) (ragops_query_drift_score)",
        "max by (instance) (ragops_query_drift)",
    ]
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[-1]["value"] == 1  # the score's threshold


def test_the_api_exports_the_live_drift_gauges(tmp_path, embedder, chroma_client):
    from fastapi.testclient import TestClient

    from ragops.entrypoints.api import create_app

    settings = Settings(
        data_dir=tmp_path / "data", cache="off", min_relevance=0.1, drift_window=100
    )
    container = build_container(
        settings,
        embedder=embedder,
        chroma_client=chroma_client,
        chat_model=ScriptedChatModel(["Glaciers carve valleys [1]."]),
    )
    container.drift_monitor._run = lambda job: job()  # check in the request, for the test
    client = TestClient(create_app(container))
    client.post("/v1/documents", files={"file": ("g.txt", " ".join(TOPICS["geology"].split()))})
    for question in questions("geology", 200, 1):
        assert client.post("/v1/query", json={"question": question}).status_code == 200
    text = client.get("/metrics").text
    assert container.drift_monitor.checks == 1
    assert "ragops_query_drift 0.0" in text
    assert f"ragops_query_drift_score {container.drift_monitor.last.score}" in text
