"""Groundedness: word support removes sentences, embedding similarity flags them, and the
result reaches the response, the cost, the cache and the metrics."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from ragops.bootstrap import build_container
from ragops.domain.prompts import cite_answer
from ragops.entrypoints.api import create_app
from ragops.services.answering import answer_question
from ragops.services.groundedness import check_groundedness
from ragops.services.ingestion import ingest_document
from ragops.settings import Settings
from tests.fakes import GENERATIVE, ScriptedChatModel

PASSAGES = [
    "Pausing the tier destroys the EKS cluster with Terraform.",
    "The semantic cache keeps answers in Redis with a time to live.",
]


class TableEmbedder:
    """Embeds listed texts to chosen directions; anything else to a third axis."""

    model_id = "fake/table"
    max_input_tokens = 128

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def embed_array(self, texts):
        rows = [self.table.get(t, [0.0, 0.0, 1.0]) for t in texts]
        return np.asarray(rows, dtype=np.float32)

    def token_counter(self):
        return lambda text: len(text.split())


def test_a_sentence_far_from_its_passage_is_flagged_not_removed():
    cited = cite_answer(
        "Pausing the tier destroys the EKS cluster [1]. The cache keeps answers in Redis [2].",
        PASSAGES,
    )
    assert len(cited.sentences) == 2 and not cited.dropped_sentences
    embedder = TableEmbedder(
        {
            "Pausing the tier destroys the EKS cluster.": [1.0, 0.0, 0.0],
            PASSAGES[0]: [0.9, 0.436, 0.0],
            "The cache keeps answers in Redis.": [0.0, 0.0, 1.0],
            PASSAGES[1]: [0.0, 1.0, 0.0],
        }
    )
    result, tokens = check_groundedness(embedder, cited, PASSAGES, min_similarity=0.45)
    first, second = result.sentences
    assert first.supported and first.similarity == pytest.approx(0.9, abs=1e-3)
    assert not second.supported and second.similarity == pytest.approx(0.0, abs=1e-6)
    assert second.word_support >= 0.4  # words alone would have passed it
    assert not result.grounded and result.removed == []
    assert tokens == sum(len(t.split()) for t in [s.text for s in result.sentences] + PASSAGES)


def test_removed_sentences_make_an_answer_ungrounded_without_an_embedder():
    cited = cite_answer(
        "Pausing the tier destroys the EKS cluster [1]. Brazil won the 2010 World Cup.",
        PASSAGES,
    )
    result, tokens = check_groundedness(None, cited, PASSAGES, min_similarity=0.45)
    assert result.removed == ["Brazil won the 2010 World Cup."]
    assert not result.grounded and tokens == 0
    assert result.sentences[0].similarity is None and result.sentences[0].supported


@pytest.fixture
def make_container(tmp_path, embedder, chroma_client):
    def make(response: str, **settings):
        container = build_container(
            Settings(
                data_dir=tmp_path / "data",
                min_relevance=0.1,
                metrics="prometheus",
                **{**GENERATIVE, **settings},
            ),
            embedder=embedder,
            chroma_client=chroma_client,
            chat_model=ScriptedChatModel(responses=[response]),
        )
        guide = "# Ops\n\n" + " ".join(PASSAGES) + " Write to ops@example.com for access."
        ingest_document(
            container.ingest_context(), tenant="acme", filename="ops.md", data=guide.encode()
        )
        return container

    return make


def _ask(container, question="What does pausing the tier do?"):
    return answer_question(container.answer_context(), tenant="acme", question=question)


def test_answers_carry_groundedness_and_pay_for_the_check(make_container):
    container = make_container("Pausing the tier destroys the EKS cluster with Terraform [1].")
    answer = _ask(container)
    assert answer.groundedness.grounded
    (sentence,) = answer.groundedness.sentences
    assert sentence.citations == [1] and sentence.similarity > 0.45
    off = make_container(
        "Pausing the tier destroys the EKS cluster with Terraform [1].",
        groundedness_check=False,
        cache="off",
    )
    unchecked = _ask(off)
    assert unchecked.groundedness.sentences[0].similarity is None
    assert answer.cost.embedding_tokens > unchecked.cost.embedding_tokens


def test_an_ungrounded_answer_is_counted_and_cached_with_its_flags(make_container):
    container = make_container(
        "Pausing the tier destroys the EKS cluster with Terraform [1]. The moon is cheese."
    )
    with TestClient(create_app(container)) as client:
        headers = {"X-Tenant-Id": "acme"}
        body = {"question": "What does pausing the tier do?"}
        first = client.post("/v1/query", json=body, headers=headers).json()
        assert first["groundedness"]["grounded"] is False
        assert first["groundedness"]["removed"] == ["The moon is cheese."]
        again = client.post("/v1/query", json=body, headers=headers).json()
        assert again["cache"]["hit"] == "exact"
        assert again["groundedness"] == first["groundedness"]
        metrics = client.get("/metrics").text
        assert 'ragops_answers_total{outcome="partly_grounded",variant="answer-v1"} 2.0' in metrics


def test_personal_data_is_masked_in_the_groundedness_report(make_container):
    container = make_container("Write to ops@example.com for access to the EKS tier [1].")
    answer = _ask(container, "Who do I write to for access to the EKS tier?")
    quoted = [s.text for s in answer.groundedness.sentences] + answer.groundedness.removed
    assert quoted and not any("ops@example.com" in text for text in quoted)
