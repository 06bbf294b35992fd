"""Ingesting documents: parse, chunk, embed, index and record them, now or (while the
search tier cannot take them) later.

Ingestion order makes failures safe: everything that can reject a file (parsing, chunking)
happens before the first write; the manifest is written last, so a document is listed only
once its chunks are in the store and the index; and a failed write is undone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePath
from typing import TYPE_CHECKING

from ragops.domain import keys
from ragops.domain.artifacts import ChunkArtifact
from ragops.domain.chunking import CHUNKING_VERSION, Chunker
from ragops.domain.models import (
    Chunk,
    DocumentRecord,
    DocumentStatus,
    ParsedDocument,
    content_hash,
    document_id_for,
    utc_now,
)
from ragops.domain.parsing import SUPPORTED_TYPES, parse_document
from ragops.domain.quality import (
    DuplicateIndex,
    detect_language,
    empty_text_finding,
    minhash,
    text_findings,
)
from ragops.domain.tenants import validate_tenant
from ragops.errors import DocumentRejected, NoTextExtracted, TierUnavailable
from ragops.ports import Embedder, ObjectStore, TextRecognizer, VectorTier
from ragops.repositories.documents import (
    ChunkArtifacts,
    DocumentCatalogue,
    OriginalFiles,
    QualitySignatures,
    UndoableStore,
)
from ragops.services.recognition import ocr_reads, parse_or_recognize

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while chunks are embedded."""


class IngestOutcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ACCEPTED = "accepted"
    """Stored and listed as pending: it is indexed when the search tier can take it."""


@dataclass(frozen=True)
class IngestResult:
    outcome: IngestOutcome
    record: DocumentRecord


@dataclass(frozen=True)
class IngestContext:
    """The ports and limits ingestion needs, built once by the bootstrap."""

    store: ObjectStore
    index: VectorTier
    embedder: Embedder
    chunker: Chunker
    max_bytes: int
    embed_call_size: int = 1024
    """Texts handed to the embedder per call. Large, because the local embedder sorts each
    call's texts by length before batching them, which saves padding; progress is
    reported between calls."""
    ocr: TextRecognizer | None = None
    """Reads scanned PDFs and images; without one they are kept unindexed, with why."""

    @property
    def catalogue(self) -> DocumentCatalogue:
        return DocumentCatalogue(self.store)

    @property
    def originals(self) -> OriginalFiles:
        return OriginalFiles(self.store)


def needs_rechunking(record: DocumentRecord) -> bool:
    """True for an indexed document whose chunks an older ``CHUNKING_VERSION`` made (or
    one from before versions were recorded): ingesting its unchanged bytes chunks it again."""
    return (
        record.status is DocumentStatus.INDEXED
        and (record.chunking_version or 0) < CHUNKING_VERSION
    )


def embed_in_batches(
    embedder: Embedder,
    texts: Sequence[str],
    batch_size: int,
    progress: ProgressCallback | None = None,
) -> np.ndarray:
    """Embeddings of ``texts`` (unit-length float32 rows), computed ``batch_size`` at a time
    so progress can be reported."""
    import numpy as np  # ingestion only: the API Lambda ships without numpy

    parts: list[np.ndarray] = []
    for start in range(0, len(texts), batch_size):
        parts.append(
            np.asarray(embedder.embed_array(texts[start : start + batch_size]), np.float32)
        )
        if progress:
            progress(min(start + batch_size, len(texts)), len(texts))
    return np.vstack(parts) if parts else np.zeros((0, 0), np.float32)


@dataclass(frozen=True)
class UploadedFile:
    """One file to ingest: its name, its bytes, and optionally a fixed id and title."""

    filename: str
    data: bytes
    doc_id: str | None = None
    title: str | None = None
    raw_stored: bool = False
    """The bytes are already in the store under ``raw/{tenant}/{doc_id}`` (S3 event)."""


@dataclass
class _Prepared:
    """A document parsed and chunked, waiting for its embeddings and its writes."""

    record: DocumentRecord
    previous: DocumentRecord | None
    chunks: list[Chunk]
    data: bytes
    raw_stored: bool = False
    signature: list[int] | None = None
    """MinHash of the text, for the tenant's duplicate index."""

    @property
    def replaces_indexed(self) -> bool:
        return self.previous is not None and self.previous.status is DocumentStatus.INDEXED


