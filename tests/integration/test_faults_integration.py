"""Fault tests with real servers and real processes (issue 10, point 5); the fast ones are
``tests/unit/test_faults.py``, Chroma killed behind the tier service is
``test_tier_faults.py``.

- Redis (Valkey) killed under the API: the cache is bypassed, answers are still served,
  the failures are counted; a write that cannot end the cached answers fails as a whole
  (503) and its retry after Redis is back completes it once.
- A process killed with SIGKILL in the middle of ingesting a document (nothing in the
  process runs after it): no document is listed, and the same upload after a restart
  completes it with one copy of each chunk, from what the dead process left on disk.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ragops.bootstrap import build_container
from ragops.domain.models import document_id_for
from ragops.entrypoints.api import create_app
from ragops.services.documents import list_documents
from ragops.services.ingestion import IngestOutcome, ingest_document
from ragops.settings import Settings
from tests.fakes import GENERATIVE, HashingEmbedder, ScriptedChatModel
from tests.servers import RedisServer
from tests.unit.test_faults import assert_index_matches_store, chroma_chunk_ids, document_text

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def cache_errors(container) -> float:
    body, _ = container.metrics.render()
    found = re.findall(rb"^ragops_cache_errors_total(?:\{[^}]*\})? (\S+)$", body, re.MULTILINE)
    return sum(float(value) for value in found)


def test_redis_down_serves_answers_and_loses_no_upload(tmp_path, chroma_client):
    chat = ScriptedChatModel(responses=["Pausing destroys the EKS cluster [1]."])
    with RedisServer(tmp_path / "redis") as redis:
        settings = Settings(
            data_dir=tmp_path / "data",
            min_relevance=0.1,
            cache="redis",
            cache_redis_url=redis.url,
            metrics="prometheus",
            **GENERATIVE,
        )
        container = build_container(
            settings, embedder=HashingEmbedder(), chroma_client=chroma_client, chat_model=chat
        )
        api = TestClient(create_app(container), raise_server_exceptions=False)

        def ask(question: str) -> dict:
            response = api.post("/v1/query", json={"question": question})
            assert response.status_code == 200, response.text
            return response.json()

        def upload(name: str, data: bytes):
            return api.post("/v1/documents", files={"file": (name, data, "text/markdown")})

        guide = b"# Operations\n\nPausing the tier destroys the EKS cluster with Terraform.\n"
        assert upload("ops.md", guide).status_code == 201
        question = "What does pausing the tier do?"
        served = ask(question)
        assert served["cache"]["hit"] is None and ask(question)["cache"]["hit"] == "exact"
        assert len(chat.seen) == 1
        errors = cache_errors(container)

        redis.stop()
        bypassed = ask(question)
        assert bypassed["cache"]["hit"] is None and not bypassed["abstained"]
        assert bypassed["answer"] == served["answer"]
        assert bypassed["citations"] == served["citations"]
        assert ask("How is the cluster destroyed?")["cache"]["hit"] is None
        assert len(chat.seen) == 3  # both generated: nothing served from a cache it cannot see
        assert cache_errors(container) - errors == 2  # one failed lookup per question

        # A write must end the tenant's cached answers; with Redis down it cannot, so the
        # upload fails as a whole, with a 503 to retry, and leaves nothing behind.
        late = document_text("penguin")
        before = sorted(container.store.list(""))
        refused = upload("penguins.md", late)
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["Retry-After"]) > 0
        assert refused.json()["error"]["type"] == "CacheUnavailable"
        assert sorted(container.store.list("")) == before
        assert [d["source"] for d in api.get("/v1/documents").json()["documents"]] == ["ops.md"]
        assert document_id_for("penguins.md") not in chroma_chunk_ids(
            container.raw_index().vectors, "default"
        )

        redis.start()  # back, empty (no persistence, as the tier runs it)
        retried = upload("penguins.md", late)
        assert retried.status_code == 201, retried.text
        assert retried.json()["results"][0]["outcome"] == "created"
        records = assert_index_matches_store(
            container.store, container.raw_index().vectors, "default"
        )
        assert sorted(r.source for r in records.values()) == ["ops.md", "penguins.md"]
        assert ask(question)["cache"]["hit"] is None  # the corpus changed: generated again
        assert ask(question)["cache"]["hit"] == "exact"  # and the cache works again
        assert cache_errors(container) - errors == 2


KILLED_INGEST = textwrap.dedent(
    """
    import dataclasses, os, signal, sys
    from pathlib import Path

    from ragops.bootstrap import build_container
    from ragops.services.ingestion import ingest_document
    from ragops.settings import Settings
    from tests.fakes import HashingEmbedder

    class KilledAtManifest:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def put(self, key, data, content_type=None):
            if key.startswith("documents/"):
                os.kill(os.getpid(), signal.SIGKILL)  # nothing after this runs
            self.inner.put(key, data, content_type)

    container = build_container(Settings(data_dir=Path(sys.argv[1])), embedder=HashingEmbedder())
    ctx = container.ingest_context()
    ctx = dataclasses.replace(ctx, store=KilledAtManifest(ctx.store))
    ingest_document(ctx, tenant="default", filename="ops.md", data=sys.argv[2].encode())
    """
)


def test_a_process_killed_mid_ingest_is_completed_by_the_same_upload(tmp_path):
    """Killed after the chunks (persistent Chroma) and the original are written, before
    the manifest: after a restart no document is listed; Chroma kept the chunks (search
    could find them, as the unit tests show); the same upload completes the document."""
    data_dir = tmp_path / "data"
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_INGEST, str(data_dir), document_text("operations").decode()],
        cwd=ROOT,
        capture_output=True,
        timeout=300,
    )
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]

    container = build_container(Settings(data_dir=data_dir), embedder=HashingEmbedder())
    doc_id = document_id_for("ops.md")
    assert list_documents(container.store, "default") == []
    left = chroma_chunk_ids(container.raw_index().vectors, "default").get(doc_id, [])
    assert left  # committed by Chroma before the kill

    retried = ingest_document(
        container.ingest_context(),
        tenant="default",
        filename="ops.md",
        data=document_text("operations"),
    )
    assert retried.outcome is IngestOutcome.CREATED
    records = assert_index_matches_store(container.store, container.raw_index().vectors, "default")
    assert list(records) == [doc_id]
    assert sorted(left) == sorted(
        chroma_chunk_ids(container.raw_index().vectors, "default")[doc_id]
    )
