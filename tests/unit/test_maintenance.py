"""Maintenance mode: pause, upload, query -> 503, resume, and nothing is lost."""

from __future__ import annotations

import boto3
import pytest
from fastapi.testclient import TestClient
from moto import mock_aws

from ragops.adapters.guarded_tier import BreakerGuardedTier
from ragops.adapters.tier_state import FileTierState, SsmTierState
from ragops.domain.tier import CircuitBreaker, TierState
from ragops.entrypoints.api import create_app
from ragops.errors import ConfigurationError, TierUnavailable
from ragops.services.tier import pause_tier, resume_tier

GUIDE = b"# Glaciers\n\nThe Aletsch Glacier is the longest glacier in the Alps.\n"
NEW = b"# Volcanoes\n\nEtna is the most active volcano in Europe, on Sicily.\n"


@pytest.fixture
def client(container):
    with TestClient(create_app(container)) as test_client:
        yield test_client


def ask(client, question):
    return client.post("/v1/query", json={"question": question})


def test_pause_upload_query_resume_loses_nothing(client, container):
    assert client.post("/v1/documents", files={"file": ("glaciers.md", GUIDE)}).status_code == 201
    assert ask(client, "Which glacier is the longest in the Alps?").status_code == 200

    pause_tier(container.tier_state)
    health = client.get("/healthz").json()
    assert health["status"] == "maintenance" and health["tier"]["state"] == "paused"

    upload = client.post("/v1/documents", files={"file": ("volcanoes.md", NEW)})
    assert upload.status_code == 202, upload.text
    item = upload.json()["results"][0]
    assert item["outcome"] == "accepted" and item["document"]["status"] == "pending"
    assert "paused" in item["document"]["status_reason"]
    # Bad files are still refused with their reason while paused.
    bad = client.post("/v1/documents", files={"file": ("broken.pdf", b"not a pdf")})
    assert bad.status_code == 422 and "corrupt PDF" in bad.json()["error"]["message"]

    paused = ask(client, "Which volcano is the most active in Europe?")
    assert paused.status_code == 503
    assert int(paused.headers["Retry-After"]) > 0
    assert paused.json()["error"]["type"] == "service_paused"
    assert paused.json()["tier_state"] == "paused"
    assert "paused" in paused.json()["error"]["message"]

    listed = {d["source"]: d["status"] for d in client.get("/v1/documents").json()["documents"]}
    assert listed == {"glaciers.md": "indexed", "volcanoes.md": "pending"}
    assert container.index.count("default") > 0  # the tier itself was not touched

    results = resume_tier(container.tier_state, container.ingest_context())
    assert [r.record.source for r in results] == ["volcanoes.md"]
    assert container.tier_state.get() is TierState.ACTIVE
    assert client.get("/healthz").json()["status"] == "ok"

    answer = ask(client, "Which volcano is the most active in Europe?")
    assert answer.status_code == 200
    assert [c["source"] for c in answer.json()["citations"]][:1] == ["volcanoes.md"]
    listed = {d["source"]: d["status"] for d in client.get("/v1/documents").json()["documents"]}
    assert listed == {"glaciers.md": "indexed", "volcanoes.md": "indexed"}


def test_delete_waits_for_the_tier(client, container):
    doc = client.post("/v1/documents", files={"file": ("glaciers.md", GUIDE)}).json()
    doc_id = doc["results"][0]["document"]["doc_id"]
    pause_tier(container.tier_state)
    assert client.delete(f"/v1/documents/{doc_id}").status_code == 503
    assert [d["doc_id"] for d in client.get("/v1/documents").json()["documents"]] == [doc_id]


class DeadIndex:
    """An index whose every call fails, as a tier that went away would."""

    def __init__(self):
        self.calls = 0

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            self.calls += 1
            raise TierUnavailable("connection refused")

        return fail


def test_failing_tier_opens_the_breaker_and_uploads_become_pending(tmp_path, embedder, chat_model):
    from ragops.bootstrap import build_container
    from ragops.settings import Settings

    dead = DeadIndex()
    container = build_container(
        Settings(data_dir=tmp_path, breaker_failures=2, breaker_reset_seconds=60),
        embedder=embedder,
        chat_model=chat_model,
        index=dead,
    )
    with TestClient(create_app(container)) as client:
        first = client.post("/v1/documents", files={"file": ("a.md", GUIDE)})
        assert first.status_code == 202
        assert "failed" in first.json()["results"][0]["document"]["status_reason"]
        assert ask(client, "glacier?").status_code == 503  # second failure opens the breaker
        calls = dead.calls
        assert ask(client, "glacier?").status_code == 503
        assert dead.calls == calls  # open: no call reached the tier
        health = client.get("/healthz").json()
        assert health["status"] == "maintenance" and health["tier"]["state"] == "active"
        assert "not responding" in health["tier"]["message"]