def _source(item: UploadedFile) -> str:
    source = PurePath(item.filename).as_posix() if item.filename else ""
    if not source or source.endswith("/") or source == ".":
        raise DocumentRejected(item.filename or "(unnamed)", "the file has no name")
    return source


def document_id_of(item: UploadedFile) -> str:
    """A fixed id if the caller gave one, else one derived from the file name."""
    return item.doc_id or document_id_for(_source(item))


def _claim(seen: set[str], item: UploadedFile) -> str:
    """The item's document id, refusing a second file for the same document in one call."""
    doc_id = document_id_of(item)
    if doc_id in seen:
        raise DocumentRejected(item.filename, "the same document appears twice in one upload")
    seen.add(doc_id)
    return doc_id


def _new_record(
    ctx: IngestContext,
    item: UploadedFile,
    parsed: ParsedDocument,
    *,
    tenant: str,
    doc_id: str,
    previous: DocumentRecord | None,
    status: DocumentStatus = DocumentStatus.INDEXED,
    reason: str | None = None,
) -> DocumentRecord:
    """The manifest for ``item``; ``chunk_count`` is filled in once chunked."""
    source = _source(item)
    now = utc_now()
    return DocumentRecord(
        doc_id=doc_id,
        tenant=tenant,
        title=(item.title or parsed.title or PurePath(source).name).strip(),
        source=source,
        content_type=parsed.content_type,
        content_hash=content_hash(item.data),
        size_bytes=len(item.data),
        chunk_count=0,
        pages=sum(1 for s in parsed.sections if s.page is not None) or None,
        embedding_model=ctx.embedder.model_id,
        status=status,
        created_at=previous.created_at if previous else now,
        updated_at=now,
        status_reason=reason,
        chunking_version=CHUNKING_VERSION if status is DocumentStatus.INDEXED else None,
    )


def _prepare(
    ctx: IngestContext, tenant: str, item: UploadedFile, doc_id: str
) -> _Prepared | IngestResult:
    """Parse and chunk one file, or return UNCHANGED if it is already indexed as is (same
    bytes, embedding model and chunking version, and its chunks in the index).
    Raises ``DocumentRejected`` for a bad file. Writes nothing."""
    source = _source(item)
    digest = content_hash(item.data)
    previous = ctx.catalogue.find(tenant, doc_id)
    if (
        previous is not None
        and previous.content_hash == digest
        and previous.embedding_model == ctx.embedder.model_id
        and previous.status is DocumentStatus.INDEXED
        and not needs_rechunking(previous)
        and len(ctx.index.document_chunk_ids(tenant, doc_id)) == previous.chunk_count
    ):
        return IngestResult(IngestOutcome.UNCHANGED, previous)

    stored_key = ctx.originals.key(tenant, doc_id) if item.raw_stored else None
    parsed, read_by = parse_or_recognize(
        source, item.data, max_bytes=ctx.max_bytes, ocr=ctx.ocr, stored_key=stored_key
    )
    record = _new_record(ctx, item, parsed, tenant=tenant, doc_id=doc_id, previous=previous)
    text = "\n".join(section.text for section in parsed.sections)
    record.language = detect_language(text)
    record.quality = [f.to_dict() for f in [*read_by, *text_findings(text, record.language)]]
    chunks = ctx.chunker.split(
        parsed,
        doc_id=doc_id,
        tenant=tenant,
        title=record.title,
        source=source,
        version=record.version,
    )
    if not chunks:
        raise DocumentRejected(PurePath(source).name, "no text could be extracted from the file")
    record.chunk_count = len(chunks)
    return _Prepared(
        record=record,
        previous=previous,
        chunks=chunks,
        data=item.data,
        raw_stored=item.raw_stored,
        signature=minhash(text),
    )


def _check_duplicates(ctx: IngestContext, tenant: str, batch: list[_Prepared]) -> DuplicateIndex:
    """Add exact and near-duplicate findings to the batch's records, against the tenant's
    documents and the batch's earlier ones; returns the index with the batch in it."""
    index = QualitySignatures(ctx.store).load(tenant)
    for prepared in batch:
        record = prepared.record
        signature = prepared.signature or []
        found = index.findings(record.doc_id, record.content_hash, signature)
        record.quality = [*record.quality, *(f.to_dict() for f in found)]
        index.add(record.doc_id, record.content_hash, signature)
    return index


