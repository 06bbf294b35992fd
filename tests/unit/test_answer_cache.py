"""The answer cache: exact and semantic layers, invalidation on corpus change, tenant
isolation, the verifier, and the cache in the query path."""

from __future__ import annotations

import json
import random

import pytest

from ragops.adapters.memory_cache import FileGenerations, InMemoryCacheStore, NumpyQuestionIndex
from ragops.domain.cache import (
    FEATURE_NAMES,
    Candidate,
    DuplicateVerifier,
    _Tree,
    best_verified,
    normalise_question,
    pair_features,
    question_key,
)
from ragops.domain.models import Answer, Citation, Usage
from ragops.errors import CacheUnavailable
from ragops.services.answer_cache import CacheInvalidatingTier, SemanticCache
from ragops.services.answering import answer_question
from ragops.services.documents import delete_document
from ragops.services.ingestion import ingest_document
from tests.fakes import GENERATIVE

PLAIN = DuplicateVerifier(threshold=0.8, similarity_floor=0.8, candidates=3)

GUIDE = (
    b"# Operations guide\n\nPausing the tier destroys the EKS cluster with Terraform.\n\n"
    b"The semantic cache keeps answers in Redis with a time to live.\n"
)


def _answer(text: str) -> Answer:
    citation = Citation(1, "d1", "d1:0", "Guide", "guide.md", None, "snippet", 0.5)
    return Answer(answer=text, citations=[citation], model="m", usage=Usage(), latency_ms=1.0)


def _cache(embedder, verifier=PLAIN, store=None) -> SemanticCache:
    return SemanticCache(
        store if store is not None else InMemoryCacheStore(), NumpyQuestionIndex(), verifier
    )


def _remember(cache, embedder, tenant, question, text, scope="s"):
    partition = cache.partition(tenant, scope)
    vector = embedder.embed_array([question])[0]
    cache.remember(tenant, partition, question, vector, _answer(text))
    return partition


def _lookup(cache, embedder, tenant, question, scope="s"):
    partition, hit = cache.lookup_exact(tenant, scope, question)
    if hit is None:
        hit = cache.lookup_semantic(
            tenant, partition, question, embedder.embed_array([question])[0]
        )
    return hit


def test_normalised_questions_share_a_key():
    assert normalise_question("  What is RAG?? ") == "what is rag"
    assert question_key("What is RAG?") == question_key("what   is rag")
    assert question_key("What is RAG?") != question_key("What is BM25?")


def test_exact_then_semantic_then_miss(embedder):
    cache = _cache(embedder)
    _remember(cache, embedder, "acme", "How do I pause the tier?", "Run make pause [1].")
    exact = _lookup(cache, embedder, "acme", "how do I pause the tier")
    assert exact.info.hit == "exact" and exact.answer == "Run make pause [1]."
    assert exact.citations[0].source == "guide.md"
    near = _lookup(cache, embedder, "acme", "How do I pause the tier quickly?")
    assert near.info.hit == "semantic"
    assert 0.8 <= near.info.similarity < 1.0
    assert near.info.matched_question == "How do I pause the tier?"
    assert _lookup(cache, embedder, "acme", "What does BM25 weigh?") is None


def test_tenants_never_share_entries(embedder):
    """Randomised: whatever one tenant caches, another never gets, exact or near."""
    rng = random.Random(7)
    words = [
        "tier",
        "pause",
        "resume",
        "cache",
        "redis",
        "chroma",
        "bucket",
        "query",
        "answer",
        "cost",
    ]
    cache = _cache(embedder, DuplicateVerifier(threshold=0.0, similarity_floor=-1.0))
    questions = [" ".join(rng.sample(words, 4)) + "?" for _ in range(40)]
    owners: dict[str, set[str]] = {}
    for q in questions:
        tenant = rng.choice(["acme", "globex"])
        _remember(cache, embedder, tenant, q, f"answer {q}")
        owners.setdefault(q, set()).add(tenant)
    served = 0
    for q in questions:
        for tenant in ("acme", "globex", "initech"):
            hit = _lookup(cache, embedder, tenant, q)
            if hit is not None:
                served += 1
                assert tenant in owners[hit.answer.removeprefix("answer ")]
    assert served >= len(questions)  # every question finds its own tenant's entry
    assert _lookup(cache, embedder, "initech", questions[0]) is None


