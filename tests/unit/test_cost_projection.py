"""The cost report's measured inputs, read back from a real local MLflow store and the
answer records, and ``ragops costs report`` as a user runs it."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from ragops.adapters.localfs import LocalFsObjectStore
from ragops.adapters.mlflow_tracker import MlflowTracker, local_tracking_uri
from ragops.bootstrap import build_container
from ragops.domain.cost_model import UsageProfile
from ragops.domain.costs import DEFAULT_PRICES
from ragops.domain.models import QueryCost
from ragops.domain.routing import QueryRouter
from ragops.entrypoints.cli import app
from ragops.errors import InvalidInput
from ragops.services.cost_projection import (
    ASSUMPTION,
    MEASURED,
    OVERRIDE,
    cost_projection,
)
from ragops.services.costs import record_query_cost
from ragops.services.routing_report import routing_report
from ragops.services.tracking import EXPERIMENT, track_eval
from ragops.settings import Settings
from tests.fakes import RecordingTracker

PROFILE = UsageProfile(queries_per_day=2000, documents=5000, hours_active_per_day=10)
MODELS = {
    "lite_model": "us.amazon.nova-2-lite-v1:0",
    "pro_model": "us.amazon.nova-pro-v1:0",
    "embedding_model": "amazon.titan-embed-text-v2:0",
}


def project(tracker, store=None, **kwargs):
    return cost_projection(
        PROFILE, tracker=tracker, store=store, prices=DEFAULT_PRICES, **MODELS, **kwargs
    )


def log_cache_run(tracker, hit_rate, model="none (verifier)"):
    return tracker.log_run(
        EXPERIMENT,
        "cache",
        {"split": "holdout", "verifier_threshold": 0.69, "duplicate_model": model},
        {"hit_rate": hit_rate, "wrong_hit_rate": 0.05, "false_hit_rate": 0.02},
        {},
    )


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """The tracker's fake (held to MLflow's behaviour by the integration contract suite)
    with two `eval cache` runs and one `eval routing` run as the CLI records it: one
    report per question set."""
    tracker = RecordingTracker()
    container = build_container(Settings(data_dir=tmp_path_factory.mktemp("data")), tracker=tracker)
    log_cache_run(tracker, 0.10)
    latest = log_cache_run(tracker, 0.25)
    router = QueryRouter("us.amazon.nova-2-lite-v1:0", "us.amazon.nova-pro-v1:0")
    sets = {
        "facts.jsonl": ["Who ruled Normandy?", "When was Rouen founded?", "What is a tide?"],
        "why.json": [
            "Why did the Normans adopt Christianity, and how did it change their "
            "relationship with the Franks compared with the Bretons?"
        ],
    }
    summary = {
        name: dataclasses.asdict(routing_report(qs, router, DEFAULT_PRICES))
        for name, qs in sets.items()
    }
    routing_run = track_eval(container.tracker, container.settings, "routing", {}, summary)[
        "mlflow_run_id"
    ]
    lite = sum(r["lite"] for r in summary.values()) / 4
    return tracker, latest, routing_run, lite


def test_the_latest_runs_give_the_hit_rate_and_the_pooled_lite_share(tracked):
    tracker, latest, routing_run, lite = tracked
    assert 0 < lite < 1
    report = project(tracker)
    hit, share = report.inputs["cache_hit_rate"], report.inputs["lite_share"]
    assert (hit.value, hit.source) == (0.25, MEASURED) and latest in hit.detail
    assert "split holdout" in hit.detail and "verifier threshold 0.69" in hit.detail
    assert share.value == pytest.approx(lite) and share.source == MEASURED
    assert routing_run in share.detail and "facts.jsonl" in share.detail
    assert report.notes == []
    llm = next(x for x in report.projection.lines if x.item == "LLM")
    assert llm.ragops_usd < llm.baseline_usd * 0.75
    assert tracker.latest_run(EXPERIMENT, "pii") is None
    assert tracker.latest_run("no-such-experiment", "cache") is None


def test_overrides_beat_measurements_and_say_so(tracked):
    report = project(tracked[0], cache_hit_rate=0.5, lite_share=0.0)
    assert report.inputs["cache_hit_rate"].value == 0.5
    assert report.inputs["cache_hit_rate"].source == OVERRIDE
    assert report.inputs["lite_share"].source == OVERRIDE
    llm = report.to_dict()["lines"][0]
    assert llm["item"] == "LLM" and llm["saving"] == pytest.approx(0.5)


def test_no_store_or_no_tracking_falls_back_to_assumptions_with_a_note(tmp_path):
    missing = MlflowTracker(local_tracking_uri(tmp_path / "nothing"))
    report = project(missing)
    assert {v.source for v in report.inputs.values()} == {ASSUMPTION}
    assert report.inputs["cache_hit_rate"].value == 0.0
    assert any("no `eval cache` run" in n for n in report.notes)
    assert any("no `eval routing` run" in n for n in report.notes)
    assert not (tmp_path / "nothing" / "mlflow.db").exists()  # reading creates nothing

    off = project(None)
    assert any("tracking is off" in n for n in off.notes)


def test_a_store_that_cannot_be_read_is_a_note_not_an_error(tmp_path):
    blocker = tmp_path / "mlflow.db"
    blocker.write_text("not a database")
    report = project(MlflowTracker(local_tracking_uri(tmp_path)))
    assert any("could not read the `eval cache` runs" in n for n in report.notes)
    assert report.inputs["cache_hit_rate"].source == ASSUMPTION


def test_tokens_are_the_mean_of_the_generated_answers_recorded(tmp_path):
    store = LocalFsObjectStore(tmp_path / "objects")
    at = datetime(2026, 11, 3, tzinfo=UTC)
    for tokens in (1000, 2000):
        cost = QueryCost(embedding_tokens=10, input_tokens=tokens, output_tokens=tokens // 10)
        record_query_cost(store, "acme", "us.amazon.nova-pro-v1:0", cost, at=at)
    # A cache hit: no generation, so it does not count towards the tokens per answer.
    store.put(
        "usage/acme/2026-11-03/00000000000000000000aaaaaaaa.json",
        json.dumps({"cache_hit": True, "embedding_tokens": 40, "input_tokens": 0}).encode(),
    )
    report = project(None, store, today=datetime(2026, 11, 10, tzinfo=UTC))
    assert report.inputs["input_tokens"].value == 1500
    assert report.inputs["output_tokens"].value == 150
    assert report.inputs["input_tokens"].source == MEASURED
    assert report.inputs["embedding_tokens"].value == pytest.approx(20)
    later = project(None, store, today=datetime(2027, 1, 1, tzinfo=UTC))  # records too old
    assert later.inputs["input_tokens"].source == ASSUMPTION


def test_bad_profile_or_price_is_invalid_input(tmp_path):
    with pytest.raises(InvalidInput, match="hours active"):
        cost_projection(
            UsageProfile(10, 10, 30), tracker=None, store=None, prices=DEFAULT_PRICES, **MODELS
        )
    with pytest.raises(InvalidInput, match="unknown price"):
        project(None, infra_overrides={"bogus": 1.0})


# -- the command -----------------------------------------------------------------------
def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_costs_report_json_is_one_object_with_sources(tmp_path):
    result = run(
        "costs", "report", "--json", "--data-dir", str(tmp_path), "--cache-hit-rate", "0.5",
        "--hours-active", "24", "--price", "node_hour=0.05",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["inputs"]["cache_hit_rate"] == {
        "value": 0.5,
        "source": "override",
        "detail": "--cache-hit-rate",
    }
    assert report["inputs"]["lite_share"]["source"] == "assumption"
    lines = {x["item"]: x for x in report["lines"]}
    assert lines["LLM"]["saving"] == pytest.approx(0.5)
    assert lines["compute tier"]["saving"] == 0
    assert lines["total"]["baseline_usd"] > lines["total"]["ragops_usd"]
    assert {x["lever"] for x in report["levers"]} == {
        "pause/resume",
        "caching",
        "routing",
        "s3 lifecycle",
        "off-hours scaling",
    }
    assert report["infra_prices"]["node_hour"] == 0.05
    assert any("no `eval routing` run" in n for n in report["notes"])


def test_costs_report_table_names_the_levers(tmp_path):
    result = run("costs", "report", "--data-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "pause/resume" in result.stdout and "promised" in result.stdout
    shown = " ".join(result.stdout.split())
    assert "the tier a month, 10 h a day active: never paused" in shown
    assert "destroy" in shown and "scale-to-zero" in shown
    figures = json.loads(run("costs", "report", "--json", "--data-dir", str(tmp_path)).stdout)
    by_pause = figures["tier_by_pause"]
    assert by_pause["destroy"] < by_pause["scale-to-zero"] < by_pause["never paused"]
    assert f"scale-to-zero {by_pause['scale-to-zero']:,.2f}" in shown


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--queries-per-day", "-5"), 2, "--queries-per-day"),
        (("--hours-active", "25"), 2, "--hours-active"),
        (("--cache-hit-rate", "1.5"), 2, "--cache-hit-rate"),
        (("--pause", "sometimes"), 2, "destroy or scale-to-zero"),
        (("--price", "cheap"), 2, "NAME=USD"),
        (("--price", "gold_bar=1"), 1, "unknown price gold_bar"),
    ],
)
def test_bad_input_is_a_clear_error_without_a_traceback(tmp_path, args, code, message):
    result = run("costs", "report", *args, "--data-dir", str(tmp_path))
    assert result.exit_code == code
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output and not isinstance(result.exception, ValueError)


def test_costs_alone_still_reports_usage(tmp_path):
    store = LocalFsObjectStore(tmp_path / "objects")
    record_query_cost(
        store, "acme", "m", QueryCost(input_tokens=7, output_tokens=3, total_usd=0.25)
    )
    alone = run("costs", "--json", "--data-dir", str(tmp_path))
    assert alone.exit_code == 0, alone.output
    assert json.loads(alone.stdout)[0]["queries"] == 1
    usage = run("costs", "usage", "--json", "--data-dir", str(tmp_path))
    assert json.loads(usage.stdout) == json.loads(alone.stdout)


def test_the_hit_rate_names_the_duplicate_model_its_replay_served():
    tracker = RecordingTracker()
    log_cache_run(tracker, 0.10)
    latest = log_cache_run(tracker, 0.31, model="ragops/cache-duplicates@v4")
    hit = project(tracker).inputs["cache_hit_rate"]
    assert hit.value == 0.31 and latest in hit.detail
    assert "duplicate model ragops/cache-duplicates@v4" in hit.detail