def _keep_without_text(
    ctx: IngestContext, tenant: str, item: UploadedFile, doc_id: str, rejected: NoTextExtracted
) -> None:
    """Store a new file that has no text as a ``failed`` document with an ``empty_text``
    finding, so that it is listed and nothing is lost. A new version of an existing
    document is only refused: the indexed version stays as it is."""
    if ctx.catalogue.find(tenant, doc_id) is not None:
        return
    source = _source(item)
    content_type = SUPPORTED_TYPES.get(PurePath(source).suffix.lower(), "application/octet-stream")
    record = failed_record(
        ctx,
        UploadedFile(source, item.data, doc_id, item.title),
        tenant=tenant,
        content_type=content_type,
        reason=rejected.reason,
    )
    record.quality = [empty_text_finding(rejected.reason).to_dict()]
    if not item.raw_stored:
        ctx.originals.put(tenant, doc_id, item.data, content_type)
    ctx.catalogue.save(record)


def failed_record(
    ctx: IngestContext, item: UploadedFile, *, tenant: str, content_type: str, reason: str
) -> DocumentRecord:
    """The manifest of a new file kept although it cannot be indexed (``failed``, with
    ``reason``): it is listed, and whoever polls it learns why. ``item.doc_id`` is set."""
    now = utc_now()
    return DocumentRecord(
        doc_id=item.doc_id or document_id_of(item),
        tenant=tenant,
        title=(item.title or PurePath(item.filename).name).strip(),
        source=item.filename,
        content_type=content_type,
        content_hash=content_hash(item.data),
        size_bytes=len(item.data),
        chunk_count=0,
        pages=None,
        embedding_model=ctx.embedder.model_id,
        status=DocumentStatus.FAILED,
        created_at=now,
        updated_at=now,
        status_reason=reason,
    )


def _commit(
    ctx: IngestContext, tenant: str, batch: list[_Prepared], embeddings: np.ndarray
) -> list[IngestResult]:
    """Write the documents' artifacts, index all their chunks in one upsert (a Chroma write
    costs about 30 ms whatever its size), then write raw bytes and manifests; undo
    everything on failure; retire previous versions once the new ones are live."""
    new_ids = [c.chunk_id for p in batch for c in p.chunks]
    fresh = set(new_ids)
    old_ids = [
        i
        for p in batch
        for i in ctx.index.document_chunk_ids(tenant, p.record.doc_id)
        if i not in fresh
    ]
    # Every write goes through one undoable store: a failure deletes what this batch
    # created and puts back what it replaced (a new version's originals, an artifact
    # chunked again from the same bytes, the previous manifests).
    writes = UndoableStore(ctx.store)
    artifacts, originals = ChunkArtifacts(writes), OriginalFiles(writes)
    catalogue = DocumentCatalogue(writes)
    try:
        offset = 0
        for prepared in batch:
            record, count = prepared.record, len(prepared.chunks)
            if prepared.previous is not None and prepared.previous.version == record.version:
                # The same bytes chunked again: the live artifact has this key.
                writes.may_replace(artifacts.key(tenant, record.doc_id, record.version))
            artifacts.put(
                ChunkArtifact(record, prepared.chunks, embeddings[offset : offset + count])
            )
            offset += count
        ctx.index.upsert(tenant, [c for p in batch for c in p.chunks], embeddings)
        for prepared in batch:
            record, previous = prepared.record, prepared.previous
            if not prepared.raw_stored:
                if previous is not None:
                    writes.may_replace(originals.key(tenant, record.doc_id), previous.content_type)
                originals.put(tenant, record.doc_id, prepared.data, record.content_type)
            if previous is not None:
                writes.may_replace(keys.manifest_key(tenant, record.doc_id))
            catalogue.save(record)
    except Exception:
        _undo(ctx, tenant, writes, new_ids)
        raise
    if old_ids:
        ctx.index.delete_chunks(tenant, old_ids)
    results = []
    for prepared in batch:
        record = prepared.record
        if prepared.previous is not None:
            ChunkArtifacts(ctx.store).retire(tenant, record.doc_id, keep=record.version)
        outcome = IngestOutcome.UPDATED if prepared.replaces_indexed else IngestOutcome.CREATED
        logger.info(
            "ingested document",
            extra={"tenant": tenant, "doc_id": record.doc_id, "outcome": str(outcome)},
        )
        results.append(IngestResult(outcome, record))
    return results


