"""One behaviour suite for every ``VectorTier``: the hybrid index in this process (embedded
Chroma), and the tier service over HTTP (``HttpVectorTier`` -> uvicorn on 127.0.0.1 ->
``HybridIndex`` -> a real ``chroma run`` server). What the services rely on must hold for
both, and both must rank the same corpus identically."""

from __future__ import annotations

import itertools
import json
import uuid
from pathlib import Path

import numpy as np
import pytest

from ragops.adapters.chroma import ChromaVectorIndex
from ragops.adapters.http_tier import HttpVectorTier
from ragops.adapters.hybrid_index import HybridIndex
from ragops.domain.models import Chunk, SearchMode
from tests.fakes import SAMPLE_TEXTS, fill_index, sample_chunks
from tests.integration.conftest import TIER_TOKEN

pytestmark = pytest.mark.slow

SCIFACT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "scifact"


def in_process_tier(chroma_client):
    return HybridIndex(ChromaVectorIndex(chroma_client, embedding_model="fake/hashing-256"))


def http_tier(tier_service):
    return HttpVectorTier(tier_service.url, token=TIER_TOKEN)


@pytest.fixture(params=["in_process", "http"])
def tier(request):
    if request.param == "in_process":
        return in_process_tier(request.getfixturevalue("chroma_client"))
    return http_tier(request.getfixturevalue("tier_service"))


@pytest.fixture
def tenant_name():
    """Unique tenant ids: the HTTP tier's server lives for the whole session."""
    run = uuid.uuid4().hex[:8]
    return lambda name: f"{name}-{run}"


@pytest.mark.parametrize("mode", list(SearchMode))
def test_each_mode_finds_the_matching_chunk(tier, embedder, tenant_name, mode):
    acme = tenant_name("acme")
    fill_index(tier, embedder, acme)
    query = "what makes the tides in the oceans"
    hits = tier.search(acme, query, embedder.embed_array([query])[0], 2, mode)
    assert hits[0].chunk.doc_id == "doc2"
    assert len(hits) <= 2
    assert hits[0].chunk == sample_chunks(acme)[2]


def test_a_query_never_returns_another_tenants_chunk(tier, embedder, tenant_name):
    """Two tenants with identical documents: every search, in every mode and at every
    depth, returns only the caller's chunks."""
    tenants = [tenant_name(n) for n in ("acme", "globex", "initech")]
    fill_index(tier, embedder, tenants[0])
    fill_index(tier, embedder, tenants[1])
    fill_index(tier, embedder, tenants[2], ["completely different words entirely"])
    for tenant in tenants:
        for query in [*SAMPLE_TEXTS, "tides", "nothing matches this zzz"]:
            embedding = embedder.embed_array([query])[0]
            for mode in SearchMode:
                hits = tier.search(tenant, query, embedding, 50, mode, candidates=200)
                if mode is not SearchMode.BM25:  # vectors always return the nearest chunks
                    assert hits, (tenant, query, mode)
                assert {h.chunk.tenant for h in hits} <= {tenant}
                assert all(h.chunk.chunk_id.startswith(f"{tenant}-") for h in hits)


def test_unknown_tenant_gets_nothing(tier, embedder, tenant_name):
    fill_index(tier, embedder, tenant_name("acme"))
    embedding = embedder.embed_array(["tides"])[0]
    assert tier.search(tenant_name("nobody"), "tides", embedding, 5) == []
    assert tier.count(tenant_name("nobody")) == 0


def test_upsert_refuses_chunks_of_another_tenant(tier, embedder, tenant_name):
    chunks = sample_chunks(tenant_name("globex"))
    with pytest.raises(ValueError):
        tier.upsert(tenant_name("acme"), chunks, embedder.embed_array([c.text for c in chunks]))
    assert tier.count(tenant_name("acme")) == 0


def test_an_invalid_tenant_id_is_refused(tier, embedder):
    with pytest.raises(ValueError, match="invalid tenant"):
        tier.search("../etc", "q", embedder.embed_array(["q"])[0], 1)


def test_upsert_replaces_chunks_with_the_same_id(tier, embedder, tenant_name):
    acme = tenant_name("acme")
    fill_index(tier, embedder, acme)
    fill_index(tier, embedder, acme, ["penguins huddle on the ice", *SAMPLE_TEXTS[1:]])
    assert tier.count(acme) == len(SAMPLE_TEXTS)
    query = "penguins huddle"
    for mode in SearchMode:
        hits = tier.search(acme, query, embedder.embed_array([query])[0], 1, mode)
        assert hits[0].chunk.text == "penguins huddle on the ice"


def test_delete_document_removes_it_from_both_retrievers(tier, embedder, tenant_name):
    acme = tenant_name("acme")
    fill_index(tier, embedder, acme)
    assert tier.document_chunk_ids(acme, "doc2") == [f"{acme}-doc2-c0"]
    assert tier.delete_document(acme, "doc2") == 1
    for mode in SearchMode:
        embedding = embedder.embed_array(["tides oceans moon"])[0]
        hits = tier.search(acme, "tides oceans moon", embedding, 10, mode)
        assert all(h.chunk.doc_id != "doc2" for h in hits)
    assert tier.count(acme) == 3
    assert tier.document_count(acme) == 3
    assert tier.document_chunk_ids(acme, "doc2") == []
    assert tier.delete_document(acme, "doc2") == 0


