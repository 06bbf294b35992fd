"""Recursive splitting of text into pieces of a bounded length, overlapping.

The chunker used LangChain's ``RecursiveCharacterTextSplitter`` until its package pulled
langchain-core, langsmith, zstandard and orjson (about 53 MB compiled) into the ingest
layer for some sixty lines of logic. ``RecursiveSplitter`` is that logic for the one
configuration the chunker uses (literal separators kept at the end of each piece, pieces
stripped), and cuts exactly where LangChain 1.x does: tests/unit/test_text_splitting.py
compares the two on generated texts, so chunk boundaries, chunk ids and SciFact's figures
are unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

LengthFunction = Callable[[str], int]


def _split_keeping_separator(text: str, separator: str) -> list[str]:
    """``text`` cut after each ``separator`` (kept at the end of its piece); an empty
    separator cuts between characters. Empty pieces are dropped."""
    if not separator:
        return list(text)
    parts = re.split(f"({re.escape(separator)})", text)
    # One capture group: text, separator, text, ..., text (always an odd count).
    pieces = [parts[i] + parts[i + 1] for i in range(0, len(parts) - 1, 2)]
    pieces.append(parts[-1])
    return [piece for piece in pieces if piece]


class RecursiveSplitter:
    """Splits text into pieces of at most ``chunk_size`` (as ``length`` measures them),
    neighbours sharing up to ``chunk_overlap``, trying each separator in turn: a piece
    still too long is split again with the next one, down to single characters.

    A single unsplittable piece longer than ``chunk_size`` (one very long word when the
    last separator is not ``""``) is returned whole.
    """

    def __init__(
        self,
        *,
        chunk_size: int,
        chunk_overlap: int,
        length: LengthFunction,
        separators: Sequence[str] = ("\n\n", "\n", " ", ""),
    ) -> None:
        if chunk_overlap > chunk_size:
            raise ValueError("chunk overlap must not exceed the chunk size")
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self._length = length
        self._separators = list(separators)

    def split_text(self, text: str) -> list[str]:
        """The pieces of ``text`` in reading order, each stripped and non-empty."""
        return self._split(text, self._separators)

    def _split(self, text: str, separators: list[str]) -> list[str]:
        separator, finer = separators[-1], []
        for i, candidate in enumerate(separators):
            if not candidate:
                separator = candidate
                break
            if candidate in text:
                separator, finer = candidate, separators[i + 1 :]
                break
        chunks: list[str] = []
        short: list[str] = []
        for piece in _split_keeping_separator(text, separator):
            if self._length(piece) < self.chunk_size:
                short.append(piece)
                continue
            if short:
                chunks.extend(self._merge(short))
                short = []
            if finer:
                chunks.extend(self._split(piece, finer))
            else:
                chunks.append(piece)
        if short:
            chunks.extend(self._merge(short))
        return chunks

    def _merge(self, pieces: list[str]) -> list[str]:
        """Consecutive pieces joined up to ``chunk_size``, each new chunk starting with
        the last pieces of the one before that fit within ``chunk_overlap``. The pieces
        keep their separators, so they are joined with nothing between them (whose length
        is still counted where the pieces meet, as LangChain does)."""
        gap = self._length("")
        chunks: list[str] = []
        current: list[str] = []
        total = 0
        for piece in pieces:
            size = self._length(piece)
            if current and total + size + gap > self.chunk_size:
                joined = "".join(current).strip()
                if joined:
                    chunks.append(joined)
                while total > self.chunk_overlap or (
                    total + size + (gap if current else 0) > self.chunk_size and total > 0
                ):
                    total -= self._length(current[0]) + (gap if len(current) > 1 else 0)
                    current = current[1:]
            current.append(piece)
            total += size + (gap if len(current) > 1 else 0)
        joined = "".join(current).strip()
        if joined:
            chunks.append(joined)
        return chunks