def ingest_files(
    ctx: IngestContext,
    *,
    tenant: str,
    files: Sequence[UploadedFile],
    progress: ProgressCallback | None = None,
) -> list[IngestResult | DocumentRejected]:
    """Ingest several files for ``tenant``, embedding their chunks together in batches.

    Returns one entry per file, in order: its ``IngestResult``, or the ``DocumentRejected``
    that explains why it was refused (a refused file writes nothing and does not stop the
    others). ``progress(done, total)`` counts chunks embedded.
    """
    validate_tenant(tenant)
    results: list[IngestResult | DocumentRejected | None] = [None] * len(files)
    pending: list[tuple[int, _Prepared]] = []
    seen: set[str] = set()
    for position, item in enumerate(files):
        try:
            doc_id = _claim(seen, item)
            prepared = _prepare(ctx, tenant, item, doc_id)
        except NoTextExtracted as rejected:
            _keep_without_text(ctx, tenant, item, doc_id, rejected)
            results[position] = rejected
            continue
        except DocumentRejected as rejected:
            results[position] = rejected
            continue
        if isinstance(prepared, IngestResult):
            results[position] = prepared
        else:
            pending.append((position, prepared))
    if pending:
        texts = [c.indexed_text() for _, p in pending for c in p.chunks]
        embeddings = embed_in_batches(ctx.embedder, texts, ctx.embed_call_size, progress)
        duplicates = _check_duplicates(ctx, tenant, [p for _, p in pending])
        committed = _commit(ctx, tenant, [p for _, p in pending], embeddings)
        QualitySignatures(ctx.store).save(tenant, duplicates)
        for (position, _), result in zip(pending, committed, strict=True):
            results[position] = result
    return [r for r in results if r is not None]


def ingest_document(
    ctx: IngestContext,
    *,
    tenant: str,
    filename: str,
    data: bytes,
    doc_id: str | None = None,
    title: str | None = None,
    progress: ProgressCallback | None = None,
) -> IngestResult:
    """Parse, chunk, embed and index one document for ``tenant``.

    The document's identity is ``doc_id``, by default derived from ``filename``: ingesting
    the same name again with identical bytes changes nothing, with other bytes replaces
    the old chunks. Raises ``DocumentRejected`` (nothing written) for a bad file.
    """
    (result,) = ingest_files(
        ctx,
        tenant=tenant,
        files=[UploadedFile(filename=filename, data=data, doc_id=doc_id, title=title)],
        progress=progress,
    )
    if isinstance(result, DocumentRejected):
        raise result
    return result


def _undo(ctx: IngestContext, tenant: str, writes: UndoableStore, new_chunk_ids: list[str]) -> None:
    """Best effort to leave store and index as they were before a failed ingestion."""
    try:
        ctx.index.delete_chunks(tenant, new_chunk_ids)
    except Exception:  # the original error matters more than a failed clean-up
        logger.exception("could not remove new chunks after a failed ingestion")
    for key, error in writes.undo():
        logger.error("could not undo the write of %s after a failed ingestion: %s", key, error)


