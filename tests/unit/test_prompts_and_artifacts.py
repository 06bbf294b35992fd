from __future__ import annotations

import numpy as np
from ragops.domain.artifacts import ChunkArtifact, decode_artifact, encode_artifact
from ragops.domain.models import Chunk, DocumentRecord, SearchHit
from ragops.domain.prompts import cite_answer, render_messages, snippet

PASSAGES = [
    "Pausing the tier destroys the EKS cluster with Terraform.",
    "The semantic cache keeps answers in Redis with a time to live.",
]


def test_valid_markers_are_kept_and_invalid_ones_dropped():
    cited = cite_answer("Pausing destroys the cluster [1]. Also see [7].", PASSAGES)
    assert cited.cited == [1]
    assert "[7]" not in cited.text
    assert cited.grounded


def test_uncited_sentence_is_attributed_by_word_overlap():
    cited = cite_answer("The semantic cache keeps answers in Redis.", PASSAGES)
    assert cited.cited == [2]
    assert cited.text.endswith("[2].")


def test_unsupported_answer_is_not_grounded():
    cited = cite_answer("Brazil won the 2010 World Cup.", PASSAGES)
    assert cited.cited == []
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
