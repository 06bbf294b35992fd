"""Ingest, list and delete documents.

Ingestion order makes failures safe: everything that can reject a file (parsing, chunking)
happens before the first write; the manifest is written last, so a document is listed only
once its chunks are in the store and the index; and a failed write is undone.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePath
from typing import TYPE_CHECKING

from ragops.domain.artifacts import (
    ChunkArtifact,
    artifact_key,
    artifact_prefix,
    decode_record,
    duplicate_index_key,
    encode_artifact,
    encode_record,
    manifest_key,
    manifest_prefix,
    raw_key,
)
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
from ragops.errors import (
    DocumentNotFound,
    DocumentRejected,
    NoTextExtracted,
    ObjectNotFound,
    QuotaExceeded,
    TierUnavailable,
)
from ragops.ports import Embedder, ObjectStore, VectorTier

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


def needs_rechunking(record: DocumentRecord) -> bool:
    """True for an indexed document whose chunks an older ``CHUNKING_VERSION`` made (or
    one from before versions were recorded): ingesting its unchanged bytes chunks it again."""
    return (
        record.status is DocumentStatus.INDEXED
        and (record.chunking_version or 0) < CHUNKING_VERSION
    )


def _load_record(store: ObjectStore, tenant: str, doc_id: str) -> DocumentRecord | None:
    try:
        return decode_record(store.get(manifest_key(tenant, doc_id)))
    except ObjectNotFound:
        return None


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


def _document_id(item: UploadedFile) -> str:
    """A fixed id if the caller gave one, else one derived from the file name."""
    return item.doc_id or document_id_for(_source(item))


def _claim(seen: set[str], item: UploadedFile) -> str:
    """The item's document id, refusing a second file for the same document in one call."""
    doc_id = _document_id(item)
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
    previous = _load_record(ctx.store, tenant, doc_id)
    if (
        previous is not None
        and previous.content_hash == digest
        and previous.embedding_model == ctx.embedder.model_id
        and previous.status is DocumentStatus.INDEXED
        and not needs_rechunking(previous)
        and len(ctx.index.document_chunk_ids(tenant, doc_id)) == previous.chunk_count
    ):
        return IngestResult(IngestOutcome.UNCHANGED, previous)

    parsed = parse_document(source, item.data, max_bytes=ctx.max_bytes)
    record = _new_record(ctx, item, parsed, tenant=tenant, doc_id=doc_id, previous=previous)
    text = "\n".join(section.text for section in parsed.sections)
    record.language = detect_language(text)
    record.quality = [f.to_dict() for f in text_findings(text, record.language)]
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


def _duplicate_index(store: ObjectStore, tenant: str) -> DuplicateIndex:
    try:
        return DuplicateIndex.from_dict(json.loads(store.get(duplicate_index_key(tenant))))
    except ObjectNotFound:
        return DuplicateIndex()


def _save_duplicate_index(store: ObjectStore, tenant: str, index: DuplicateIndex) -> None:
    # Read, changed and written whole: two ingestions of one tenant at the same moment may
    # lose one's entries, which only means a later duplicate of them goes unflagged.
    payload = json.dumps(index.to_dict(), separators=(",", ":")).encode()
    store.put(duplicate_index_key(tenant), payload, "application/json")