def accept_upload(
    ctx: IngestContext, *, tenant: str, files: Sequence[UploadedFile], reason: str
) -> list[IngestResult | DocumentRejected]:
    """Store files for later indexing, while the search tier cannot take them.

    Each file is still parsed, so a bad file is refused now, with its reason, exactly as
    in ``ingest_files``. A good one gets its raw bytes and a ``pending`` manifest (with
    ``reason``); ``index_pending_documents`` indexes it later. An identical file that is
    already indexed stays as it is.
    """
    validate_tenant(tenant)
    results: list[IngestResult | DocumentRejected] = []
    seen: set[str] = set()
    for item in files:
        try:
            doc_id = _claim(seen, item)
            previous = ctx.catalogue.find(tenant, doc_id)
            if (
                previous is not None
                and previous.content_hash == content_hash(item.data)
                and previous.status is not DocumentStatus.FAILED
                and not needs_rechunking(previous)
            ):
                results.append(IngestResult(IngestOutcome.UNCHANGED, previous))
                continue
            parsed = parse_document(_source(item), item.data, max_bytes=ctx.max_bytes)
        except NoTextExtracted as rejected:
            content_type = SUPPORTED_TYPES[PurePath(_source(item)).suffix.lower()]
            if ctx.ocr is None or not ocr_reads(content_type):
                _keep_without_text(ctx, tenant, item, doc_id, rejected)
                results.append(rejected)
                continue
            # OCR reads it when the tier is back and the document is indexed.
            parsed = ParsedDocument(title=None, sections=[], content_type=content_type)
        except DocumentRejected as rejected:
            results.append(rejected)
            continue
        record = _new_record(
            ctx,
            item,
            parsed,
            tenant=tenant,
            doc_id=doc_id,
            previous=previous,
            status=DocumentStatus.PENDING,
            reason=reason,
        )
        # The manifest goes first: the raw object's creation event (cloud) must find it.
        # While pending, the previous version (if any) stays searchable.
        ctx.catalogue.save(record)
        if not item.raw_stored:
            try:
                ctx.originals.put(tenant, doc_id, item.data, parsed.content_type)
            except Exception:
                if previous is None:
                    ctx.catalogue.remove(tenant, doc_id)
                else:
                    ctx.catalogue.save(previous)
                raise
        results.append(IngestResult(IngestOutcome.ACCEPTED, record))
    return results


def receive_uploads(
    ctx: IngestContext,
    *,
    tenant: str,
    files: Sequence[UploadedFile],
    tier_usable: bool,
    tier_reason: str,
    index_now: bool = True,
) -> list[IngestResult | DocumentRejected]:
    """Index uploads now when the tier can take them and ``index_now`` is set; otherwise,
    or if the tier fails on the way, store them as pending (``accept_upload``). Nothing
    a caller uploads is lost to a paused or failing tier."""
    reason = tier_reason
    if not index_now:
        reason = "stored; indexing runs in the background"
    elif tier_usable:
        try:
            return ingest_files(ctx, tenant=tenant, files=files)
        except TierUnavailable as exc:
            logger.warning("tier failed during ingestion; storing uploads as pending: %s", exc)
            reason = f"the search tier failed ({exc}); it will be indexed later"
    return accept_upload(ctx, tenant=tenant, files=files, reason=reason)


def index_pending_documents(
    ctx: IngestContext, *, tenant: str | None = None, group_size: int = 64
) -> list[IngestResult | DocumentRejected]:
    """Index every pending document (of one tenant, or of all), from the raw bytes in the
    store. A document that turns out unreadable is marked ``failed`` with its reason; the
    tier failing leaves the rest pending for the next attempt (the error propagates)."""
    pending: dict[str, list[DocumentRecord]] = {}
    for record in ctx.catalogue.records(tenant):
        if record.status is DocumentStatus.PENDING:
            pending.setdefault(record.tenant, []).append(record)
    results: list[IngestResult | DocumentRejected] = []
    for owner, records in sorted(pending.items()):
        for start in range(0, len(records), group_size):
            results.extend(index_stored(ctx, owner, records[start : start + group_size]))
    return results


def index_stored(
    ctx: IngestContext, tenant: str, records: Sequence[DocumentRecord]
) -> list[IngestResult | DocumentRejected]:
    """Index documents whose raw bytes and manifests are already in the store; one that
    turns out unreadable gets its manifest marked ``failed`` with the reason."""
    files = [
        UploadedFile(
            filename=r.source,
            data=ctx.originals.get(tenant, r.doc_id),
            doc_id=r.doc_id,
            title=r.title,
            raw_stored=True,
        )
        for r in records
    ]
    outcomes = ingest_files(ctx, tenant=tenant, files=files)
    for record, outcome in zip(records, outcomes, strict=True):
        if isinstance(outcome, DocumentRejected) and not isinstance(outcome, NoTextExtracted):
            record.status = DocumentStatus.FAILED
            record.status_reason = outcome.reason
            record.updated_at = utc_now()
            ctx.catalogue.save(record)
    return outcomes
