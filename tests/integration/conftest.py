"""Integration fixtures: the real local models (loaded once per session) and real servers."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def real_embedder():
    """The embedded default's embedder: all-MiniLM-L6-v2 on ONNX Runtime, int8, exported
    where the product keeps it (the user's model cache) unless already there."""
    from ragops.bootstrap import build_container
    from ragops.settings import Settings

    return build_container(Settings()).embedder


@pytest.fixture(scope="session")
def torch_embedder():
    """The same model on torch (sentence-transformers), which the ONNX export must match."""
    from ragops.adapters.local_embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def real_chat_model():
    from ragops.adapters.llamacpp import LlamaCppChatModel

    return LlamaCppChatModel(max_tokens=96)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """One ``chroma run`` server for the session (tests use tenants of their own)."""
    from tests.servers import ChromaServer

    with ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data") as server:
        yield server


TIER_TOKEN = "test-tier-token-0123456789"


@pytest.fixture(scope="session")
def tier_service(chroma_server):
    """The tier service (real uvicorn on 127.0.0.1) over the Chroma server."""
    from ragops.entrypoints.tier_service import app_from_settings
    from ragops.settings import Settings
    from tests.servers import UvicornThread

    settings = Settings(
        chroma_url=chroma_server.url,
        tier_token=TIER_TOKEN,
        index_embedding_model="fake/hashing-256",
        tier_refresh_seconds=0,
    )
    with UvicornThread(app_from_settings(settings)) as running:
        yield running


CACHE_TIER_TOKEN = "tier-cache-test-token-0123"


@pytest.fixture
def redis_server(tmp_path):
    """A real Redis-protocol server (Valkey) of this test's own."""
    from tests.servers import RedisServer

    with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def cache_tier(redis_server, chroma_client):
    """The tier service with the answer cache, as on EKS (entries in Redis, cached
    questions in Chroma), on a real uvicorn server; bearer token ``CACHE_TIER_TOKEN``."""
    from ragops.adapters.chroma import ChromaVectorIndex
    from ragops.adapters.chroma_questions import ChromaQuestionIndex
    from ragops.adapters.hybrid_index import HybridIndex
    from ragops.adapters.redis_cache import RedisCacheStore
    from ragops.entrypoints.tier_service import create_tier_app
    from ragops.services.answer_cache import CacheInvalidatingTier
    from tests.servers import UvicornThread

    store = RedisCacheStore(redis_server.url)
    index = HybridIndex(ChromaVectorIndex(chroma_client, embedding_model="fake/hashing-256"))
    app = create_tier_app(
        CacheInvalidatingTier(index, store),
        token=CACHE_TIER_TOKEN,
        cache_store=store,
        cache_questions=ChromaQuestionIndex(chroma_client),
    )
    with UvicornThread(app) as running:
        yield running
