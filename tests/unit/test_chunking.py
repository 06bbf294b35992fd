from __future__ import annotations

import pytest

from ragops.domain.chunking import SECTION_SEPARATOR, Chunker, word_additive_counter
from ragops.domain.models import ParsedDocument, Section


def words(text: str) -> int:
    return len(text.split())


def split(chunker: Chunker, parsed: ParsedDocument):
    return chunker.split(
        parsed, doc_id="d1", tenant="t", title="T", source="s.txt", version="0123456789abcdef"
    )


def test_chunks_fit_the_token_budget_and_cover_the_text():
    text = " ".join(f"word{i}." for i in range(500))
    chunker = Chunker(words, chunk_tokens=50, overlap_tokens=10)
    chunks = split(chunker, ParsedDocument(None, [Section(text)], "text/plain"))
    assert len(chunks) > 10
    assert all(words(c.text) <= 50 for c in chunks)
    seen = set()
    for c in chunks:
        seen.update(c.text.split())
    assert seen == set(text.split())


def test_offsets_point_into_the_joined_sections_and_pages_are_kept():
    sections = [Section("alpha beta gamma " * 30, page=1), Section("delta epsilon " * 30, page=2)]
    full = SECTION_SEPARATOR.join(s.text for s in sections)
    chunks = split(Chunker(words, 20, 5), ParsedDocument(None, sections, "application/pdf"))
    assert {c.page for c in chunks} == {1, 2}
    for c in chunks:
        assert full[c.start : c.end] == c.text
        # A chunk never crosses a page boundary.
        assert ("alpha" in c.text) != ("delta" in c.text)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert len({c.chunk_id for c in chunks}) == len(chunks)


def test_overlap_must_be_smaller_than_chunk():
    with pytest.raises(ValueError):
        Chunker(words, 10, 10)


def test_word_additive_counter_sums_words_and_tokenizes_each_word_once():
    calls: list[list[str]] = []

    def count_words(batch: list[str]) -> list[int]:
        calls.append(batch)
        return [len(w) // 3 + 1 for w in batch]

    count = word_additive_counter(count_words)
    assert count("abc abcdef abc") == 2 + 3 + 2
    assert count("abcdef abc") == 5
    tokenized = [w for batch in calls for w in batch]
    assert sorted(tokenized) == ["abc", "abcdef"]