def test_delete_chunks_removes_only_those(tier, embedder, tenant_name):
    acme = tenant_name("acme")
    fill_index(tier, embedder, acme)
    tier.delete_chunks(acme, [f"{acme}-doc0-c0", f"{acme}-doc3-c0", "no-such-chunk"])
    assert tier.count(acme) == 2
    remaining = tier.search(acme, "rivers moon", embedder.embed_array(["rivers moon"])[0], 10)
    assert {h.chunk.doc_id for h in remaining} == {"doc1", "doc2"}


def test_hits_carry_both_scores_in_hybrid_mode(tier, embedder, tenant_name):
    acme = tenant_name("acme")
    fill_index(tier, embedder, acme)
    query = "volcanoes release ash"
    hit = tier.search(acme, query, embedder.embed_array([query])[0], 1)[0]
    assert hit.vector_score is not None and 0.0 < hit.vector_score <= 1.0001
    assert hit.bm25_score is not None and hit.bm25_score > 0


def test_bm25_mode_needs_no_embedding_and_others_do(tier, embedder, tenant_name):
    acme = tenant_name("acme")
    fill_index(tier, embedder, acme)
    assert tier.search(acme, "lava", None, 1, SearchMode.BM25)[0].chunk.doc_id == "doc3"
    with pytest.raises(ValueError, match="embedding"):
        tier.search(acme, "lava", None, 1, SearchMode.HYBRID)


def test_drop_tenant_removes_only_that_tenant(tier, embedder, tenant_name):
    acme, globex = tenant_name("acme"), tenant_name("globex")
    fill_index(tier, embedder, acme)
    fill_index(tier, embedder, globex)
    tier.drop_tenant(acme)
    assert tier.count(acme) == 0
    assert tier.search(acme, "tides", embedder.embed_array(["tides"])[0], 5) == []
    assert tier.count(globex) == len(SAMPLE_TEXTS)


def scifact_sample(limit_docs: int = 400, limit_queries: int = 40):
    corpus = []
    with open(SCIFACT / "corpus.jsonl") as handle:
        for line in itertools.islice(handle, limit_docs):
            doc = json.loads(line)
            corpus.append((doc["_id"], doc.get("title", ""), doc["text"]))
    with open(SCIFACT / "queries.jsonl") as handle:
        queries = [json.loads(line)["text"] for line in itertools.islice(handle, limit_queries)]
    return corpus, queries


def scifact_chunks(tenant, embedder):
    corpus, queries = scifact_sample()
    chunks = [
        Chunk(f"{doc_id}-c0", doc_id, tenant, 0, text, title, f"{doc_id}.txt", None, 0, len(text))
        for doc_id, title, text in corpus
    ]
    return chunks, embedder.embed_array([c.indexed_text() for c in chunks]), queries


def test_the_http_tier_answers_exactly_as_the_index_it_serves(
    chroma_server, tier_service, embedder, tenant_name
):
    """400 SciFact abstracts written through HTTP; a hybrid index in this process reading
    the same Chroma server gets, for every query in every mode, the same top 10 in the same
    order with the same scores: the service and the wire lose nothing."""
    from ragops.adapters.chroma import make_http_client

    tenant = tenant_name("scifact")
    chunks, vectors, queries = scifact_chunks(tenant, embedder)
    remote = http_tier(tier_service)
    remote.upsert(tenant, chunks, vectors)
    local = HybridIndex(
        ChromaVectorIndex(make_http_client(chroma_server.url), embedding_model="fake/hashing-256")
    )
    assert local.count(tenant) == remote.count(tenant) == len(chunks)
    for query in queries:
        embedding = embedder.embed_array([query])[0]
        for mode in SearchMode:
            expected = local.search(tenant, query, embedding, 10, mode)
            got = remote.search(tenant, query, embedding, 10, mode)
            assert [h.chunk for h in got] == [h.chunk for h in expected], (query, mode)
            for field in ("score", "vector_score", "bm25_score"):
                np.testing.assert_allclose(
                    [getattr(h, field) or 0.0 for h in got],
                    [getattr(h, field) or 0.0 for h in expected],
                    rtol=1e-6,
                    err_msg=f"{field} for {query!r} in {mode}",
                )


def test_embedded_and_server_chroma_rank_alike(chroma_client, tier_service, embedder, tenant_name):
    """The same corpus in embedded Chroma and behind the tier service. HNSW is approximate
    and two builds of its graph differ in the tail of the candidate pool, so fused scores
    may differ slightly; the top 10 must still agree (measured here: see the assertion)."""
    tenant = tenant_name("scifact")
    chunks, vectors, queries = scifact_chunks(tenant, embedder)
    local, remote = in_process_tier(chroma_client), http_tier(tier_service)
    for tier in (local, remote):
        tier.upsert(tenant, chunks, vectors)
    overlaps = []
    for query in queries:
        embedding = embedder.embed_array([query])[0]
        for mode in SearchMode:
            expected = [h.chunk.chunk_id for h in local.search(tenant, query, embedding, 10, mode)]
            got = [h.chunk.chunk_id for h in remote.search(tenant, query, embedding, 10, mode)]
            if mode is SearchMode.BM25:  # no approximation on the keyword side
                assert got == expected, query
            overlaps.append(len(set(got) & set(expected)) / 10)
    # Seen: mean 0.99, min 0.9 (one query with a tie at rank 10).
    summary = f"mean top-10 overlap {np.mean(overlaps):.4f}, min {min(overlaps):.2f}"
    assert np.mean(overlaps) >= 0.98 and min(overlaps) >= 0.8, summary
