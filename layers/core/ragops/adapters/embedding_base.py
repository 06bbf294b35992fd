"""The part every embedder shares: LangChain's list-of-floats API on top of ``embed_array``."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

import numpy as np
from langchain_core.embeddings import Embeddings


class ArrayEmbeddings(Embeddings):
    """An ``Embeddings`` whose subclasses implement only ``embed_array`` (unit-length
    float32 rows); the LangChain methods are derived from it."""

    @abstractmethod
    def embed_array(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_array([text])[0].tolist()
