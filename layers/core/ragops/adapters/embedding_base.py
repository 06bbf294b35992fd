"""The part every embedder shares: LangChain's ``embed_documents``/``embed_query`` on top of
``embed_array``, so an embedder also plugs into LangChain code (no LangChain import)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any


class ArrayEmbeddings(ABC):
    """Subclasses implement ``embed_array`` (one unit-length row per text)."""

    @abstractmethod
    def embed_array(self, texts: Sequence[str]) -> Any: ...

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in row] for row in self.embed_array(texts)]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]