def _check_duplicates(ctx: IngestContext, tenant: str, batch: list[_Prepared]) -> DuplicateIndex:
    """Add exact and near-duplicate findings to the batch's records, against the tenant's
    documents and the batch's earlier ones; returns the index with the batch in it."""
    index = _duplicate_index(ctx.store, tenant)
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
    if _load_record(ctx.store, tenant, doc_id) is not None:
        return
    source = _source(item)
    content_type = SUPPORTED_TYPES.get(PurePath(source).suffix.lower(), "application/octet-stream")
    now = utc_now()
    record = DocumentRecord(
        doc_id=doc_id,
        tenant=tenant,
        title=(item.title or PurePath(source).name).strip(),
        source=source,
        content_type=content_type,
        content_hash=content_hash(item.data),
        size_bytes=len(item.data),
        chunk_count=0,
        pages=None,
        embedding_model=ctx.embedder.model_id,
        status=DocumentStatus.FAILED,
        created_at=now,
        updated_at=now,
        status_reason=rejected.reason,
        quality=[empty_text_finding(rejected.reason).to_dict()],
    )
    if not item.raw_stored:
        ctx.store.put(raw_key(tenant, doc_id), item.data, content_type)
    ctx.store.put(manifest_key(tenant, doc_id), encode_record(record), "application/json")


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
    written: list[str] = []
    replaced: dict[str, tuple[bytes, str]] = {}
    """Originals overwritten by a new version: put back if the ingestion fails."""
    try:
        offset = 0
        for prepared in batch:
            count = len(prepared.chunks)
            key_version = prepared.record.version
            key = artifact_key(tenant, prepared.record.doc_id, key_version)
            artifact = ChunkArtifact(
                prepared.record, prepared.chunks, embeddings[offset : offset + count]
            )
            if prepared.previous is not None and prepared.previous.version == key_version:
                # The same bytes chunked again: the live artifact has this key.
                with contextlib.suppress(ObjectNotFound):
                    replaced[key] = (ctx.store.get(key), "application/json")
            ctx.store.put(key, encode_artifact(artifact), "application/json")
            if key not in replaced:
                written.append(key)
            offset += count
        ctx.index.upsert(tenant, [c for p in batch for c in p.chunks], embeddings)
        for prepared in batch:
            record = prepared.record
            if not prepared.raw_stored:
                key = raw_key(tenant, record.doc_id)
                if prepared.previous is not None:
                    with contextlib.suppress(ObjectNotFound):
                        replaced[key] = (ctx.store.get(key), prepared.previous.content_type)
                ctx.store.put(key, prepared.data, record.content_type)
                if key not in replaced:
                    written.append(key)
            ctx.store.put(
                manifest_key(tenant, record.doc_id), encode_record(record), "application/json"
            )
    except Exception:
        _undo(ctx, tenant, written, new_ids, replaced)
        raise
    if old_ids:
        ctx.index.delete_chunks(tenant, old_ids)
    results = []
    for prepared in batch:
        record = prepared.record
        live = artifact_key(tenant, record.doc_id, record.version)
        if prepared.previous is not None:
            for key in ctx.store.list(artifact_prefix(tenant, record.doc_id)):
                if key != live:
                    ctx.store.delete(key)
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
        _save_duplicate_index(ctx.store, tenant, duplicates)
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


def _undo(
    ctx: IngestContext,
    tenant: str,
    written: list[str],
    new_chunk_ids: list[str],
    replaced: dict[str, tuple[bytes, str]] | None = None,
) -> None:
    """Best effort to leave store and index as they were before a failed ingestion:
    remove what was written, put back the originals that ``replaced`` holds."""
    try:
        ctx.index.delete_chunks(tenant, new_chunk_ids)
    except Exception:  # the original error matters more than a failed clean-up
        logger.exception("could not remove new chunks after a failed ingestion")
    for key in written:
        try:
            ctx.store.delete(key)
        except Exception:
            logger.exception("could not remove %s after a failed ingestion", key)
    for key, (data, content_type) in (replaced or {}).items():
        try:
            ctx.store.put(key, data, content_type)
        except Exception:
            logger.exception("could not put back %s after a failed ingestion", key)


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
            previous = _load_record(ctx.store, tenant, doc_id)
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
            _keep_without_text(ctx, tenant, item, doc_id, rejected)
            results.append(rejected)
            continue
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
        ctx.store.put(manifest_key(tenant, doc_id), encode_record(record), "application/json")
        if not item.raw_stored:
            try:
                ctx.store.put(raw_key(tenant, doc_id), item.data, parsed.content_type)
            except Exception:
                if previous is None:
                    ctx.store.delete(manifest_key(tenant, doc_id))
                else:
                    ctx.store.put(
                        manifest_key(tenant, doc_id), encode_record(previous), "application/json"
                    )
                raise
        results.append(IngestResult(IngestOutcome.ACCEPTED, record))
    return results


@dataclass(frozen=True)
class TenantQuota:
    """How much a tenant may hold: documents, and bytes of originals (None: no limit)."""

    max_documents: int | None = None
    max_bytes: int | None = None


def check_quota(
    store: ObjectStore,
    tenant: str,
    files: Sequence[UploadedFile],
    quota: TenantQuota,
    *,
    leaving: Collection[str] = (),
) -> None:
    """Raise ``QuotaExceeded`` if storing ``files`` would take ``tenant`` over ``quota``
    (a file replacing a document of the same id counts once, at its new size; documents
    ``leaving``, by id, count as gone). Nothing is written; it runs before any file of the
    upload is."""
    if quota.max_documents is None and quota.max_bytes is None:
        return
    held = {
        r.doc_id: r.size_bytes for r in iter_manifests(store, tenant) if r.doc_id not in leaving
    }
    incoming: dict[str, int] = {}
    for item in files:
        try:
            incoming[_document_id(item)] = len(item.data)
        except DocumentRejected:
            continue  # refused on its own later, with its reason
    documents = len(held.keys() | incoming.keys())
    if quota.max_documents is not None and documents > quota.max_documents:
        raise QuotaExceeded(
            f"tenant {tenant} may hold {quota.max_documents:,} documents; this upload "
            f"would make {documents:,} (delete some first)"
        )
    stored = sum(size for doc, size in held.items() if doc not in incoming)
    stored += sum(incoming.values())
    if quota.max_bytes is not None and stored > quota.max_bytes:
        raise QuotaExceeded(
            f"tenant {tenant} may store {quota.max_bytes:,} bytes; this upload would make "
            f"{stored:,}"
        )


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
    for record in iter_manifests(ctx.store, tenant):
        if record.status is DocumentStatus.PENDING:
            pending.setdefault(record.tenant, []).append(record)
    results: list[IngestResult | DocumentRejected] = []
    for owner, records in sorted(pending.items()):
        for start in range(0, len(records), group_size):
            results.extend(_ingest_stored(ctx, owner, records[start : start + group_size]))
    return results


