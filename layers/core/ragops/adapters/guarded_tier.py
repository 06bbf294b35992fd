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

    def __init__(
        self,
        inner: VectorTier | None,
        breaker: CircuitBreaker,
        *,
        build: Callable[[], VectorTier] | None = None,
    ) -> None:
        """``inner`` is the tier; or pass ``build`` to construct it on first use, so that a
        request that never touches the index (health, listing, an asynchronous upload)
        never loads the index's libraries."""
        if (inner is None) == (build is None):
            raise ValueError("pass exactly one of inner and build")
        self._inner = inner
        self._build = build
        self.breaker = breaker

    @property
    def inner(self) -> VectorTier:
        if self._inner is None:
            assert self._build is not None
            try:
                self._inner = self._build()
            except ImportError as exc:
                # A deployment without the index's libraries (a Lambda package) and without
                # a remote tier: no search is possible, and the caller should hear why.
                raise TierUnavailable(
                    f"no vector tier in this deployment: {exc.name or exc} is not installed"
                ) from exc
        return self._inner

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

    def ping(self) -> None:
        self._call(self.inner.ping)

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
