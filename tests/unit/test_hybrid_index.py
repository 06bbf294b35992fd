from __future__ import annotations

import numpy as np
import pytest

from ragops.adapters.chroma import ChromaVectorIndex
from ragops.adapters.hybrid_index import HybridIndex
from ragops.domain.models import SearchMode
from ragops.errors import ConfigurationError
from tests.fakes import SAMPLE_TEXTS, fill_index


@pytest.fixture
def index(chroma_client):
    return HybridIndex(ChromaVectorIndex(chroma_client, embedding_model="fake/hashing-256"))


def test_state_is_reloaded_from_chroma(chroma_client, embedder):
    first = HybridIndex(ChromaVectorIndex(chroma_client, embedding_model="fake/hashing-256"))
    fill_index(first, embedder, "acme")
    second = HybridIndex(ChromaVectorIndex(chroma_client, embedding_model="fake/hashing-256"))
    hits = second.search("acme", "volcanoes ash", embedder.embed_array(["volcanoes ash"])[0], 1)
    assert hits[0].chunk.doc_id == "doc3"
    assert hits[0].chunk.title == "T3"
    assert second.document_chunk_ids("acme", "doc3") == ["acme-doc3-c0"]


def test_collection_built_with_another_embedder_is_refused(chroma_client, embedder):
    fill_index(
        HybridIndex(ChromaVectorIndex(chroma_client, embedding_model="model-a")), embedder, "acme"
    )
    other = HybridIndex(ChromaVectorIndex(chroma_client, embedding_model="model-b"))
    with pytest.raises(ConfigurationError, match="model-a"):
        other.search("acme", "q", np.ones(256, np.float32), 1)


def test_a_second_process_sees_writes_after_the_refresh_interval(chroma_client, embedder):
    """Two tier replicas over one Chroma: what one writes or deletes, the other serves once
    its view is older than ``refresh_seconds``; with no refresh it keeps its stale view."""
    writer = HybridIndex(ChromaVectorIndex(chroma_client, embedding_model="fake/hashing-256"))
    replica = HybridIndex(
        ChromaVectorIndex(chroma_client, embedding_model="fake/hashing-256"), refresh_seconds=0
    )
    stale = HybridIndex(ChromaVectorIndex(chroma_client, embedding_model="fake/hashing-256"))
    writer.refresh_seconds = 0
    fill_index(writer, embedder, "acme", SAMPLE_TEXTS[:2])
    for index in (replica, stale):
        assert index.count("acme") == 2
    fill_index(writer, embedder, "acme")
    writer.delete_document("acme", "doc0")
    assert replica.count("acme") == 3
    assert replica.search("acme", "lava", None, 1, SearchMode.BM25)[0].chunk.doc_id == "doc3"
    assert stale.count("acme") == 2  # the embedded default never re-reads Chroma

    writer.drop_tenant("acme")
    assert replica.count("acme") == 0
    assert replica.search("acme", "lava", None, 1, SearchMode.BM25) == []
    assert replica.tenants() == []


def test_a_collection_gets_the_configured_search_breadth(chroma_client, embedder):
    """``ef_search`` is a search-time setting: a collection made with another value (an older
    version, another setting) is given the configured one when opened, keeping its data."""
    narrow = HybridIndex(ChromaVectorIndex(chroma_client, embedding_model="m", ef_search=100))
    fill_index(narrow, embedder, "acme")
    hnsw = chroma_client.get_collection("t-acme-chunks").configuration_json["hnsw"]
    assert hnsw["ef_search"] == 100
    wide = HybridIndex(ChromaVectorIndex(chroma_client, embedding_model="m", ef_search=400))
    assert wide.count("acme") == len(SAMPLE_TEXTS)
    hnsw = chroma_client.get_collection("t-acme-chunks").configuration_json["hnsw"]
    assert hnsw["ef_search"] == 400 and hnsw["space"] == "cosine"
