"""Tenant quotas: how many documents and bytes of originals a tenant may hold, checked
before any file of an upload is written."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ragops.errors import DocumentRejected, QuotaExceeded
from ragops.ports import ObjectStore
from ragops.repositories.documents import DocumentCatalogue
from ragops.repositories.uploads import UploadIntents
from ragops.services.ingestion import UploadedFile, document_id_of


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
    incoming: dict[str, int] = {}
    for item in files:
        try:
            incoming[document_id_of(item)] = len(item.data)
        except DocumentRejected:
            continue  # refused on its own later, with its reason
    check_quota_for(store, tenant, incoming, quota, leaving=leaving)


def check_quota_for(
    store: ObjectStore,
    tenant: str,
    incoming: Mapping[str, int],
    quota: TenantQuota,
    *,
    leaving: Collection[str] = (),
    now: datetime | None = None,
) -> None:
    """``check_quota`` for documents known by id and size only (``incoming``: bytes per
    document id), as a direct upload declares them before its bytes exist.

    Direct uploads granted and not yet arrived (``UploadIntents.outstanding`` at ``now``)
    hold their declared size: otherwise a tenant could be granted any number of uploads,
    each within the quota alone, and then send them all."""
    if quota.max_documents is None and quota.max_bytes is None:
        return
    held = {
        r.doc_id: r.size_bytes
        for r in DocumentCatalogue(store).records(tenant)
        if r.doc_id not in leaving
    }
    reserved = {
        intent.doc_id: intent.size_bytes
        for intent in UploadIntents(store).outstanding(tenant, now or datetime.now(UTC))
        if intent.doc_id not in incoming and intent.doc_id not in leaving
    }
    held.update(reserved)  # a granted upload replacing a document counts at its new size
    plural = "s" if len(reserved) != 1 else ""
    waiting = (
        f" (counting {len(reserved):,} direct upload{plural} not yet arrived)" if reserved else ""
    )
    documents = len(held.keys() | incoming.keys())
    if quota.max_documents is not None and documents > quota.max_documents:
        raise QuotaExceeded(
            f"tenant {tenant} may hold {quota.max_documents:,} documents; this upload "
            f"would make {documents:,}{waiting} (delete some first)"
        )
    stored = sum(size for doc, size in held.items() if doc not in incoming)
    stored += sum(incoming.values())
    if quota.max_bytes is not None and stored > quota.max_bytes:
        raise QuotaExceeded(
            f"tenant {tenant} may store {quota.max_bytes:,} bytes; this upload would make "
            f"{stored:,}{waiting}"
        )