def test_resume_does_not_declare_a_dead_tier_active(tmp_path, embedder, chat_model):
    """With nothing pending, resuming is the only moment the tier is looked at: a tier that
    does not answer (a cluster not recreated yet) leaves the state ``resuming``."""
    from ragops.bootstrap import build_container
    from ragops.settings import Settings

    container = build_container(
        Settings(data_dir=tmp_path), embedder=embedder, chat_model=chat_model, index=DeadIndex()
    )
    pause_tier(container.tier_state)
    with pytest.raises(TierUnavailable):
        resume_tier(container.tier_state, container.ingest_context())
    assert container.tier_state.get() is TierState.RESUMING


def test_async_ingest_mode_stores_uploads_as_pending(tmp_path, embedder, chat_model, chroma_client):
    from ragops.bootstrap import build_container
    from ragops.services.ingestion import index_pending_documents
    from ragops.settings import Settings

    container = build_container(
        Settings(data_dir=tmp_path, ingest_mode="async"),
        embedder=embedder,
        chat_model=chat_model,
        chroma_client=chroma_client,
    )
    with TestClient(create_app(container)) as client:
        response = client.post("/v1/documents", files={"file": ("a.md", GUIDE)})
        assert response.status_code == 202
        assert container.index.count("default") == 0
        again = client.post("/v1/documents", files={"file": ("a.md", GUIDE)})
        assert again.json()["results"][0]["outcome"] == "unchanged"
    (result,) = index_pending_documents(container.ingest_context())
    assert result.record.status == "indexed"
    assert container.index.count("default") == result.record.chunk_count


def test_circuit_breaker_opens_then_half_opens():
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=2, reset_seconds=10, clock=lambda: now[0])
    breaker.record_failure()
    assert not breaker.is_open
    breaker.record_failure()
    assert breaker.is_open and breaker.seconds_until_retry() == 10
    now[0] = 10.5
    assert not breaker.is_open  # half-open: the next call goes through
    breaker.record_success()
    breaker.record_failure()
    assert not breaker.is_open  # the count restarted after the success


def test_guarded_tier_counts_only_tier_errors(container):
    breaker = CircuitBreaker(failure_threshold=1, reset_seconds=60)
    guarded = BreakerGuardedTier(DeadIndex(), breaker)
    with pytest.raises(TierUnavailable):
        guarded.count("default")
    with pytest.raises(TierUnavailable, match="failed repeatedly"):
        guarded.count("default")


def test_guarded_tier_builds_its_tier_once_on_first_use():
    built = []

    def build():
        built.append(DeadIndex())
        return built[-1]

    guarded = BreakerGuardedTier(None, CircuitBreaker(failure_threshold=5), build=build)
    assert built == []  # constructing the container's tier loads nothing
    for _ in range(2):
        with pytest.raises(TierUnavailable):
            guarded.count("default")
    assert len(built) == 1 and guarded.inner is built[0]


def test_a_deployment_without_index_libraries_reports_the_tier_unavailable():
    def build():
        raise ModuleNotFoundError("No module named 'chromadb'", name="chromadb")

    guarded = BreakerGuardedTier(None, CircuitBreaker(failure_threshold=5), build=build)
    with pytest.raises(TierUnavailable, match="chromadb is not installed"):
        guarded.search("default", "glaciers", None, top_k=3)


@pytest.mark.parametrize("backend", ["file", "ssm"])
def test_tier_state_stores(tmp_path, backend):
    with mock_aws():
        if backend == "file":
            store = FileTierState(tmp_path / "tier-state")
        else:
            store = SsmTierState(
                "/ragops/test/tier", client=boto3.client("ssm", "us-east-1"), max_age=60
            )
        assert store.get() is TierState.ACTIVE  # never written
        store.set(TierState.PAUSED)
        assert store.get() is TierState.PAUSED  # the cache is cleared on write
        store.set(TierState.RESUMING)
        assert store.get() is TierState.RESUMING


def test_a_bad_ssm_value_is_a_configuration_error():
    with mock_aws():
        client = boto3.client("ssm", "us-east-1")
        client.put_parameter(Name="/ragops/test/tier", Value="sleeping", Type="String")
        with pytest.raises(ConfigurationError, match="sleeping"):
            SsmTierState("/ragops/test/tier", client=client).get()


def test_while_paused_a_scan_waits_for_ocr_and_an_empty_text_file_is_refused(client, container):
    from tests.samples import image_bytes, render_text_page

    pause_tier(container.tier_state)
    empty = client.post("/v1/documents", files={"file": ("notes.txt", b"   \n")})
    assert empty.status_code == 422, empty.text
    assert "no text could be extracted" in empty.json()["error"]["message"]
    scan = image_bytes(render_text_page("Etna is the most active volcano in Europe."))
    held = client.post("/v1/documents", files={"file": ("etna.png", scan)})
    assert held.status_code == 202, held.text
    assert held.json()["results"][0]["document"]["status"] == "pending"
    listed = {d["source"]: d["status"] for d in client.get("/v1/documents").json()["documents"]}
    assert listed == {"notes.txt": "failed", "etna.png": "pending"}
