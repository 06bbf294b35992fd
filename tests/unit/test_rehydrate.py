"""``rehydrate_tier``: the index rebuilt from the chunk artifacts alone, without the
embedder, with the same search results, resumable after a failure half-way."""

from __future__ import annotations

import pytest

from ragops.domain.artifacts import artifact_key
from ragops.errors import TierUnavailable
from ragops.services.ingestion import UploadedFile, ingest_files
from ragops.services.rehydrate import rehydrate_tier

TOPICS = [
    "Glaciers carve valleys as they advance and leave moraines when they retreat.",
    "Volcanoes erupt when magma rises through weaknesses in the crust.",
    "Coral reefs are built by colonies of tiny animals in warm shallow seas.",
    "Deserts receive little rain, and their sand dunes move with the wind.",
    "Rivers deposit sediment in deltas where they meet the sea.",
    "Tides follow the pull of the moon on the oceans twice a day.",
]
QUERIES = ["glacier moraines", "magma crust", "coral animals", "sand dunes wind", "delta"]


def ingest_corpus(container) -> None:
    for tenant in ("acme", "globex"):
        files = [
            UploadedFile(f"{tenant}-{i}.md", f"# Note {i}\n\n{text}\n\n{text}".encode())
            for i, text in enumerate(TOPICS)
        ]
        ingest_files(container.ingest_context(), tenant=tenant, files=files)


def top10(container) -> dict[tuple[str, str], list[tuple[float, str]]]:
    """Each query's top 10 as (score, chunk id), best first; equal scores (common with the
    hashing embedder on a tiny corpus) ordered by chunk id, since their order is arbitrary."""
    results = {}
    for tenant in ("acme", "globex"):
        for query in QUERIES:
            hits = container.index.search(
                tenant, query, container.embedder.embed_query(query), top_k=10
            )
            ranked = [(round(hit.score, 5), hit.chunk.chunk_id) for hit in hits]
            results[tenant, query] = sorted(ranked, key=lambda h: (-h[0], h[1]))
    return results


def wipe(container) -> None:
    for tenant in ("acme", "globex"):
        container.index.drop_tenant(tenant)
        assert container.index.count(tenant) == 0


def test_rehydrate_restores_the_same_results_without_embedding(container, embedder):
    ingest_corpus(container)
    before = top10(container)
    chunks = {t: container.index.count(t) for t in ("acme", "globex")}
    wipe(container)

    calls = embedder.calls
    report = rehydrate_tier(container.store, container.index)

    assert embedder.calls == calls  # nothing was embedded
    assert report.documents == report.restored == 2 * len(TOPICS)
    assert report.chunks == sum(chunks.values()) and report.missing == []
    assert {t: container.index.count(t) for t in chunks} == chunks
    assert top10(container) == before


def test_rehydrating_one_tenant_leaves_the_others_alone(container):
    ingest_corpus(container)
    wipe(container)
    report = rehydrate_tier(container.store, container.index, tenant="acme")
    assert report.tenants == ["acme"] and report.restored == len(TOPICS)
    assert container.index.count("acme") > 0 and container.index.count("globex") == 0


class FailingAfter:
    """A tier that fails after ``upserts`` successful upserts (a crash half-way)."""

    def __init__(self, inner, upserts: int) -> None:
        self.inner, self.left = inner, upserts

    def upsert(self, tenant, chunks, embeddings):
        if self.left == 0:
            raise TierUnavailable("the tier went away")
        self.left -= 1
        self.inner.upsert(tenant, chunks, embeddings)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_an_interrupted_rehydration_resumes_where_it_stopped(container):
    ingest_corpus(container)
    before = top10(container)
    wipe(container)

    with pytest.raises(TierUnavailable):
        rehydrate_tier(container.store, FailingAfter(container.index, 1), batch_chunks=1)
    assert container.index.count("acme") + container.index.count("globex") > 0

    report = rehydrate_tier(container.store, container.index, batch_chunks=1)
    assert report.skipped >= 1  # what the first run wrote is not written again
    assert report.skipped + report.restored == report.documents
    assert top10(container) == before


def test_a_document_without_its_artifact_is_reported(container):
    ingest_corpus(container)
    record = next(r for r in container.ingest_context().store.list("documents/acme/"))
    doc_id = record.rsplit("/", 1)[1].removesuffix(".json")
    from ragops.services.documents import get_document

    version = get_document(container.store, "acme", doc_id).version
    container.store.delete(artifact_key("acme", doc_id, version))
    wipe(container)

    report = rehydrate_tier(container.store, container.index)
    assert report.missing == [f"acme/{doc_id}"]
    assert report.restored == 2 * len(TOPICS) - 1
