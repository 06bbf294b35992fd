"""Keyword side of the index: BM25 with bm25s (sparse matrices), stemming and stop words.

bm25s builds a static index; it cannot add or remove a document. The index is therefore
rebuilt from the tenant's chunk texts when they change, lazily on the next search, which
costs seconds at 100k chunks and nothing on the query path otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class Bm25Index:
    """A BM25 index over one fixed list of texts; ``search`` returns positions in that list.

    ``language`` names a Snowball stemmer (PyStemmer) and the matching stop-word list.
    """

    def __init__(
        self,
        texts: Sequence[str],
        *,
        k1: float = 1.2,
        b: float = 0.75,
        language: str = "english",
    ) -> None:
        import bm25s
        import Stemmer
        from bm25s.tokenization import Tokenizer

        stopwords = "en" if language == "english" else language
        self._tokenizer = Tokenizer(stemmer=Stemmer.Stemmer(language), stopwords=stopwords)
        self.size = len(texts)
        self._retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
        if texts:
            ids = self._tokenizer.tokenize(list(texts), show_progress=False, return_as="ids")
            self._retriever.index(ids, show_progress=False)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """``(position, score)`` of the best ``k`` texts with a positive score, best first."""
        if self.size == 0:
            return []
        tokens = self._tokenizer.tokenize(
            [query], update_vocab=False, show_progress=False, return_as="ids"
        )
        if not tokens or not tokens[0]:
            return []
        # bm25s needs k <= corpus size; n_threads=0 runs in this thread (1 starts a pool).
        docs, scores = self._retriever.retrieve(
            tokens, k=min(k, self.size), show_progress=False, n_threads=0
        )
        positions = np.asarray(docs[0])
        values = np.asarray(scores[0])
        keep = values > 0
        return list(zip(positions[keep].tolist(), values[keep].tolist(), strict=True))
