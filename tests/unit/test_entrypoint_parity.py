"""The API and the CLI run the same use cases (``ragops.services.queries``), so they behave
alike: the same answer records and metrics for an answer, the same refusal on a paused
tier, with nothing recorded."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ragops.entrypoints.api import create_app
from ragops.entrypoints.cli import app as cli
from ragops.repositories.answer_log import AnswerLog
from ragops.services.ingestion import ingest_document
from ragops.services.tier import pause_tier
from tests.fakes import RecordingMetrics

GUIDE = b"# Operations\n\nPausing the tier destroys the EKS cluster with Terraform.\n"
QUESTION = "What does pausing the tier do?"


@pytest.fixture
def served(container, monkeypatch):
    """The test container behind both entrypoints, with a metrics sink that records."""
    container.metrics = RecordingMetrics()
    ingest_document(container.ingest_context(), tenant="acme", filename="ops.md", data=GUIDE)
    monkeypatch.setattr("ragops.bootstrap.build_container", lambda *a, **k: container)
    return container


def api_ask(container) -> tuple[int, dict]:
    client = TestClient(create_app(container), raise_server_exceptions=False)
    response = client.post(
        "/v1/query", json={"question": QUESTION}, headers={"X-Tenant-Id": "acme"}
    )
    return response.status_code, response.json()


def cli_ask(*args: str):
    return CliRunner().invoke(cli, ["ask", QUESTION, "--tenant", "acme", *args])


def test_an_answer_is_recorded_and_reported_alike(served):
    status, body = api_ask(served)
    assert status == 200 and not body["abstained"], body
    result = cli_ask("--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["answer"] == body["answer"]

    records = list(AnswerLog(served.store).records(tenant="acme"))
    assert len(records) == 2  # one per entrypoint
    assert {r.model for r in records} == {body["model"]}
    assert served.metrics.total("queries") == 2
    outcomes = [labels["outcome"] for name, _, labels in served.metrics.counts if name == "answers"]
    assert len(outcomes) == 2 and outcomes[0] == outcomes[1]


def test_a_paused_tier_refuses_alike_and_records_nothing(served):
    pause_tier(served.tier_state)
    status, body = api_ask(served)
    assert status == 503 and body["error"]["type"] == "service_paused"
    result = cli_ask()
    assert result.exit_code == 1
    assert "paused" in result.output
    assert list(AnswerLog(served.store).records(tenant="acme")) == []
    assert served.metrics.total("queries") == 0


def test_the_stream_records_its_answer_once(served):
    client = TestClient(create_app(served), raise_server_exceptions=False)
    with client.stream(
        "POST", "/v1/query/stream", json={"question": QUESTION}, headers={"X-Tenant-Id": "acme"}
    ) as response:
        text = "".join(response.iter_text())
    assert response.status_code == 200 and "event: answer" in text
    assert len(list(AnswerLog(served.store).records(tenant="acme"))) == 1
    assert served.metrics.total("queries") == 1


@pytest.fixture
def build(tmp_path, embedder, chroma_client, chat_model, monkeypatch):
    """A container with ``settings`` over the defaults, behind both entrypoints."""
    from ragops.bootstrap import build_container
    from ragops.settings import Settings

    def make(**settings):
        container = build_container(
            Settings(data_dir=tmp_path / "data", min_relevance=0.1, **settings),
            embedder=embedder,
            chroma_client=chroma_client,
            chat_model=chat_model,
        )
        monkeypatch.setattr("ragops.bootstrap.build_container", lambda *a, **k: container)
        return container

    return make


def api_upload(container, name: str, data: bytes):
    client = TestClient(create_app(container), raise_server_exceptions=False)
    return client.post(
        "/v1/documents",
        files={"file": (name, data, "text/markdown")},
        headers={"X-Tenant-Id": "acme"},
    )


def cli_ingest(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return CliRunner().invoke(cli, ["ingest", str(path), "--tenant", "acme"])


def stored(container) -> dict[str, str]:
    from ragops.services.documents import list_documents

    return {r.source: str(r.status) for r in list_documents(container.store, "acme")}


def test_the_quota_holds_alike(build, tmp_path):
    container = build(max_documents_per_tenant=1)
    assert api_upload(container, "a.md", b"# A\n\nAlpha text about glaciers.\n").status_code == 201
    refused = api_upload(container, "b.md", b"# B\n\nBeta text about rivers.\n")
    assert refused.status_code == 403 and refused.json()["error"]["type"] == "QuotaExceeded"
    result = cli_ingest(tmp_path, "c.md", b"# C\n\nGamma text about deserts.\n")
    assert result.exit_code == 1 and "may hold 1 documents" in result.output
    assert stored(container) == {"a.md": "indexed"}  # neither wrote anything


def test_the_ingest_mode_holds_alike(build, tmp_path):
    container = build(ingest_mode="async")
    assert api_upload(container, "a.md", b"# A\n\nAlpha text about glaciers.\n").status_code == 202
    result = cli_ingest(tmp_path, "b.md", b"# B\n\nBeta text about rivers.\n")
    assert result.exit_code == 0, result.output
    # Both stored for the ingest function to index, neither indexed in the request.
    assert stored(container) == {"a.md": "pending", "b.md": "pending"}
    assert container.index.count("acme") == 0


def test_a_paused_tier_refuses_a_deletion_alike(build):
    container = build()
    doc_id = api_upload(container, "a.md", b"# A\n\nAlpha text about glaciers.\n").json()
    doc_id = doc_id["results"][0]["document"]["doc_id"]
    pause_tier(container.tier_state)
    client = TestClient(create_app(container), raise_server_exceptions=False)
    refused = client.delete(f"/v1/documents/{doc_id}", headers={"X-Tenant-Id": "acme"})
    assert refused.status_code == 503
    result = CliRunner().invoke(cli, ["documents", "delete", doc_id, "--tenant", "acme"])
    assert result.exit_code == 1 and "paused" in result.output
    assert stored(container) == {"a.md": "indexed"}
    assert container.index.count("acme") > 0
