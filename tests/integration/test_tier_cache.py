"""The answer cache as the functions use it on AWS: through the tier service (uvicorn on
127.0.0.1) to Redis (a real Valkey) and the Chroma question index, with the tier ending a
tenant's cached answers on every index write."""

from __future__ import annotations

import pytest

from ragops.bootstrap import build_container
from ragops.services.answering import answer_question
from ragops.services.ingestion import ingest_document
from ragops.settings import Settings
from tests.fakes import GENERATIVE, ScriptedChatModel
from tests.integration.conftest import CACHE_TIER_TOKEN

pytestmark = pytest.mark.slow

TOKEN = CACHE_TIER_TOKEN
GUIDE = (
    b"# Operations guide\n\nPausing the tier destroys the EKS cluster with Terraform.\n\n"
    b"The semantic cache keeps answers in Redis with a time to live.\n"
)
QUESTION = "What does pausing the tier do?"


@pytest.fixture
def chat_model():
    return ScriptedChatModel(responses=["Pausing destroys the EKS tier [1]."])


@pytest.fixture
def functions(tmp_path, cache_tier, embedder, chat_model):
    """The API and ingest side as on Lambda: index and cache both behind the tier URL."""
    settings = Settings(
        data_dir=tmp_path / "functions",
        min_relevance=0.1,
        tier_url=cache_tier.url,
        tier_token=TOKEN,
        cache="tier",
        cache_threshold=0.0,  # any candidate over the cosine floor is served
        metrics="prometheus",
        **GENERATIVE,
    )
    container = build_container(settings, embedder=embedder, chat_model=chat_model)
    ingest_document(container.ingest_context(), tenant="acme", filename="ops.md", data=GUIDE)
    return container


def _ask(container, question=QUESTION, tenant="acme"):
    return answer_question(container.answer_context(), tenant=tenant, question=question)


def test_exact_and_semantic_hits_through_the_tier(functions, chat_model):
    assert _ask(functions).cache.hit is None
    assert _ask(functions, "what does pausing the tier do").cache.hit == "exact"
    near = _ask(functions, "What does pausing the tier do exactly?")
    assert near.cache.hit == "semantic" and near.cache.matched_question == QUESTION
    assert len(chat_model.seen) == 1


def test_a_write_through_the_tier_ends_the_cached_answers(functions, chat_model):
    _ask(functions)
    ingest_document(
        functions.ingest_context(), tenant="acme", filename="n.md", data=b"# N\n\nPausing is free."
    )
    assert _ask(functions).cache.hit is None
    assert _ask(functions).cache.hit == "exact"  # cached anew under the new generation
    assert len(chat_model.seen) == 2


def test_tenants_do_not_share_through_the_tier(functions, chat_model):
    _ask(functions)
    ingest_document(functions.ingest_context(), tenant="globex", filename="ops.md", data=GUIDE)
    assert _ask(functions, tenant="globex").cache.hit is None  # acme's entry is not globex's
    assert len(chat_model.seen) == 2
    near = _ask(functions, "What does pausing the tier do exactly?", "globex")
    assert near.cache.hit == "semantic" and len(chat_model.seen) == 2


def test_redis_down_on_the_tier_skips_the_cache(functions, redis_server, chat_model):
    _ask(functions)
    redis_server.stop()
    answer = _ask(functions)
    assert answer.cache.hit is None and not answer.abstained
    body, _ = functions.metrics.render()
    assert b"ragops_cache_errors_total" in body