def _ingest_stored(
    ctx: IngestContext, tenant: str, records: Sequence[DocumentRecord]
) -> list[IngestResult | DocumentRejected]:
    """Index documents whose raw bytes and manifests are already in the store; one that
    turns out unreadable gets its manifest marked ``failed`` with the reason."""
    files = [
        UploadedFile(
            filename=r.source,
            data=ctx.store.get(raw_key(tenant, r.doc_id)),
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
            ctx.store.put(
                manifest_key(tenant, record.doc_id), encode_record(record), "application/json"
            )
    return outcomes


def parse_raw_key(key: str) -> tuple[str, str] | None:
    """``(tenant, doc_id)`` for a key of the form ``raw/{tenant}/{doc_id}``, else None."""
    parts = key.split("/")
    if len(parts) != 3 or parts[0] != "raw" or not parts[2]:
        return None
    try:
        return validate_tenant(parts[1]), parts[2]
    except ValueError:
        return None


def handle_object_event(ctx: IngestContext, *, key: str, removed: bool, tier_usable: bool) -> str:
    """React to an object store event (S3 ``ObjectCreated`` / ``ObjectRemoved``) on
    ``raw/{tenant}/{doc_id}``; returns what was done, in a word.

    Safe to deliver twice: a created object that is already indexed with the same bytes
    is ``unchanged``; a removed document that is gone already is ``gone``. While the tier
    cannot take documents they stay ``pending`` and are indexed on resume. A created
    object without a manifest raises ``ObjectNotFound`` (the manifest is written first,
    so this is a race or a stray upload; a retry settles it).
    """
    where = parse_raw_key(key)
    if where is None:
        return "ignored"
    tenant, doc_id = where
    if removed:
        if ctx.store.exists(key):
            return "recreated"  # deleted and uploaded again before this event arrived
        try:
            delete_document(ctx.store, ctx.index, tenant, doc_id)
        except DocumentNotFound:
            return "gone"
        return "deleted"
    record = _load_record(ctx.store, tenant, doc_id)
    if record is None:
        if not ctx.store.exists(key):
            return "gone"  # created, then deleted with its manifest before this event
        raise ObjectNotFound(manifest_key(tenant, doc_id))
    if not tier_usable:
        return "pending"
    (outcome,) = _ingest_stored(ctx, tenant, [record])
    return "failed" if isinstance(outcome, DocumentRejected) else str(outcome.outcome)


def iter_manifests(store: ObjectStore, tenant: str | None = None) -> Iterator[DocumentRecord]:
    """Every document manifest of ``tenant``, or of every tenant, in store order."""
    for key in store.list(manifest_prefix(tenant) if tenant else "documents/"):
        if key.endswith(".json"):
            try:
                yield decode_record(store.get(key))
            except ObjectNotFound:
                continue  # deleted while we listed


def list_documents(store: ObjectStore, tenant: str) -> list[DocumentRecord]:
    """The tenant's documents, most recently updated first."""
    validate_tenant(tenant)
    records = iter_manifests(store, tenant)
    return sorted(records, key=lambda r: (r.updated_at, r.doc_id), reverse=True)


def get_document(store: ObjectStore, tenant: str, doc_id: str) -> DocumentRecord:
    validate_tenant(tenant)
    record = _load_record(store, tenant, doc_id)
    if record is None:
        raise DocumentNotFound(doc_id)
    return record


def delete_document(store: ObjectStore, index: VectorTier, tenant: str, doc_id: str) -> int:
    """Remove a document from the index and the store; returns the chunks removed.

    Raises ``DocumentNotFound`` when the tenant has no such document.
    """
    get_document(store, tenant, doc_id)
    removed = index.delete_document(tenant, doc_id)
    for key in list(store.list(artifact_prefix(tenant, doc_id))):
        store.delete(key)
    store.delete(raw_key(tenant, doc_id))
    store.delete(manifest_key(tenant, doc_id))
    duplicates = _duplicate_index(store, tenant)
    if doc_id in duplicates:
        duplicates.remove(doc_id)
        _save_duplicate_index(store, tenant, duplicates)
    logger.info("deleted document", extra={"tenant": tenant, "doc_id": doc_id})
    return removed
