from __future__ import annotations

import numpy as np
import pytest

from ragops.adapters.chroma import ChromaVectorIndex
from ragops.adapters.hybrid_index import HybridIndex
from ragops.domain.models import Chunk, SearchMode
from ragops.errors import ConfigurationError

TEXTS = [
    "glaciers carve valleys over thousands of years",
    "rivers deposit sediment at the delta",
    "the moon pulls the oceans and makes tides",
    "volcanoes release ash and lava",
]


def make_chunks(tenant: str, texts=TEXTS, doc_prefix="doc"):
    return [
        Chunk(
            f"{tenant}-{doc_prefix}{i}-c0",
            f"{doc_prefix}{i}",
            tenant,
            0,
            t,
            f"T{i}",
            f"{i}.txt",
            None,
            0,
            len(t),
        )
        for i, t in enumerate(texts)
    ]


@pytest.fixture
def index(chroma_client):
    return HybridIndex(ChromaVectorIndex(chroma_client, embedding_model="fake/hashing-256"))


def fill(index, embedder, tenant, texts=TEXTS):
    chunks = make_chunks(tenant, texts)
    index.upsert(tenant, chunks, embedder.embed_array([c.indexed_text() for c in chunks]))
    return chunks


@pytest.mark.parametrize("mode", list(SearchMode))
def test_each_mode_finds_the_matching_chunk(index, embedder, mode):
    fill(index, embedder, "acme")
    query = "what makes the tides in the oceans"
    hits = index.search("acme", query, embedder.embed_array([query])[0], 2, mode)
    assert hits[0].chunk.doc_id == "doc2"
    assert len(hits) <= 2


def test_a_query_never_returns_another_tenants_chunk(index, embedder):
    """Two tenants with identical documents: every search, in every mode and at every
    depth, returns only the caller's chunks."""
    fill(index, embedder, "acme")
    fill(index, embedder, "globex")
    fill(index, embedder, "initech", ["completely different words entirely"])
    for tenant in ("acme", "globex", "initech"):
        for query in [*TEXTS, "tides", "nothing matches this zzz"]:
            embedding = embedder.embed_array([query])[0]
            for mode in SearchMode:
                hits = index.search(tenant, query, embedding, 50, mode, candidates=200)
                if mode is not SearchMode.BM25:  # vectors always return the nearest chunks
                    assert hits, (tenant, query, mode)
                assert {h.chunk.tenant for h in hits} <= {tenant}
                assert all(h.chunk.chunk_id.startswith(f"{tenant}-") for h in hits)


def test_unknown_tenant_gets_nothing(index, embedder):
    fill(index, embedder, "acme")
    embedding = embedder.embed_array(["tides"])[0]
    assert index.search("nobody", "tides", embedding, 5) == []


def test_upsert_refuses_chunks_of_another_tenant(index, embedder):
    chunks = make_chunks("globex")
    with pytest.raises(ValueError):
        index.upsert("acme", chunks, embedder.embed_array([c.text for c in chunks]))


def test_delete_document_removes_it_from_both_retrievers(index, embedder):
    fill(index, embedder, "acme")
    assert index.delete_document("acme", "doc2") == 1
    for mode in SearchMode:
        embedding = embedder.embed_array(["tides oceans moon"])[0]
        hits = index.search("acme", "tides oceans moon", embedding, 10, mode)
        assert all(h.chunk.doc_id != "doc2" for h in hits)
    assert index.count("acme") == 3
    assert index.document_count("acme") == 3


def test_state_is_reloaded_from_chroma(chroma_client, embedder):
    first = HybridIndex(ChromaVectorIndex(chroma_client, embedding_model="fake/hashing-256"))
    fill(first, embedder, "acme")
    second = HybridIndex(ChromaVectorIndex(chroma_client, embedding_model="fake/hashing-256"))
    hits = second.search("acme", "volcanoes ash", embedder.embed_array(["volcanoes ash"])[0], 1)
    assert hits[0].chunk.doc_id == "doc3"
    assert hits[0].chunk.title == "T3"
    assert second.document_chunk_ids("acme", "doc3") == ["acme-doc3-c0"]


def test_collection_built_with_another_embedder_is_refused(chroma_client, embedder):
    fill(HybridIndex(ChromaVectorIndex(chroma_client, embedding_model="model-a")), embedder, "acme")
    other = HybridIndex(ChromaVectorIndex(chroma_client, embedding_model="model-b"))
    with pytest.raises(ConfigurationError, match="model-a"):
        other.search("acme", "q", np.ones(256, np.float32), 1)


def test_hits_carry_both_scores_in_hybrid_mode(index, embedder):
    fill(index, embedder, "acme")
    query = "volcanoes release ash"
    hit = index.search("acme", query, embedder.embed_array([query])[0], 1)[0]
    assert hit.vector_score is not None and 0.0 < hit.vector_score <= 1.0001
    assert hit.bm25_score is not None and hit.bm25_score > 0


def test_drop_tenant_removes_only_that_tenant(index, embedder):
    fill(index, embedder, "acme")
    fill(index, embedder, "globex")
    index.drop_tenant("acme")
    assert index.count("acme") == 0
    assert index.search("acme", "tides", embedder.embed_array(["tides"])[0], 5) == []
    assert index.count("globex") == len(TEXTS)
