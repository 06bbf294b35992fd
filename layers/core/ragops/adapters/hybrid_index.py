"""The in-process vector tier: Chroma vectors + bm25s keywords, fused, per tenant.

This is the embedded default of the ``VectorTier`` port and the engine the tier service
runs on EKS. Tenant isolation is enforced here: every tenant has its own Chroma collection
and its own BM25 index, and a hit whose chunk belongs to another tenant is never returned.

Several processes may serve one Chroma server (the tier service's replicas). Chroma is the
truth; what a process holds in memory (chunk metadata, the BM25 index) is a view of it.
With ``refresh_seconds`` set, every write leaves a revision token on the tenant's
collection, and a process checks the token and the chunk count at most every
``refresh_seconds`` before serving a tenant, reloading the view when either moved. Embedded
(one process), ``refresh_seconds=None`` skips the check.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ragops.adapters.bm25 import Bm25Index
from ragops.adapters.chroma import ChromaVectorIndex
from ragops.domain.fusion import (
    FusionMethod,
    best_first,
    reciprocal_rank_fusion,
    zscore_fusion,
)
from ragops.domain.models import Chunk, SearchHit, SearchMode
from ragops.domain.tenants import validate_tenant


@dataclass
class _TenantState:
    """What the tier keeps in memory for a tenant: chunk metadata by id (so a search needs
    no second trip to Chroma) and the BM25 index, ``None`` while it is stale."""

    chunks: dict[str, Chunk]
    by_document: dict[str, set[str]] = field(default_factory=dict)
    bm25: Bm25Index | None = None
    bm25_ids: list[str] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    revision: str | None = None
    checked_at: float = field(default_factory=time.monotonic)

    def add(self, chunk: Chunk) -> None:
        self.chunks[chunk.chunk_id] = chunk
        self.by_document.setdefault(chunk.doc_id, set()).add(chunk.chunk_id)

    def remove(self, chunk_id: str) -> None:
        chunk = self.chunks.pop(chunk_id, None)
        if chunk is not None:
            ids = self.by_document.get(chunk.doc_id)
            if ids is not None:
                ids.discard(chunk_id)
                if not ids:
                    del self.by_document[chunk.doc_id]


@dataclass(frozen=True)
class FusionConfig:
    """How the two result lists are combined; defaults are tuned on SciFact train
    (docs/evaluation.md)."""

    method: FusionMethod = FusionMethod.ZSCORE
    vector_weight: float = 0.5
    rrf_k: int = 60
    candidates: int = 100


class HybridIndex:
    """``VectorTier`` over a ``ChromaVectorIndex`` and per-tenant ``Bm25Index``es."""

    def __init__(
        self,
        vectors: ChromaVectorIndex,
        *,
        fusion: FusionConfig | None = None,
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
        bm25_language: str = "english",
        refresh_seconds: float | None = None,
    ) -> None:
        self.vectors = vectors
        self.refresh_seconds = refresh_seconds
        self.fusion = fusion or FusionConfig()
        self._bm25_params = {"k1": bm25_k1, "b": bm25_b, "language": bm25_language}
        self._tenants: dict[str, _TenantState] = {}
        self._lock = threading.Lock()

    # -- state ---------------------------------------------------------------------------
    def _state(self, tenant: str) -> _TenantState:
        validate_tenant(tenant)
        with self._lock:
            state = self._tenants.get(tenant)
            if state is not None and self._is_stale(tenant, state):
                state = None
            if state is None:
                state = self._load(tenant)
                self._tenants[tenant] = state
            return state

    def _load(self, tenant: str) -> _TenantState:
        state = _TenantState(chunks={})
        if self.refresh_seconds is not None:
            state.revision, _ = self.vectors.revision(tenant)
        for chunk in self.vectors.all_chunks(tenant):
            state.add(chunk)
        return state

    def _is_stale(self, tenant: str, state: _TenantState) -> bool:
        """Whether another process wrote the tenant since this view was loaded or last
        written here (checked at most every ``refresh_seconds``)."""
        if self.refresh_seconds is None:
            return False
        now = time.monotonic()
        if now - state.checked_at < self.refresh_seconds:
            return False
        with state.lock:
            revision, count = self.vectors.revision(tenant)
            state.checked_at = now
            # The count catches the race the token alone misses: two writers, and this
            # process's token written last over the other's chunks.
            return revision != state.revision or count != len(state.chunks)

    def _written(self, tenant: str, state: _TenantState) -> None:
        if self.refresh_seconds is not None:
            state.revision = self.vectors.bump_revision(tenant)
            state.checked_at = time.monotonic()

    def _keyword_index(self, state: _TenantState) -> Bm25Index:
        with state.lock:
            if state.bm25 is None:
                ids = list(state.chunks)
                state.bm25 = Bm25Index(
                    [state.chunks[i].indexed_text() for i in ids], **self._bm25_params
                )
                state.bm25_ids = ids
            return state.bm25

    # -- VectorTier ----------------------------------------------------------------------
    def upsert(self, tenant: str, chunks: Sequence[Chunk], embeddings: np.ndarray) -> None:
        if any(chunk.tenant != tenant for chunk in chunks):
            raise ValueError("every chunk must belong to the tenant it is written for")
        state = self._state(tenant)
        with state.lock:
            self.vectors.upsert(tenant, chunks, embeddings)
            for chunk in chunks:
                state.remove(chunk.chunk_id)
                state.add(chunk)
            state.bm25 = None
            self._written(tenant, state)

    def document_chunk_ids(self, tenant: str, doc_id: str) -> list[str]:
        state = self._state(tenant)
        with state.lock:
            return sorted(state.by_document.get(doc_id, ()))

    def delete_chunks(self, tenant: str, chunk_ids: Sequence[str]) -> None:
        state = self._state(tenant)
        with state.lock:
            self.vectors.delete(tenant, chunk_ids)
            for chunk_id in chunk_ids:
                state.remove(chunk_id)
            state.bm25 = None
            self._written(tenant, state)

    def delete_document(self, tenant: str, doc_id: str) -> int:
        ids = self.document_chunk_ids(tenant, doc_id)
        self.delete_chunks(tenant, ids)
        return len(ids)

    def count(self, tenant: str) -> int:
        return len(self._state(tenant).chunks)

    def document_count(self, tenant: str) -> int:
        return len(self._state(tenant).by_document)

    def ping(self) -> None:
        self.vectors.ping()

    def tenants(self) -> list[str]:
        """Every tenant with an index in Chroma."""
        return self.vectors.tenants()

    def loaded_chunk_count(self) -> int:
        """Chunks held in memory, over the tenants loaded so far (a metric)."""
        with self._lock:
            states = list(self._tenants.values())
        return sum(len(state.chunks) for state in states)

    def drop_tenant(self, tenant: str) -> None:
        state = self._state(tenant)
        with state.lock:
            self.vectors.drop(tenant)
            with self._lock:
                self._tenants.pop(tenant, None)

    def search(
        self,
        tenant: str,
        query: str,
        query_embedding: np.ndarray | None,
        top_k: int,
        mode: SearchMode = SearchMode.HYBRID,
        candidates: int | None = None,
    ) -> list[SearchHit]:
        state = self._state(tenant)
        pool = max(candidates or self.fusion.candidates, top_k)
        vector: dict[str, float] = {}
        keyword: dict[str, float] = {}
        if mode in (SearchMode.HYBRID, SearchMode.VECTOR):
            if query_embedding is None:
                raise ValueError(f"{mode} search needs a query embedding")
            vector = dict(self.vectors.query(tenant, query_embedding, pool))
        if mode in (SearchMode.HYBRID, SearchMode.BM25):
            bm25 = self._keyword_index(state)
            ids = state.bm25_ids
            keyword = {ids[position]: score for position, score in bm25.search(query, pool)}

        if mode is SearchMode.HYBRID:
            if self.fusion.method is FusionMethod.RRF:
                ranked = reciprocal_rank_fusion(
                    vector, keyword, vector_weight=self.fusion.vector_weight, k=self.fusion.rrf_k
                )
            else:
                ranked = zscore_fusion(vector, keyword, vector_weight=self.fusion.vector_weight)
        else:
            only = vector if mode is SearchMode.VECTOR else keyword
            ranked = best_first(only)

        hits: list[SearchHit] = []
        for chunk_id, score in ranked:
            chunk = state.chunks.get(chunk_id)
            # A chunk that is not this tenant's never leaves the tier, whatever the backend
            # returned (defence in depth behind the per-tenant collections).
            if chunk is None or chunk.tenant != tenant:
                continue
            hits.append(
                SearchHit(
                    chunk=chunk,
                    score=float(score),
                    vector_score=vector.get(chunk_id),
                    bm25_score=keyword.get(chunk_id),
                )
            )
            if len(hits) == top_k:
                break
        return hits
