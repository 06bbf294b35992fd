"""Rebuild the vector tier from the chunk artifacts in the object store.

The object store is the system of record: every searchable document has a chunk artifact
(chunks and their embeddings). Rehydrating reads those and upserts them into the tier
without calling the embedding model, so a tier destroyed to save money (pause) comes back
for the cost of reading objects.

Resumable without a checkpoint file: the tier itself records progress. A document whose
chunks are all in the tier already is skipped without reading its artifact, so running
again after a crash continues where the first run stopped; upserts are idempotent (chunk
ids are deterministic), so a document caught half-written is simply written again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from ragops.domain.models import DocumentRecord, DocumentStatus
from ragops.domain.tenants import validate_tenant
from ragops.errors import ObjectNotFound
from ragops.ports import ObjectStore, VectorTier
from ragops.repositories.documents import ChunkArtifacts, DocumentCatalogue

logger = logging.getLogger(__name__)

RehydrateProgress = Callable[[int, int], None]
"""Called with (documents done, documents in total) after each batch."""


@dataclass
class RehydrateReport:
    documents: int = 0
    """Documents with a searchable version in the store."""
    restored: int = 0
    """Documents written to the tier by this run."""
    skipped: int = 0
    """Documents the tier already held completely."""
    chunks: int = 0
    """Chunks written by this run."""
    missing: list[str] = field(default_factory=list)
    """``tenant/doc_id`` of documents whose artifact is gone (they need re-ingesting)."""
    tenants: list[str] = field(default_factory=list)


def _live_artifact(artifacts: ChunkArtifacts, record: DocumentRecord) -> str | None:
    """The key of the artifact that is searchable for ``record``: its own version once
    indexed; while a new version is pending or failed, the previous one, if any."""
    if record.status is DocumentStatus.INDEXED:
        return artifacts.key(record.tenant, record.doc_id, record.version)
    stored = artifacts.stored_keys(record.tenant, record.doc_id)
    return stored[-1] if stored else None


def rehydrate_tier(
    store: ObjectStore,
    index: VectorTier,
    *,
    tenant: str | None = None,
    batch_chunks: int = 2048,
    progress: RehydrateProgress | None = None,
) -> RehydrateReport:
    """Upsert every live chunk artifact of ``tenant`` (or of every tenant) into ``index``.

    Never calls an embedder. Documents the index already holds completely are skipped, so
    the call is safe to repeat and resumes an interrupted run. Chunks are written in
    batches of about ``batch_chunks``.
    """
    import numpy as np

    if tenant is not None:
        validate_tenant(tenant)
    report = RehydrateReport()
    work: list[tuple[DocumentRecord, str]] = []
    tenants = {tenant} if tenant is not None else set()
    artifacts = ChunkArtifacts(store)
    for record in DocumentCatalogue(store).records(tenant):
        tenants.add(record.tenant)
        key = _live_artifact(artifacts, record)
        if key is None:
            if record.status is DocumentStatus.INDEXED:
                report.missing.append(f"{record.tenant}/{record.doc_id}")
            continue  # pending without a previous version: nothing searchable yet
        work.append((record, key))
    report.tenants = sorted(tenants)
    report.documents = len(work)
    work.sort(key=lambda item: item[0].tenant)  # one run of batches per tenant

    done = 0
    pending_chunks: list = []
    pending_vectors: list = []
    pending_tenant: str | None = None

    def flush() -> None:
        nonlocal pending_chunks, pending_vectors
        if pending_chunks:
            index.upsert(pending_tenant, pending_chunks, np.vstack(pending_vectors))
            report.chunks += len(pending_chunks)
        pending_chunks, pending_vectors = [], []

    tenant_is_empty = False
    for record, key in work:
        if pending_tenant != record.tenant:
            flush()
            pending_tenant = record.tenant
            # An empty tenant (a tier rebuilt from nothing) holds no document: no need to
            # ask the tier about each one, which over HTTP would cost a round trip each.
            tenant_is_empty = index.count(record.tenant) == 0
        held = [] if tenant_is_empty else index.document_chunk_ids(record.tenant, record.doc_id)
        if held and len(held) == record.chunk_count and record.status is DocumentStatus.INDEXED:
            report.skipped += 1
        else:
            try:
                artifact = artifacts.get_key(key)
            except ObjectNotFound:
                report.missing.append(f"{record.tenant}/{record.doc_id}")
            else:
                stale = set(held) - {chunk.chunk_id for chunk in artifact.chunks}
                if stale:  # chunks of another version: the artifact is what is live
                    index.delete_chunks(record.tenant, sorted(stale))
                if artifact.chunks:
                    pending_chunks.extend(artifact.chunks)
                    pending_vectors.append(artifact.embeddings)
                report.restored += 1
        done += 1
        if len(pending_chunks) >= batch_chunks:
            flush()
            if progress:
                progress(done, report.documents)
    flush()
    if progress:
        progress(done, report.documents)
    logger.info(
        "tier rehydrated",
        extra={
            "documents": report.documents,
            "restored": report.restored,
            "skipped": report.skipped,
            "chunks": report.chunks,
            "missing": len(report.missing),
        },
    )
    return report
