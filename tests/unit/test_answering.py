from __future__ import annotations

import pytest

from ragops.domain.models import AnswerMode, Chunk, Fallback, SearchHit, SearchMode
from ragops.domain.prompts import NOT_FOUND_ANSWER
from ragops.errors import InvalidInput
from ragops.services.answering import answer_question, relevant_passages
from ragops.services.ingestion import ingest_document

GUIDE = (
    b"# Operations guide\n\nPausing the tier destroys the EKS cluster with Terraform.\n\n"
    b"The semantic cache keeps answers in Redis with a time to live.\n"
)


@pytest.fixture
def ready(container):
    ingest_document(container.ingest_context(), tenant="default", filename="ops.md", data=GUIDE)
    return container


def test_answer_cites_passages_and_reports_usage(ready, chat_model):
    answer = answer_question(
        ready.answer_context(), tenant="default", question="What does pausing the tier do?"
    )
    assert answer.answer == "Pausing destroys the EKS tier [1]."
    assert [c.number for c in answer.citations] == [1]
    citation = answer.citations[0]
    assert citation.source == "ops.md"
    assert citation.title == "Operations guide"
    assert "Pausing the tier" in citation.snippet
    assert answer.model == "fake-chat"
    assert answer.usage.input_tokens > 0 and answer.usage.output_tokens == 6
    prompt = chat_model.seen[-1][1].content
    assert "[1] (from Operations guide)" in prompt


def test_nothing_relevant_means_no_guess_and_no_model_call(ready, chat_model):
    answer = answer_question(
        ready.answer_context(), tenant="default", question="zebra quantum xylophone"
    )
    assert answer.abstained
    assert answer.answer == NOT_FOUND_ANSWER
    assert answer.citations == []
    assert chat_model.seen == []


def test_other_tenant_gets_nothing(ready, chat_model):
    answer = answer_question(
        ready.answer_context(), tenant="globex", question="What does pausing the tier do?"
    )
    assert answer.abstained
    assert chat_model.seen == []


def test_ungrounded_generation_is_replaced_by_the_extractive_answer(ready, chat_model):
    chat_model.responses = ["Brazil won the 2010 World Cup."]
    answer = answer_question(
        ready.answer_context(), tenant="default", question="What does pausing the tier do?"
    )
    assert "Brazil" not in answer.answer
    assert answer.answer == "Pausing the tier destroys the EKS cluster with Terraform [1]."
    assert (answer.mode, answer.fallback) == (AnswerMode.EXTRACTIVE, Fallback.UNGROUNDED_GENERATION)
    assert answer.citations and answer.citations[0].number == 1
    # The generation was paid for, and the prompt that asked for it is named.
    assert answer.model == "fake-chat" and answer.usage.output_tokens == 6
    assert answer.prompt is not None
    assert answer.groundedness is not None and answer.groundedness.grounded


@pytest.mark.parametrize(
    ("question", "top_k"), [("", None), ("   ", None), ("x" * 2001, None), ("ok?", 0), ("ok?", 51)]
)
def test_bad_questions_are_refused(ready, question, top_k):
    with pytest.raises(InvalidInput):
        answer_question(ready.answer_context(), tenant="default", question=question, top_k=top_k)


def _hit(number: int, cosine: float | None) -> SearchHit:
    text = f"passage {number}"
    chunk = Chunk(f"c{number}", f"d{number}", "acme", 0, text, "Doc", "doc.md", None, 0, len(text))
    return SearchHit(chunk, 1.0 - number / 10, vector_score=cosine, bm25_score=1.0)


def test_passages_below_the_threshold_are_read_only_once_one_reaches_it():
    # Fused order kept; 0.16 is above 0.6 x 0.25, 0.14 below; a BM25-only hit has no cosine.
    hits = [_hit(0, 0.16), _hit(1, 0.31), _hit(2, 0.14), _hit(3, None)]
    kept = relevant_passages(hits, 0.25, SearchMode.HYBRID)
    assert [h.chunk.chunk_id for h in kept] == ["c0", "c1"]
    # No passage reaches the threshold: the question is not about the documents.
    assert relevant_passages(hits[:1] + hits[2:], 0.25, SearchMode.HYBRID) == []
    # BM25 alone has no cosine to judge by: every keyword match is read.
    assert relevant_passages(hits, 0.25, SearchMode.BM25) == hits
