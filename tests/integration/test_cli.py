"""The ``ragops`` command as a user runs it: a subprocess with its own data directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.samples import make_docx, write_beir

pytestmark = pytest.mark.slow


def ragops(
    *args: str, data_dir: Path, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "ragops", *args, "--data-dir", str(data_dir)]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})}
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    folder = tmp_path_factory.mktemp("library")
    (folder / "tides.md").write_text(
        "# Tides\n\nThe Moon's gravity pulls the oceans, raising two tidal bulges. "
        "Spring tides happen at full and new moon.\n"
    )
    (folder / "nested").mkdir()
    (folder / "nested" / "volcano.docx").write_bytes(
        make_docx(
            [
                "Volcanoes erupt when magma rises through the crust.",
                "Ash clouds can ground aircraft.",
            ],
            title="Volcanoes",
        )
    )
    (folder / "notes.bin").write_bytes(b"\x00\x01")  # unsupported: skipped when walking a folder
    return folder


def test_ingest_ask_list_delete(library, tmp_path):
    data = tmp_path / "data"
    first = json.loads(ragops("ingest", str(library), "--json", data_dir=data).stdout)
    outcomes = {Path(r["file"]).name: r["outcome"] for r in first["results"]}
    assert outcomes == {"tides.md": "created", "volcano.docx": "created"}

    again = json.loads(ragops("ingest", str(library), "--json", data_dir=data).stdout)
    assert {r["outcome"] for r in again["results"]} == {"unchanged"}

    answer = json.loads(ragops("ask", "What causes spring tides?", "--json", data_dir=data).stdout)
    assert answer["citations"] and answer["citations"][0]["source"] == "tides.md"

    listed = json.loads(ragops("documents", "list", "--json", data_dir=data).stdout)["documents"]
    volcano = next(d for d in listed if d["source"] == "nested/volcano.docx")
    assert volcano["title"] == "Volcanoes"

    ragops("documents", "delete", volcano["doc_id"], data_dir=data)
    listed = json.loads(ragops("documents", "list", "--json", data_dir=data).stdout)["documents"]
    assert [d["source"] for d in listed] == ["tides.md"]

    missing = ragops("documents", "delete", volcano["doc_id"], data_dir=data, check=False)
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_a_follow_up_continues_its_conversation_on_the_cli(library, tmp_path):
    data = tmp_path / "data"
    ragops("ingest", str(library), data_dir=data)
    first = json.loads(ragops("ask", "What causes spring tides?", "--json", data_dir=data).stdout)
    conversation = first["conversation_id"]
    follow_up = ragops(
        "ask", "When do they happen?", "--conversation", conversation, "--json", data_dir=data
    )
    answer = json.loads(follow_up.stdout)
    assert answer["conversation_id"] == conversation
    assert answer["standalone_question"] == "When do spring tides happen?"
    assert answer["citations"][0]["source"] == "tides.md"
    shown = ragops("ask", "And why?", "--conversation", conversation, data_dir=data).stdout
    assert "asked as: Why do spring tides happen?" in shown
    assert f"--conversation {conversation}" in shown
    missing = ragops(
        "ask", "When?", "--conversation", "c20260101000000" + "0" * 12, data_dir=data, check=False
    )
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_pause_ingest_resume_on_the_cli(library, tmp_path):
    data = tmp_path / "data"
    ragops("tier", "pause", data_dir=data)
    status = json.loads(ragops("tier", "status", "--json", data_dir=data).stdout)
    assert status == {"state": "paused", "usable": False, "message": status["message"]}
    stored = json.loads(ragops("ingest", str(library / "tides.md"), "--json", data_dir=data).stdout)
    assert [r["outcome"] for r in stored["results"]] == ["accepted"]
    paused = ragops("ask", "What causes spring tides?", data_dir=data, check=False)
    assert paused.returncode == 1 and "paused" in paused.stderr
    resumed = ragops("tier", "resume", data_dir=data)
    assert "1 pending documents indexed" in resumed.stdout
    answer = json.loads(ragops("ask", "What causes spring tides?", "--json", data_dir=data).stdout)
    assert answer["citations"][0]["source"] == "tides.md"


def test_tenants_are_separate_on_the_cli(library, tmp_path):
    data = tmp_path / "data"
    ragops("ingest", str(library / "tides.md"), "--tenant", "acme", data_dir=data)
    other = json.loads(
        ragops(
            "ask", "What causes spring tides?", "--tenant", "globex", "--json", data_dir=data
        ).stdout
    )
    assert other["citations"] == [] and other["abstained"] is True


def test_bad_files_give_clear_errors_and_change_nothing(tmp_path):
    data = tmp_path / "data"
    good = tmp_path / "good.txt"
    good.write_text("A perfectly fine document about lighthouses and their keepers.")
    ragops("ingest", str(good), data_dir=data)
    objects = data / "objects"
    before = sorted(p.relative_to(objects).as_posix() for p in objects.rglob("*") if p.is_file())

    bad = {
        "corrupt.pdf": b"%PDF-1.4\nnot really",
        "empty.txt": b"",
        "binary.txt": bytes(range(256)) * 8,
    }
    for name, content in bad.items():
        (tmp_path / name).write_bytes(content)
    result = ragops("ingest", *(str(tmp_path / n) for n in bad), data_dir=data, check=False)
    assert result.returncode == 1
    for name, words in {
        "corrupt.pdf": "corrupt PDF",
        "empty.txt": "empty",
        "binary.txt": "binary",
    }.items():
        assert name in result.stderr and words in result.stderr

    big = tmp_path / "big.txt"
    big.write_text("word " * 1000)
    over = ragops(
        "ingest", str(big), data_dir=data, check=False, env={"RAGOPS_MAX_UPLOAD_BYTES": "1000"}
    )
    assert over.returncode == 1 and "over the limit of 1,000 bytes" in over.stderr

    after = sorted(p.relative_to(objects).as_posix() for p in objects.rglob("*") if p.is_file())
    assert after == before
    listed = json.loads(ragops("documents", "list", "--json", data_dir=data).stdout)["documents"]
    assert [d["source"] for d in listed] == ["good.txt"]


def test_missing_path_and_bad_tenant_are_named(tmp_path):
    missing = ragops("ingest", str(tmp_path / "nope.md"), data_dir=tmp_path / "d", check=False)
    assert missing.returncode != 0 and "nope.md" in missing.stderr
    bad = ragops("ask", "hi", "--tenant", "../x", data_dir=tmp_path / "d", check=False)
    assert bad.returncode != 0 and "invalid tenant" in bad.stderr


def test_eval_retrieval_indexes_once_and_reports_metrics(tmp_path):
    dataset = write_beir(tmp_path / "tiny")
    data = tmp_path / "data"
    first = json.loads(
        ragops("eval", "retrieval", "--dataset", str(dataset), "--json", data_dir=data).stdout
    )
    assert {"ndcg@10", "recall@10", "recall@100", "mrr@10", "mode", "queries"} <= set(first)
    assert first["queries"] == 5 and first["mode"] == "hybrid"
    assert first["ndcg@10"] > 0.9 and first["index_reused"] is False
    # The run is in the local MLflow store, with the pipeline's parameters and the metrics.
    from mlflow.tracking import MlflowClient

    assert first["tracking_uri"] == f"sqlite:///{(data / 'mlflow.db').resolve()}"
    run = MlflowClient(first["tracking_uri"]).get_run(first["mlflow_run_id"])
    assert run.data.params["eval"] == "retrieval" and run.data.params["mode"] == "hybrid"
    assert run.data.params["fusion_method"] == "zscore" and run.data.params["split"] == "test"
    assert run.data.metrics["ndcg_at_10"] == pytest.approx(first["ndcg@10"])
    for mode in ("vector", "bm25"):
        again = json.loads(
            ragops(
                "eval",
                "retrieval",
                "--dataset",
                str(dataset),
                "--mode",
                mode,
                "--json",
                "--no-track",
                data_dir=data,
            ).stdout
        )
        assert again["index_reused"] is True and again["mode"] == mode
        assert again["recall@100"] > 0.5
        assert "mlflow_run_id" not in again


def test_eval_retrieval_names_a_missing_file(tmp_path):
    dataset = write_beir(tmp_path / "tiny")
    result = ragops(
        "eval",
        "retrieval",
        "--dataset",
        str(dataset),
        "--split",
        "dev",
        data_dir=tmp_path / "d",
        check=False,
    )
    assert result.returncode == 1 and "dev.tsv" in result.stderr


def test_invoke_runs_a_handler_with_an_event_file(tmp_path):
    root = Path(__file__).resolve().parents[2]
    result = ragops(
        "invoke",
        "api",
        str(root / "events" / "api_health.json"),
        "--functions-dir",
        str(root / "functions"),
        data_dir=tmp_path / "d",
        env={"POWERTOOLS_TRACE_DISABLED": "1"},
    )
    response = json.loads(result.stdout[result.stdout.index("{\n") :])  # after the EMF line
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["tier"]["state"] == "active"
    unknown = ragops(
        "invoke",
        "nope",
        str(root / "events" / "api_health.json"),
        data_dir=tmp_path / "d",
        check=False,
    )
    assert unknown.returncode == 1 and "no function 'nope'" in unknown.stderr


PII_DATASET = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "pii" / "synth_dataset_v2.json"
)


def test_eval_pii_scores_every_structured_type(tmp_path):
    """The figures in docs/evaluation.md, as the CLI prints them (a floor, so a regression
    in any detector fails here)."""
    result = ragops("eval", "pii", "--dataset", str(PII_DATASET), "--json", data_dir=tmp_path)
    scores = json.loads(result.stdout)
    assert scores.pop("mlflow_run_id") and scores.pop("tracking_uri").startswith("sqlite:///")
    structured = {"CREDIT_CARD", "EMAIL_ADDRESS", "IBAN_CODE", "IP_ADDRESS", "PHONE_NUMBER"}
    assert structured | {"US_SSN"} <= set(scores)
    for kind, score in scores.items():
        assert set(score) == {"precision", "recall", "support"}, kind
        assert score["precision"] >= 0.95, (kind, score)
        assert score["recall"] >= (0.85 if kind == "PHONE_NUMBER" else 0.99), (kind, score)
    bad = ragops(
        "eval", "pii", "--dataset", str(tmp_path / "none.json"), data_dir=tmp_path, check=False
    )
    assert bad.returncode == 1 and "none.json: no such file" in bad.stderr


def test_costs_reports_recorded_answers_and_names_a_bad_date(tmp_path):
    from datetime import UTC, datetime

    from ragops.adapters.localfs import LocalFsObjectStore
    from ragops.domain.models import QueryCost
    from ragops.services.costs import record_query_cost

    store = LocalFsObjectStore(tmp_path / "objects")
    cost = QueryCost(input_tokens=7, output_tokens=3, total_usd=0.25)
    record_query_cost(store, "acme", "m", cost, at=datetime(2026, 11, 3, tzinfo=UTC))
    report = json.loads(ragops("costs", "--json", data_dir=tmp_path).stdout)
    assert report == [
        {
            "tenant": "acme",
            "day": "2026-11-03",
            "queries": 1,
            "embedding_tokens": 0,
            "input_tokens": 7,
            "output_tokens": 3,
            "total_usd": 0.25,
        }
    ]
    bad = ragops("costs", "--since", "yesterday", data_dir=tmp_path, check=False)
    assert bad.returncode == 1 and "not a date" in bad.stderr


QQP_TRAIN = Path(__file__).resolve().parents[3] / "shared" / "data" / "qqp" / "qqp_train.jsonl"


def test_eval_cache_replays_pairs_with_the_shipped_verifier(tmp_path):
    """A 600-pair slice of QQP through the real embedder and cache: the counts add up, the
    verifier keeps distinct false hits low, and a bad file gets a named error."""
    lines = QQP_TRAIN.read_text(encoding="utf-8").splitlines()[:600]
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(lines) + "\n")
    result = ragops("eval", "cache", "--pairs", str(pairs), "--json", data_dir=tmp_path / "d")
    report = json.loads(result.stdout)
    assert {"hit_rate", "wrong_hit_rate", "false_hit_rate", "threshold", "pairs"} <= set(report)
    assert report["pairs"] == 600 and report["plain_cosine"] is False
    assert 0.0 < report["hit_rate"] < 1.0
    assert report["false_hit_rate_distinct"] <= 0.02
    # Anything-goes threshold: every lookup hits something, so false hits jump.
    loose = json.loads(
        ragops(
            "eval",
            "cache",
            "--pairs",
            str(pairs),
            "--threshold",
            "0",
            "--json",
            data_dir=tmp_path / "d",
        ).stdout
    )
    assert loose["hit_rate"] > report["hit_rate"]
    assert loose["false_hit_rate"] > report["false_hit_rate"]
    (tmp_path / "bad.jsonl").write_text('{"question1": "a"}\n')
    bad = ragops(
        "eval", "cache", "--pairs", str(tmp_path / "bad.jsonl"), data_dir=tmp_path, check=False
    )
    assert bad.returncode == 1 and "bad.jsonl, line 1" in bad.stderr
