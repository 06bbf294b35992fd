"""Behaviour suites for the answer cache's ports, run against every adapter: the
``CacheStore`` (process memory, a real Redis-protocol server, the tier service over HTTP)
and the ``QuestionIndex`` (numpy, Chroma, the tier service). What ``SemanticCache``
relies on must hold for each."""

from __future__ import annotations

import numpy as np
import pytest

from ragops.adapters.chroma_questions import ChromaQuestionIndex
from ragops.adapters.http_cache import HttpTierCache
from ragops.adapters.memory_cache import InMemoryCacheStore, NumpyQuestionIndex
from ragops.adapters.redis_cache import RedisCacheStore
from ragops.errors import CacheUnavailable
from tests.integration.conftest import CACHE_TIER_TOKEN
from tests.servers import free_port

pytestmark = pytest.mark.slow

# Partitions begin with the tenant's corpus generation (``SemanticCache.partition``).
P1, P2, P9 = "3:hybrid:5", "3:bm25:5", "3:vector:5"


@pytest.fixture
def tier_cache(cache_tier):
    """The tier service's cache (Redis entries, Chroma questions), through its client."""
    return HttpTierCache(cache_tier.url, token=CACHE_TIER_TOKEN, timeout=10)


@pytest.fixture(params=["memory", "redis", "tier"])
def any_store(request, tmp_path):
    if request.param == "memory":
        return InMemoryCacheStore(1000)
    if request.param == "redis":
        return RedisCacheStore(request.getfixturevalue("redis_server").url)
    return request.getfixturevalue("tier_cache")


@pytest.fixture(params=["numpy", "chroma", "tier"])
def any_questions(request, chroma_client):
    if request.param == "numpy":
        return NumpyQuestionIndex()
    if request.param == "chroma":
        return ChromaQuestionIndex(chroma_client)
    return request.getfixturevalue("tier_cache")


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_cache_store_contract(any_store):
    any_store.ping()
    start = any_store.generation("acme")
    assert any_store.bump_generation("acme") == start + 1
    assert any_store.generation("acme") == start + 1
    assert any_store.generation("other") == any_store.generation("other")  # stable unread

    assert any_store.get_exact("acme", "p1", "what is x") is None
    assert any_store.get_entry("acme", "e1") is None
    entry = {"answer": "X is y [1].", "citations": [{"number": 1}]}
    any_store.put("acme", "p1", "what is x", "e1", entry, 60)
    assert any_store.get_exact("acme", "p1", "what is x") == "e1"
    assert any_store.get_entry("acme", "e1") == entry
    # Partitions and tenants are apart: the same key elsewhere finds nothing.
    assert any_store.get_exact("acme", "p2", "what is x") is None
    assert any_store.get_exact("globex", "p1", "what is x") is None
    assert any_store.get_entry("globex", "e1") is None
    # A later write under the same key wins.
    any_store.put("acme", "p1", "what is x", "e2", {"answer": "newer"}, 60)
    assert any_store.get_exact("acme", "p1", "what is x") == "e2"


def test_question_index_contract(any_questions):
    any_questions.add("acme", P1, "e1", "how do glaciers move", unit(1, 0, 0, 0))
    any_questions.add("acme", P1, "e2", "what makes tides", unit(0, 1, 0, 0))
    any_questions.add("acme", P2, "e3", "how do glaciers move", unit(1, 0, 0, 0))
    any_questions.add("globex", P1, "e4", "how do glaciers move", unit(1, 0, 0, 0))

    found = any_questions.nearest("acme", P1, unit(1, 0.1, 0, 0), 2)
    assert [c.entry_id for c in found] == ["e1", "e2"]  # most similar first
    assert found[0].question == "how do glaciers move"
    assert found[0].similarity == pytest.approx(
        float(unit(1, 0.1, 0, 0) @ unit(1, 0, 0, 0)), abs=1e-3
    )
    assert found[0].similarity > found[1].similarity
    assert [c.entry_id for c in any_questions.nearest("acme", P1, unit(1, 0, 0, 0), 1)] == ["e1"]
    # Other partitions and tenants are never searched.
    assert [c.entry_id for c in any_questions.nearest("acme", P2, unit(0, 1, 0, 0), 5)] == ["e3"]
    assert any_questions.nearest("acme", P9, unit(1, 0, 0, 0), 5) == []
    assert any_questions.nearest("initech", P1, unit(1, 0, 0, 0), 5) == []


def test_an_unreachable_store_is_cache_unavailable():
    for store in (
        RedisCacheStore(f"redis://127.0.0.1:{free_port()}/0", timeout_seconds=0.2),
        HttpTierCache(f"http://127.0.0.1:{free_port()}", token=CACHE_TIER_TOKEN, timeout=0.5),
    ):
        with pytest.raises(CacheUnavailable):
            store.generation("acme")
        with pytest.raises(CacheUnavailable):
            store.get_exact("acme", "p1", "what is x")


def test_dropping_a_tenant_on_the_tier_removes_its_cached_questions(
    tier_cache, cache_tier, chroma_client
):
    from ragops.adapters.http_tier import HttpVectorTier

    tier_cache.add("acme", P1, "e1", "how do glaciers move", unit(1, 0, 0, 0))
    tier_cache.add("globex", P1, "e2", "how do glaciers move", unit(1, 0, 0, 0))
    HttpVectorTier(cache_tier.url, token=CACHE_TIER_TOKEN).drop_tenant("acme")
    names = {c.name if hasattr(c, "name") else c for c in chroma_client.list_collections()}
    assert "c-acme-questions" not in names and "c-globex-questions" in names
    assert tier_cache.nearest("acme", P1, unit(1, 0, 0, 0), 5) == []
    assert [c.entry_id for c in tier_cache.nearest("globex", P1, unit(1, 0, 0, 0), 5)] == ["e2"]
    # A tenant without cached questions is dropped without complaint.
    HttpVectorTier(cache_tier.url, token=CACHE_TIER_TOKEN).drop_tenant("initech")
