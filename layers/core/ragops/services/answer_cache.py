"""The answer cache in the query path: an exact layer (the normalised question) and a
semantic layer (the nearest cached questions, checked by the duplicate verifier, or by the
cache's trained duplicate model where the question index compares with it: its candidates
then carry the model's threshold, ``Candidate.serve_at``).

Entries belong to one tenant and one corpus generation: any change to the tenant's index
moves the generation on (``CacheInvalidatingTier``), and lookups only ever look in the
current one, so an answer is never served after the documents it came from changed. The
partition also carries the retrieval settings (mode, ``top_k``) and the prompt variant, as
those change the answer too.

A cache that cannot be reached is skipped (the question is answered as a miss, and the
failure counted); it is never a reason to fail a question.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ragops.domain.cache import DuplicateVerifier, best_verified, question_key
from ragops.domain.models import (
    Answer,
    AnswerMode,
    CacheInfo,
    Citation,
    Fallback,
    Groundedness,
    SearchMode,
    utc_now,
)
from ragops.errors import CacheUnavailable
from ragops.ports import (
    CacheStore,
    DelegatingTier,
    MetricsSink,
    QuestionIndex,
    VectorTier,
)

if TYPE_CHECKING:
    import numpy as np

    from ragops.domain.models import Chunk

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedAnswer:
    """What a hit serves: the cached answer's text and citations, and how it was found."""

    answer: str
    citations: list[Citation]
    model: str
    unsupported_sentences: int
    info: CacheInfo
    groundedness: Groundedness | None = None
    mode: AnswerMode | None = None
    fallback: Fallback | None = None


@dataclass
class SemanticCache:
    store: CacheStore
    questions: QuestionIndex | None
    """None turns the semantic layer off (exact matches only)."""
    verifier: DuplicateVerifier
    ttl_seconds: int = 86_400
    metrics: MetricsSink | None = None

    def partition(self, tenant: str, scope: str) -> str:
        """``{generation}:{scope}``; raises ``CacheUnavailable``."""
        return f"{self.store.generation(tenant)}:{scope}"

    def lookup_exact(
        self, tenant: str, scope: str, question: str
    ) -> tuple[str, CachedAnswer | None]:
        """(partition, hit or None). The partition is "" when the cache is unavailable."""
        try:
            partition = self.partition(tenant, scope)
            entry_id = self.store.get_exact(tenant, partition, question_key(question))
            entry = self._entry(tenant, partition, entry_id) if entry_id else None
        except CacheUnavailable as exc:
            self._unavailable(exc)
            return "", None
        if entry is None:
            return partition, None
        self._count("exact")
        return partition, _served(entry, CacheInfo(hit="exact", similarity=1.0))

    def lookup_semantic(
        self, tenant: str, partition: str, question: str, embedding: Any
    ) -> CachedAnswer | None:
        if not partition or self.questions is None:
            return None
        try:
            candidates = self.questions.nearest(
                tenant, partition, embedding, self.verifier.candidates, question
            )
            verified = best_verified(self.verifier, question, candidates)
            entry = (
                self._entry(tenant, partition, verified.candidate.entry_id) if verified else None
            )
        except CacheUnavailable as exc:
            self._unavailable(exc)
            return None
        if entry is None or verified is None:
            self._count("miss")
            return None
        self._count("semantic")
        if self.metrics is not None:
            self.metrics.observe("cache_hit_similarity", verified.candidate.similarity)
        return _served(
            entry,
            CacheInfo(
                hit="semantic",
                similarity=round(verified.candidate.similarity, 4),
                verifier_score=round(verified.score, 4),
                matched_question=verified.candidate.question,
            ),
        )

    def remember(
        self, tenant: str, partition: str, question: str, embedding: Any, answer: Answer
    ) -> None:
        """Cache a generated answer (not abstentions: those cost no model call)."""
        if not partition or answer.abstained:
            return
        entry_id = uuid.uuid4().hex
        entry = {
            "partition": partition,
            "question": question,
            "answer": answer.answer,
            "citations": [asdict(c) for c in answer.citations],
            "model": answer.model,
            "unsupported_sentences": answer.unsupported_sentences,
            "groundedness": asdict(answer.groundedness) if answer.groundedness else None,
            "mode": str(answer.mode) if answer.mode else None,
            "fallback": str(answer.fallback) if answer.fallback else None,
            "created_at": utc_now(),
        }
        try:
            self.store.put(
                tenant, partition, question_key(question), entry_id, entry, self.ttl_seconds
            )
            if self.questions is not None and embedding is not None:
                self.questions.add(tenant, partition, entry_id, question, embedding)
        except CacheUnavailable as exc:
            self._unavailable(exc)

    def _entry(self, tenant: str, partition: str, entry_id: str) -> dict[str, Any] | None:
        entry = self.store.get_entry(tenant, entry_id)
        # An entry of another generation is never served, whatever found it.
        if entry is None or entry.get("partition") != partition:
            return None
        return entry

    def _count(self, result: str) -> None:
        if self.metrics is not None:
            self.metrics.count("cache_lookups", result=result)

    def _unavailable(self, exc: CacheUnavailable) -> None:
        logger.warning("answer cache skipped: %s", exc)
        if self.metrics is not None:
            self.metrics.count("cache_errors")


def cache_scope(mode: SearchMode, top_k: int, variant: str = "") -> str:
    return f"{mode}/{top_k}/{variant}"


_CITATION_FIELDS = frozenset(Citation.__dataclass_fields__)


def _served(entry: dict[str, Any], info: CacheInfo) -> CachedAnswer:
    # Fields this version does not know (an entry written by a newer one) are left out.
    return CachedAnswer(
        answer=entry["answer"],
        citations=[
            Citation(**{k: v for k, v in c.items() if k in _CITATION_FIELDS})
            for c in entry["citations"]
        ],
        model=entry["model"],
        unsupported_sentences=int(entry.get("unsupported_sentences", 0)),
        info=info,
        groundedness=Groundedness.from_dict(entry["groundedness"])
        if entry.get("groundedness")
        else None,
        mode=AnswerMode(entry["mode"]) if entry.get("mode") else None,
        fallback=Fallback(entry["fallback"]) if entry.get("fallback") else None,
    )


class CacheInvalidatingTier(DelegatingTier):
    """A ``VectorTier`` that moves the tenant's cache generation on after every write, so
    cached answers die with the corpus they came from, whichever path wrote (upload,
    delete, queue consumer, rehydration). If the generation cannot be moved on, the write
    fails with ``CacheUnavailable``; writes are idempotent, so a retry completes both.
    Reads pass through unchanged."""

    def __init__(self, inner: VectorTier, store: CacheStore) -> None:
        self.inner = inner
        self.store = store

    def upsert(self, tenant: str, chunks: Sequence[Chunk], embeddings: np.ndarray) -> None:
        super().upsert(tenant, chunks, embeddings)
        self.store.bump_generation(tenant)

    def delete_document(self, tenant: str, doc_id: str) -> int:
        removed = super().delete_document(tenant, doc_id)
        self.store.bump_generation(tenant)
        return removed

    def delete_chunks(self, tenant: str, chunk_ids: Sequence[str]) -> None:
        super().delete_chunks(tenant, chunk_ids)
        self.store.bump_generation(tenant)

    def drop_tenant(self, tenant: str) -> None:
        super().drop_tenant(tenant)
        self.store.bump_generation(tenant)
