"""Extractive answers in the query path: the default mode, answerability, auto routing,
streaming, the cache and reranking (fake embedder, real Chroma, the packaged model)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ragops.domain.models import AnswerMode, SearchHit
from ragops.domain.prompts import NOT_FOUND_ANSWER
from ragops.domain.routing import ModelTier
from ragops.services.answering import (
    NOT_ANSWERED,
    AnswerDelta,
    SentenceEmbeddings,
    answer_question,
    prepare_question,
    stream_answer,
)
from ragops.services.ingestion import ingest_document

GUIDE = (
    b"# Operations guide\n\n## Maintenance mode\n\n"
    b"While the tier is paused, queries answer 503 with a Retry-After header. "
    b"Uploads are still accepted and indexed after resume.\n\n"
    b"## Search\n\n"
    b"Hybrid fusion standardises the vector and BM25 scores as z-scores and adds them "
    b"with equal weights. The embedding model used locally is all-MiniLM-L6-v2.\n"
)


@pytest.fixture
def ready(tmp_path, embedder, chroma_client, chat_model):
    from ragops.bootstrap import build_container
    from ragops.settings import Settings

    # The packaged reader was fitted on all-MiniLM-L6-v2's similarities, not the fake
    # embedder's: the gate is opened here and closed where a test is about it.
    container = build_container(
        Settings(data_dir=tmp_path / "data", min_relevance=0.1, answerability_threshold=0.0),
        embedder=embedder,
        chroma_client=chroma_client,
        chat_model=chat_model,
    )
    ingest_document(container.ingest_context(), tenant="acme", filename="ops.md", data=GUIDE)
    return container


def _ask(container, question: str, **ctx_changes):
    ctx = replace(container.answer_context(), **ctx_changes)
    return answer_question(ctx, tenant="acme", question=question)


def test_the_default_answer_is_the_passages_own_sentence_with_its_citation(ready, chat_model):
    answer = _ask(ready, "How is hybrid fusion done with z-scores?")
    assert answer.mode is AnswerMode.EXTRACTIVE and answer.fallback is None
    assert answer.answer.startswith(
        "Hybrid fusion standardises the vector and BM25 scores as z-scores"
    )
    assert "[1]" in answer.answer
    (citation,) = answer.citations
    assert citation.number == 1 and citation.source == "ops.md"
    assert citation.section == "Search"
    assert "Hybrid fusion standardises" in citation.snippet
    assert answer.route is not None and answer.route.tier is ModelTier.EXTRACTIVE
    assert answer.model == "extractive" and answer.usage.output_tokens == 0
    assert answer.groundedness is not None and answer.groundedness.grounded
    assert answer.answerability is not None and answer.answerability.answerable
    assert answer.prompt is None  # no prompt wrote it
    assert chat_model.seen == []  # no model wrote text
    # Locally free; the tokens embedded (question and sentences) are counted.
    assert answer.cost is not None and answer.cost.embedding_tokens > 0
    assert answer.cost.total_usd == 0.0


def test_an_unanswerable_question_is_declined_in_every_mode(ready, chat_model):
    for mode in ("extractive", "generative", "auto"):
        answer = _ask(
            ready,
            "While the tier is paused, what happens to uploads?",
            answer_mode=mode,
            answer_model=ready.answer_model.with_threshold(1.0),
        )
        assert answer.abstained and answer.answer == NOT_ANSWERED
        assert answer.citations == [] and answer.mode is None
        assert answer.answerability is not None and not answer.answerability.answerable
    assert chat_model.seen == []


def test_nothing_relevant_says_nothing_was_found(ready):
    answer = _ask(ready, "zebra quantum xylophone", min_relevance=0.5)
    assert answer.abstained and answer.answer == NOT_FOUND_ANSWER


def test_prepare_question_is_the_decision_answering_takes(ready):
    ctx = ready.answer_context()
    prepared = prepare_question(ctx, tenant="acme", question="What happens while paused?")
    assert not prepared.declined and prepared.extraction is not None
    refusing = replace(ctx, answer_model=ready.answer_model.with_threshold(1.0))
    assert prepare_question(refusing, tenant="acme", question="What happens while paused?").declined


def test_auto_answers_a_factual_question_extractively_and_sends_reasoning_to_a_model(
    ready, chat_model
):
    chat_model.responses = ["Queries answer 503 while the tier is paused [1]."]
    factual = _ask(ready, "Which embedding model is used locally?", answer_mode="auto")
    assert factual.route.tier is ModelTier.EXTRACTIVE and factual.mode is AnswerMode.EXTRACTIVE
    assert "all-MiniLM-L6-v2" in factual.answer
    assert chat_model.seen == []
    reasoning = _ask(
        ready,
        "Why do queries answer 503 while the tier is paused, and how does resume work?",
        answer_mode="auto",
    )
    assert reasoning.route.tier in (ModelTier.LITE, ModelTier.PRO)
    assert reasoning.mode is AnswerMode.GENERATIVE and len(chat_model.seen) == 1


def test_a_generated_answer_flagged_by_the_embedding_check_falls_back(ready, chat_model):
    # Every word is in the passage (so it is kept), but no embedding is this close.
    chat_model.responses = ["Uploads are still accepted and indexed after resume [1]."]
    answer = _ask(
        ready,
        "What happens to uploads while the tier is paused?",
        answer_mode="generative",
        groundedness_min_similarity=0.9999,
    )
    assert answer.fallback == "ungrounded_generation" and answer.mode is AnswerMode.EXTRACTIVE
    assert answer.model == "fake-chat" and answer.usage.output_tokens > 0


def test_the_stream_shows_the_extractive_sentences_then_the_answer(ready):
    ctx = ready.answer_context()
    items = list(stream_answer(ctx, tenant="acme", question="What happens while paused?"))
    *deltas, final = items
    assert deltas and all(isinstance(d, AnswerDelta) for d in deltas)
    assert "".join(d.text for d in deltas).strip() == final.answer
    assert final.mode is AnswerMode.EXTRACTIVE and final.answer_id


def test_extractive_answers_are_cached_apart_from_generated_ones(ready, chat_model):
    chat_model.responses = ["While the tier is paused, queries answer 503 [1]."]
    first = _ask(ready, "What happens while paused?")
    again = _ask(ready, "What happens while paused?")
    assert again.cache.hit == "exact" and again.answer == first.answer
    assert again.mode is AnswerMode.EXTRACTIVE
    generated = _ask(ready, "What happens while paused?", answer_mode="generative")
    assert generated.cache.hit is None and generated.mode is AnswerMode.GENERATIVE


def test_sentence_embeddings_are_reused_across_questions(ready, embedder):
    cache = SentenceEmbeddings()
    ctx = replace(ready.answer_context(), sentence_embeddings=cache, cache=None)
    answer_question(ctx, tenant="acme", question="What happens while paused?")
    embedded = embedder.texts_embedded
    question = "What happens to uploads when paused?"
    second = answer_question(ctx, tenant="acme", question=question)
    assert embedder.texts_embedded == embedded + 1  # the new question only
    assert second.cost.embedding_tokens == len(question.split())


class ReversingReranker:
    """Puts the fused order upside down, at a price per call."""

    model_id = "fake-rerank"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def rerank(self, query: str, hits, top_n: int) -> list[SearchHit]:
        self.calls.append(len(hits))
        ordered = list(reversed(hits))[:top_n]
        return [replace(h, score=1.0 - i / 10) for i, h in enumerate(ordered)]

    def cost_usd(self, sources: int) -> float:
        return 0.001


def test_a_reranker_reorders_the_candidates_and_its_cost_is_counted(ready):
    reranker = ReversingReranker()
    ctx = replace(ready.answer_context(), reranker=reranker, rerank_candidates=10, cache=None)
    prepared = prepare_question(ctx, tenant="acme", question="What happens while paused?", top_k=1)
    assert reranker.calls and reranker.calls[0] >= 1
    assert len(prepared.hits) == 1 and prepared.hits[0].score == 1.0
    answer = answer_question(ctx, tenant="acme", question="What happens while paused?")
    assert answer.cost.rerank_usd == 0.001 and answer.cost.total_usd == pytest.approx(0.001)
