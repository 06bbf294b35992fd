"""Ports: the interfaces services depend on. Adapters in ``ragops.adapters`` implement them.

Where LangChain already defines the interface we use it: embedders are
``langchain_core.embeddings.Embeddings`` and chat models ``BaseChatModel``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.language_models.chat_models import BaseChatModel

from ragops.domain.chunking import TokenCounter
from ragops.domain.models import Chunk, SearchHit, SearchMode
from ragops.domain.tier import TierState

ChatModel = BaseChatModel

__all__ = [
    "ChatModel",
    "Embedder",
    "Embeddings",
    "ObjectStore",
    "TierStateStore",
    "VectorTier",
]


@runtime_checkable
class Embedder(Protocol):
    """An ``Embeddings`` that also tells how it counts tokens and what it is called.

    ``embed_array`` returns unit-length float32 rows; ``count_tokens`` measures text the way
    the model will, so chunks fit its input (``max_input_tokens``).
    """

    model_id: str
    max_input_tokens: int

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...

    def embed_array(self, texts: Sequence[str]) -> np.ndarray: ...

    def token_counter(self) -> TokenCounter: ...


class ObjectStore(Protocol):
    """Byte objects under string keys: a local folder or an S3 bucket.

    ``get`` raises ``ObjectNotFound`` for a missing key; ``delete`` of a missing key is not
    an error; ``list`` yields every key that starts with ``prefix``, in no set order.
    Failures of the backend raise ``StoreUnavailable``.
    """

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def list(self, prefix: str) -> Iterator[str]: ...


class VectorTier(Protocol):
    """The hybrid index: vectors and keywords over chunks, partitioned by tenant.

    Isolation is the tier's job: ``search`` for a tenant only ever returns that tenant's
    chunks, whatever the query. ``upsert`` replaces chunks with the same id.
    """

    def upsert(self, tenant: str, chunks: Sequence[Chunk], embeddings: np.ndarray) -> None: ...

    def delete_document(self, tenant: str, doc_id: str) -> int:
        """Remove every chunk of ``doc_id``; returns how many were removed."""
        ...

    def delete_chunks(self, tenant: str, chunk_ids: Sequence[str]) -> None: ...

    def document_chunk_ids(self, tenant: str, doc_id: str) -> list[str]: ...

    def document_count(self, tenant: str) -> int: ...

    def search(
        self,
        tenant: str,
        query: str,
        query_embedding: np.ndarray | None,
        top_k: int,
        mode: SearchMode = SearchMode.HYBRID,
        candidates: int | None = None,
    ) -> list[SearchHit]:
        """Best ``top_k`` chunks of ``tenant`` for the query, best first.

        ``query_embedding`` may be None only in ``bm25`` mode.
        """
        ...

    def count(self, tenant: str) -> int: ...

    def drop_tenant(self, tenant: str) -> None: ...


class TierStateStore(Protocol):
    """Where operators declare the tier state: a local file, or an SSM parameter.

    A store that was never written reads ``active``.
    """

    def get(self) -> TierState: ...

    def set(self, state: TierState) -> None: ...
