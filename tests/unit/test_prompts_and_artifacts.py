from __future__ import annotations

import numpy as np

from ragops.domain.artifacts import ChunkArtifact, decode_artifact, encode_artifact
from ragops.domain.models import Chunk, DocumentRecord, SearchHit
from ragops.domain.prompts import cite_answer, extract_quote, render_messages, snippet

PASSAGES = [
    "Pausing the tier destroys the EKS cluster with Terraform.",
    "The semantic cache keeps answers in Redis with a time to live.",
]


def test_supported_citation_is_kept_and_a_marker_past_the_passages_dropped():
    cited = cite_answer(
        "Pausing destroys the EKS cluster [1]. Terraform destroys it [7].", PASSAGES
    )
    assert cited.cited == [1]
    assert cited.text == "Pausing destroys the EKS cluster [1]. Terraform destroys it [1]."
    assert cited.grounded and cited.dropped == 0


def test_uncited_sentence_is_attributed_by_word_overlap():
    cited = cite_answer("The semantic cache keeps answers in Redis.", PASSAGES)
    assert cited.cited == [2]
    assert cited.text == "The semantic cache keeps answers in Redis [2]."


def test_a_citation_to_a_passage_that_does_not_support_the_sentence_is_moved():
    cited = cite_answer("The semantic cache keeps answers in Redis [1].", PASSAGES)
    assert cited.cited == [2]


def test_unsupported_sentences_are_dropped_and_counted():
    cited = cite_answer(
        "The answer is:\n# Heading\nBrazil won the 2010 World Cup [1]. "
        "Pausing the tier destroys the EKS cluster.",
        PASSAGES,
    )
    assert cited.text == "Pausing the tier destroys the EKS cluster [1]."
    assert cited.dropped == 3  # filler, heading and the invented claim


def test_unsupported_answer_is_not_grounded():
    cited = cite_answer("Brazil won the 2010 World Cup.", PASSAGES)
    assert cited.cited == [] and cited.text == ""
    assert not cited.grounded


def _chunk(i: int, text: str) -> Chunk:
    return Chunk(f"d-{i}", "d", "t", i, text, "Ops guide", "ops.md", 2, 0, len(text))


def test_prompt_numbers_passages_in_order():
    hits = [SearchHit(_chunk(i, p), 1.0) for i, p in enumerate(PASSAGES)]
    system, human = render_messages("What does pausing do?", hits)
    assert "[1] (from Ops guide) Pausing" in human.content
    assert "[2] (from Ops guide) The semantic" in human.content
    assert "square brackets" in system.content


def test_snippet_cuts_on_a_word():
    text = "word " * 200
    short = snippet(text, 50)
    assert len(short) <= 51 and short.endswith("…")


def test_artifact_round_trip_is_exact():
    chunks = [_chunk(0, "alpha"), _chunk(1, "beta")]
    record = DocumentRecord(
        doc_id="d",
        tenant="t",
        title="Ops guide",
        source="ops.md",
        content_type="text/markdown",
        content_hash="ab" * 32,
        size_bytes=10,
        chunk_count=2,
        pages=None,
        embedding_model="m",
    )
    vectors = np.random.default_rng(0).random((2, 384), dtype=np.float32)
    decoded = decode_artifact(encode_artifact(ChunkArtifact(record, chunks, vectors)))
    assert decoded.chunks == chunks
    assert decoded.record.to_dict() == record.to_dict()
    np.testing.assert_array_equal(decoded.embeddings, vectors)


def test_extract_quote_picks_the_sentences_that_match_the_question():
    passage = (
        "Ragops has many parts. Pausing the tier destroys the EKS cluster with Terraform. "
        "The weather was fine. Resuming recreates the cluster."
    )
    quote = extract_quote("What does pausing the tier do to the cluster?", passage, limit=120)
    assert quote.startswith("Pausing the tier destroys the EKS cluster")
    assert "weather" not in quote
