from __future__ import annotations

import pytest

from ragops.domain.models import AnswerMode, Fallback
from ragops.domain.prompts import NOT_FOUND_ANSWER
from ragops.errors import InvalidInput
from ragops.services.answering import answer_question
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
