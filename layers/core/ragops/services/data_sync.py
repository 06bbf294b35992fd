"""Keep a tenant's documents in step with a folder of files (ingestion path 2: documents
kept in a repository and synced by CI, next to uploads through the API).

The folder is the source of truth for the tenant: a file is the document named by its path
in the folder (the name ``ragops ingest FOLDER`` gives it too, so both see one document).
A sync compares each file with what the tenant already has, through the same check as
every ingestion (``services.documents``: content hash, embedding model, chunks in the
index): an unchanged file is neither stored nor embedded again; a new or changed one is
ingested; with ``prune``, a document whose file is gone from the folder is deleted. An
unchanged file whose document was chunked by an older ``CHUNKING_VERSION`` is chunked and
embedded again: it is ``updated``, with the reason, and counted as ``rechunked``.

Two ways to ingest, as for API uploads (``RAGOPS_INGEST_MODE``):

- ``index_now`` (sync): files are parsed, embedded and indexed here, and a removed file's
  document is deleted from the store and the index here. When the tier cannot take them,
  files are stored as pending (indexed on resume) and deletions wait for the next sync.
- not ``index_now`` (async, the cloud): files are parsed here (a bad file is refused with
  its reason) and stored with a pending manifest; the ingest function indexes them on the
  bucket's ``Object Created`` event. A removed file's raw object is deleted; the function
  removes the rest on the ``Object Deleted`` event. Nothing is embedded here.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ragops.domain.chunking import CHUNKING_VERSION
from ragops.domain.models import DocumentRecord, document_id_for
from ragops.domain.tenants import validate_tenant
from ragops.domain.tier import TierState, TierStatus
from ragops.errors import DocumentNotFound, DocumentRejected, InvalidInput, TierUnavailable
from ragops.repositories.documents import DocumentCatalogue, OriginalFiles
from ragops.services.documents import delete_document
from ragops.services.ingestion import (
    IngestContext,
    IngestOutcome,
    UploadedFile,
    needs_rechunking,
    receive_uploads,
)
from ragops.services.quotas import TenantQuota, check_quota

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceFile:
    """One file of the synced folder: ``name`` is its path relative to the folder (POSIX
    separators), which names the document; ``read`` returns its bytes when it is needed."""

    name: str
    read: Callable[[], bytes]
    size: int | None = None
    """Its size in bytes when known without reading it: a file over the upload limit is
    refused unread (a stray disk image in the folder costs nothing)."""


class SyncAction(StrEnum):
    CREATED = "created"
    """A file the tenant had no document for: ingested (or stored as pending)."""
    UPDATED = "updated"
    """A file whose document existed with other bytes, or was not yet indexed."""
    UNCHANGED = "unchanged"
    """Already there with the same bytes: nothing stored, nothing embedded."""
    DELETED = "deleted"
    """A document whose file left the folder (``prune``)."""
    REJECTED = "rejected"
    """A file that cannot be ingested (unreadable, empty, too large); nothing written."""
    DEFERRED = "deferred"
    """A deletion the tier could not take now (paused or failing); the next sync does it."""


@dataclass(frozen=True)
class SyncedDocument:
    name: str
    doc_id: str
    action: SyncAction
    status: str | None = None
    """The document's status afterwards (``indexed``, ``pending``), when it still exists."""
    chunks: int | None = None
    reason: str | None = None
    """Why a file was rejected, a deletion deferred, or an unchanged file chunked again."""
    rechunked: bool = False
    """The file is unchanged; its document was chunked again (an older chunking version)."""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "doc_id": self.doc_id}
        data["action"] = str(self.action)
        for key in ("status", "chunks", "reason"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.rechunked:
            data["rechunked"] = True
        return data


@dataclass
class SyncReport:
    tenant: str
    indexed_now: bool
    """True: ingested and deleted here; False: stored for the ingest function (async)."""
    pruned: bool
    documents: list[SyncedDocument] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Documents per action, every action named (zeros included)."""
        counts = {str(action): 0 for action in SyncAction}
        for document in self.documents:
            counts[str(document.action)] += 1
        return counts

    def rechunked(self) -> int:
        """Unchanged files chunked again (counted as ``updated`` too)."""
        return sum(document.rechunked for document in self.documents)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "ingestion": "indexed" if self.indexed_now else "stored",
            "pruned": self.pruned,
            "counts": self.counts(),
            "rechunked": self.rechunked(),
            "documents": [d.to_dict() for d in self.documents],
        }


def sync_documents(
    ctx: IngestContext,
    *,
    tenant: str,
    files: Sequence[SourceFile],
    tier_status: Callable[[], TierStatus],
    index_now: bool = True,
    prune: bool = False,
    group_size: int = 64,
    quota: TenantQuota | None = None,
) -> SyncReport:
    """Make ``tenant``'s documents match ``files``; returns what was done to each.

    Files are read and ingested ``group_size`` at a time (their chunks embedded together).
    ``tier_status`` is asked before each group and before deleting. Refuses (``InvalidInput``)
    to prune with no files at all: an empty or wrong folder would delete every document of
    the tenant. ``quota`` is checked before each group is written (``QuotaExceeded``),
    counting the documents a prune will remove as gone. Errors of the store or the models
    propagate; what was done before stays.
    """
    validate_tenant(tenant)
    if group_size < 1:
        raise ValueError("group_size must be at least 1")
    names = [f.name for f in files]
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise InvalidInput(f"the same name appears twice: {', '.join(duplicates)}")
    if prune and not files:
        raise InvalidInput(
            f"no documents to sync: refusing to prune, which would delete every document of "
            f"tenant {tenant!r}"
        )
    before = {record.doc_id: record for record in DocumentCatalogue(ctx.store).records(tenant)}
    report = SyncReport(tenant=tenant, indexed_now=index_now, pruned=prune)
    wanted = {document_id_for(name) for name in names}
    leaving = {doc_id for doc_id in before if doc_id not in wanted} if prune else set()
    for start in range(0, len(files), group_size):
        group = files[start : start + group_size]
        readable = [f for f in group if f.size is None or f.size <= ctx.max_bytes]
        uploads = [UploadedFile(filename=f.name, data=f.read()) for f in readable]
        if quota is not None:
            check_quota(ctx.store, tenant, uploads, quota, leaving=leaving)
        results: list[Any] = []
        if uploads:
            status = tier_status()
            results = receive_uploads(
                ctx,
                tenant=tenant,
                files=uploads,
                tier_usable=status.usable,
                tier_reason=status.reason,
                index_now=index_now,
            )
        outcomes = dict(zip((f.name for f in readable), results, strict=True))
        for item in group:
            if item.name in outcomes:
                report.documents.append(_synced(item.name, outcomes[item.name], before))
                continue
            reason = f"the file is {item.size:,} bytes, over the limit of {ctx.max_bytes:,} bytes"
            report.documents.append(
                SyncedDocument(
                    item.name, document_id_for(item.name), SyncAction.REJECTED, reason=reason
                )
            )
    if prune:
        stale = [record for doc_id, record in before.items() if doc_id in leaving]
        report.documents.extend(_prune(ctx, tenant, stale, tier_status, index_now))
    # Not spread into ``extra``: "created" is a LogRecord attribute of its own.
    logger.info("synced documents", extra={"tenant": tenant, "counts": report.counts()})
    return report


def _synced(name: str, result: Any, before: dict[str, DocumentRecord]) -> SyncedDocument:
    if isinstance(result, DocumentRejected):
        return SyncedDocument(
            name, document_id_for(name), SyncAction.REJECTED, reason=result.reason
        )
    record = result.record
    previous = before.get(record.doc_id)
    rechunked = False
    reason = None
    if result.outcome is IngestOutcome.UNCHANGED:
        action = SyncAction.UNCHANGED
    elif previous is not None:
        action = SyncAction.UPDATED
        rechunked = previous.content_hash == record.content_hash and needs_rechunking(previous)
        if rechunked:
            done = "chunked again" if record.chunking_version else "stored to be chunked again"
            reason = (
                f"unchanged file, {done} (chunking version {previous.chunking_version or 1} "
                f"-> {CHUNKING_VERSION})"
            )
    else:
        action = SyncAction.CREATED
    return SyncedDocument(
        name,
        record.doc_id,
        action,
        status=str(record.status),
        chunks=record.chunk_count or None,
        reason=reason,
        rechunked=rechunked,
    )


def _prune(
    ctx: IngestContext,
    tenant: str,
    stale: list[DocumentRecord],
    tier_status: Callable[[], TierStatus],
    index_now: bool,
) -> list[SyncedDocument]:
    """Delete the documents whose file left the folder. A deletion needs the tier (the
    API refuses one while the tier is paused, for the same reason), so while it cannot be
    reached they are deferred, not half done."""
    if not stale:
        return []
    status = tier_status()
    done: list[SyncedDocument] = []
    for record in sorted(stale, key=lambda r: r.source):
        if not status.usable:
            active = status.state is TierState.ACTIVE
            state = "not responding" if active else str(status.state)
            done.append(_deferred(record, f"the search tier is {state}"))
            continue
        if not index_now:
            # The bucket's Object Deleted event brings the ingest function, which removes
            # the chunks from the tier, the chunk artifacts and the manifest.
            OriginalFiles(ctx.store).delete(tenant, record.doc_id)
            done.append(SyncedDocument(record.source, record.doc_id, SyncAction.DELETED))
            continue
        try:
            delete_document(ctx.store, ctx.index, tenant, record.doc_id)
        except DocumentNotFound:
            pass  # deleted by someone else since we listed: the outcome is the same
        except TierUnavailable as exc:
            done.append(_deferred(record, f"the search tier failed: {exc}"))
            continue
        done.append(SyncedDocument(record.source, record.doc_id, SyncAction.DELETED))
    return done


def _deferred(record: DocumentRecord, reason: str) -> SyncedDocument:
    return SyncedDocument(
        record.source,
        record.doc_id,
        SyncAction.DEFERRED,
        status=str(record.status),
        reason=f"not deleted yet, {reason}: the next sync deletes it",
    )
