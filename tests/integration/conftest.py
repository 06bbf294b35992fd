"""Integration fixtures: the real local models (loaded once per session) and real servers."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def real_embedder():
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