def test_a_corpus_change_ends_every_entry_of_that_tenant_only(embedder):
    store = InMemoryCacheStore()
    cache = _cache(embedder, store=store)
    _remember(cache, embedder, "acme", "How do I pause the tier?", "A")
    _remember(cache, embedder, "globex", "How do I pause the tier?", "G")
    store.bump_generation("acme")
    assert _lookup(cache, embedder, "acme", "How do I pause the tier?") is None
    assert _lookup(cache, embedder, "acme", "How do I pause the tier quickly?") is None
    assert _lookup(cache, embedder, "globex", "How do I pause the tier?").answer == "G"


def test_an_entry_of_another_generation_is_never_served_even_if_the_index_offers_it(embedder):
    """The partition check on the entry itself, not only the lookup key, stops it."""
    store = InMemoryCacheStore()
    index = NumpyQuestionIndex()
    cache = SemanticCache(store, index, PLAIN)
    old = _remember(cache, embedder, "acme", "How do I pause the tier?", "old")
    store.bump_generation("acme")
    new = cache.partition("acme", "s")
    # A stale entry that the index offers under the new partition:
    store.put("acme", old, question_key("q"), "stale", {"partition": old, "answer": "old"}, 60)
    index.add(
        "acme",
        new,
        "stale",
        "How do I pause the tier?",
        embedder.embed_array(["How do I pause the tier?"])[0],
    )
    hit = cache.lookup_semantic(
        "acme",
        new,
        "How do I pause the tier?",
        embedder.embed_array(["How do I pause the tier?"])[0],
    )
    assert hit is None


def test_entries_expire_and_the_store_keeps_its_size_limit(embedder):
    now = [0.0]
    store = InMemoryCacheStore(max_entries=3, clock=lambda: now[0])
    store.put("acme", "0:s", "k1", "e1", {"partition": "0:s"}, ttl_seconds=10)
    now[0] = 11.0
    assert store.get_entry("acme", "e1") is None
    for i in range(5):
        store.put("acme", "0:s", f"k{i}", f"e{i}", {"partition": "0:s"}, ttl_seconds=100)
    assert len(store) == 3
    assert store.get_entry("acme", "e0") is None and store.get_entry("acme", "e4") is not None


def test_file_generations_are_shared_between_processes(tmp_path):
    a, b = FileGenerations(tmp_path), FileGenerations(tmp_path)
    assert a.get("acme") == 0
    assert b.bump("acme") == 1
    assert a.get("acme") == 1 and a.get("globex") == 0


class _FailingStore(InMemoryCacheStore):
    def generation(self, tenant):
        raise CacheUnavailable("down")

    def bump_generation(self, tenant):
        raise CacheUnavailable("down")


def test_an_unreachable_cache_is_skipped_on_lookup(embedder):
    cache = _cache(embedder, store=_FailingStore())
    partition, hit = cache.lookup_exact("acme", "s", "anything")
    assert (partition, hit) == ("", None)
    cache.remember("acme", partition, "q", None, _answer("a"))  # no error


def test_a_write_that_cannot_invalidate_fails(container, embedder):
    tier = CacheInvalidatingTier(container.raw_index(), _FailingStore())
    from tests.fakes import sample_chunks

    chunks = sample_chunks("acme")
    with pytest.raises(CacheUnavailable):
        tier.upsert("acme", chunks, embedder.embed_array([c.text for c in chunks]))


def _tree(feature: int, threshold: float, low: float, high: float) -> _Tree:
    return _Tree(
        [feature, 0, 0],
        [threshold, 0.0, 0.0],
        [1, 0, 0],
        [2, 0, 0],
        [0.0, low, high],
        [False, True, True],
        [True, False, False],
    )


def test_the_verifier_rejects_what_cosine_alone_would_serve():
    # A one-tree verifier: differing numbers push the score down whatever the cosine.
    numbers = FEATURE_NAMES.index("numbers_differ")
    verifier = DuplicateVerifier(
        trees=[_tree(numbers, 0.5, 3.0, -3.0)], threshold=0.9, similarity_floor=0.5
    )
    same = [Candidate("e1", "How old is Python 3?", 0.97)]
    other = [Candidate("e2", "How old is Python 2?", 0.97)]
    assert best_verified(verifier, "How old is Python 3?", same) is not None
    assert best_verified(verifier, "How old is Python 3?", other) is None
    assert best_verified(PLAIN, "How old is Python 3?", other) is not None


def test_verifier_round_trips_and_refuses_foreign_files():
    verifier = DuplicateVerifier(trees=[_tree(0, 0.9, -1.0, 2.0)], baseline=0.1, threshold=0.7)
    again = DuplicateVerifier.from_dict(json.loads(json.dumps(verifier.to_dict())))
    row = pair_features("a b c", "a b d", 0.95, 0, 0.0)
    assert again.score(row) == pytest.approx(verifier.score(row))
    with pytest.raises(ValueError):
        DuplicateVerifier.from_dict({"format": "something else"})


