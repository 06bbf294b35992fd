"""A ``VectorTier`` wrapper that feeds a circuit breaker: after repeated tier errors it
fails fast (``TierUnavailable``) instead of waiting on a dead tier for every request."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ragops.domain.models import Chunk, SearchHit, SearchMode
from ragops.domain.tier import CircuitBreaker
from ragops.errors import TierUnavailable
from ragops.ports import VectorTier

if TYPE_CHECKING:
    import numpy as np

T = TypeVar("T")


class BreakerGuardedTier:
    """Delegates every call to ``inner``; a ``TierUnavailable`` counts as a failure, any
    answer as a success, and while the breaker is open calls fail at once."""

    def __init__(self, inner: VectorTier, breaker: CircuitBreaker) -> None:
        self.inner = inner
        self.breaker = breaker

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self.breaker.is_open:
            wait = self.breaker.seconds_until_retry()
            raise TierUnavailable(f"the search tier failed repeatedly; retrying in {wait} s")
        try:
            result = fn(*args, **kwargs)
        except TierUnavailable:
            self.breaker.record_failure()
            raise
        self.breaker.record_success()
        return result

    def upsert(self, tenant: str, chunks: Sequence[Chunk], embeddings: np.ndarray) -> None:
        self._call(self.inner.upsert, tenant, chunks, embeddings)

    def delete_chunks(self, tenant: str, chunk_ids: Sequence[str]) -> None:
        self._call(self.inner.delete_chunks, tenant, chunk_ids)

    def delete_document(self, tenant: str, doc_id: str) -> int:
        return self._call(self.inner.delete_document, tenant, doc_id)

    def document_chunk_ids(self, tenant: str, doc_id: str) -> list[str]:
        return self._call(self.inner.document_chunk_ids, tenant, doc_id)

    def document_count(self, tenant: str) -> int:
        return self._call(self.inner.document_count, tenant)

    def count(self, tenant: str) -> int:
        return self._call(self.inner.count, tenant)

    def drop_tenant(self, tenant: str) -> None:
        self._call(self.inner.drop_tenant, tenant)

    def search(
        self,
        tenant: str,
        query: str,
        query_embedding: Sequence[float] | np.ndarray | None,
        top_k: int,
        mode: SearchMode = SearchMode.HYBRID,
        candidates: int | None = None,
    ) -> list[SearchHit]:
        return self._call(
            self.inner.search, tenant, query, query_embedding, top_k, mode, candidates
        )
