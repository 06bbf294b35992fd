"""The project's recursive splitter cuts where LangChain's RecursiveCharacterTextSplitter
(the chunker's splitter until it was replaced) cuts, for the configuration the chunker uses:
the same chunks mean the same chunk ids and the same retrieval figures."""

from __future__ import annotations

import langchain_text_splitters
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ragops.domain.chunking import SEPARATORS
from ragops.domain.text_splitting import RecursiveSplitter


def words(text: str) -> int:
    return len(text.split())


def characters(text: str) -> int:
    return len(text)


def quarter_characters(text: str) -> int:
    # approximate_token_count's shape: the empty string still counts 0.
    return (len(text) + 3) // 4


def both(chunk_size: int, overlap: int, length):
    ours = RecursiveSplitter(
        chunk_size=chunk_size, chunk_overlap=overlap, length=length, separators=SEPARATORS
    )
    theirs = langchain_text_splitters.RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=overlap,
        length_function=length,
        separators=list(SEPARATORS),
        keep_separator="end",
        strip_whitespace=True,
    )
    return ours, theirs


# Texts built from the separators' own characters, words of every length and long runs
# without a space, so every level of the recursion (and the whole-word fallback) is reached.
_token = st.one_of(
    st.sampled_from(["\n\n", "\n", ". ", " ", ".", "  ", "\n \n"]),
    st.text(alphabet="abcdefghij", min_size=1, max_size=12),
    st.text(alphabet="xyz", min_size=30, max_size=90),
)
_texts = st.lists(_token, max_size=120).map("".join)


@settings(max_examples=400, deadline=None)
@given(
    text=_texts,
    chunk_size=st.integers(min_value=2, max_value=60),
    overlap_share=st.floats(min_value=0.0, max_value=0.9),
    length=st.sampled_from([words, characters, quarter_characters]),
)
def test_the_splitter_cuts_where_langchain_cuts(text, chunk_size, overlap_share, length):
    overlap = int(chunk_size * overlap_share)
    ours, theirs = both(chunk_size, overlap, length)
    assert ours.split_text(text) == theirs.split_text(text)


def test_prose_is_cut_at_paragraphs_then_sentences_with_overlap():
    text = (
        "Alpha beta gamma delta. Epsilon zeta eta theta. Iota kappa lambda mu.\n\n"
        "Nu xi omicron pi. Rho sigma tau upsilon."
    )
    ours, theirs = both(8, 3, words)
    pieces = ours.split_text(text)
    assert pieces == theirs.split_text(text)
    assert all(words(piece) <= 8 for piece in pieces)
    # The second paragraph stands on its own; the first is cut after its sentences.
    assert pieces[0] == "Alpha beta gamma delta. Epsilon zeta eta theta."
    assert "Nu xi omicron pi. Rho sigma tau upsilon." in pieces


def test_an_overlap_larger_than_the_chunk_is_refused():
    with pytest.raises(ValueError, match="overlap"):
        RecursiveSplitter(chunk_size=5, chunk_overlap=6, length=words)