def test_packaged_verifier_loads_and_scores_in_range():
    verifier = DuplicateVerifier.packaged()
    assert verifier.trees and 0.5 < verifier.threshold < 1.0
    row = pair_features("How do I learn Python?", "How can I learn Python?", 0.95, 0, 0.0)
    assert 0.0 <= verifier.score(row) <= 1.0


# -- in the query path -------------------------------------------------------------------
@pytest.fixture
def cached(tmp_path, embedder, chroma_client, chat_model):
    from ragops.bootstrap import build_container
    from ragops.settings import Settings

    settings = Settings(
        data_dir=tmp_path / "data", min_relevance=0.1, cache_threshold=0.0, **GENERATIVE
    )
    container = build_container(
        settings, embedder=embedder, chroma_client=chroma_client, chat_model=chat_model
    )
    ingest_document(container.ingest_context(), tenant="acme", filename="ops.md", data=GUIDE)
    return container


def _ask(container, question, tenant="acme"):
    return answer_question(container.answer_context(), tenant=tenant, question=question)


def test_second_ask_is_served_from_cache_without_the_model(cached, chat_model):
    first = _ask(cached, "What does pausing the tier do?")
    assert first.cache.hit is None and len(chat_model.seen) == 1
    second = _ask(cached, "what does pausing the tier do")
    assert second.cache.hit == "exact" and len(chat_model.seen) == 1
    assert second.answer == first.answer and second.citations == first.citations
    assert second.usage.input_tokens == 0 and second.cost.generation_usd == 0.0


def test_cache_is_not_served_after_the_corpus_changes(cached, chat_model):
    _ask(cached, "What does pausing the tier do?")
    ingest_document(
        cached.ingest_context(), tenant="acme", filename="new.md", data=b"# New\n\nPausing is free."
    )
    again = _ask(cached, "What does pausing the tier do?")
    assert again.cache.hit is None and len(chat_model.seen) == 2
    _ask(cached, "What does pausing the tier do?")
    assert len(chat_model.seen) == 2  # cached again under the new generation
    from ragops.services.documents import list_documents

    doc = next(r for r in list_documents(cached.store, "acme") if r.source == "new.md")
    delete_document(cached.store, cached.index, "acme", doc.doc_id)
    assert _ask(cached, "What does pausing the tier do?").cache.hit is None
    assert len(chat_model.seen) == 3


def test_another_tenant_never_gets_the_cached_answer(cached, chat_model):
    _ask(cached, "What does pausing the tier do?")
    ingest_document(cached.ingest_context(), tenant="globex", filename="ops.md", data=GUIDE)
    other = _ask(cached, "What does pausing the tier do?", tenant="globex")
    assert other.cache.hit is None and len(chat_model.seen) == 2


def test_the_sign_prefilter_finds_the_nearest_question_among_many():
    """Above PREFILTER_ROWS the exact scoring covers only the rows whose signs differ least;
    a question near a cached one (cosine 0.6 to 0.95) still finds exactly it, at the exact
    cosine, and the entries added one by one carry their signs as bulk-loaded ones do."""
    import numpy as np

    from ragops.adapters.memory_cache import PREFILTER_ROWS, NumpyQuestionIndex

    rng = np.random.default_rng(3)
    rows = PREFILTER_ROWS + 5_000
    matrix = rng.standard_normal((rows, 384)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    index = NumpyQuestionIndex(max_per_partition=10 * rows)
    index.add_many("t", "p", [f"e{i}" for i in range(rows - 50)], ["q"] * (rows - 50), matrix[:-50])
    for i in range(rows - 50, rows):
        index.add("t", "p", f"e{i}", "q", matrix[i])
    for trial in range(60):
        planted = int(rng.integers(rows)) if trial % 2 else rows - 1 - trial // 2
        closeness = 0.6 + 0.35 * rng.random()
        noise = rng.standard_normal(384).astype(np.float32)
        noise -= (noise @ matrix[planted]) * matrix[planted]
        noise /= np.linalg.norm(noise)
        query = closeness * matrix[planted] + np.sqrt(1 - closeness**2) * noise
        (best,) = index.nearest("t", "p", query, 1)
        assert best.entry_id == f"e{planted}"
        assert best.similarity == pytest.approx(float(matrix[planted] @ query), abs=1e-5)
