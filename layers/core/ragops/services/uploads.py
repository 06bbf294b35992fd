"""Adding and removing a tenant's documents, the use cases every entrypoint runs
(``POST /v1/documents``, ``DELETE /v1/documents/{id}``, ``ragops ingest``,
``ragops documents delete``): the tenant's quota before anything is written, the
deployment's ingest mode (index now, or store and let the ingest function index), and no
deletion while the tier cannot take it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from ragops.domain.tier import TierStatus
from ragops.errors import DocumentRejected
from ragops.services.documents import delete_document
from ragops.services.ingestion import IngestContext, IngestResult, UploadedFile, receive_uploads
from ragops.services.quotas import TenantQuota, check_quota
from ragops.services.tier import require_usable


@dataclass(frozen=True)
class UploadContext:
    ingest: IngestContext
    quota: TenantQuota
    ingest_mode: Literal["sync", "async"]
    """``sync``: index while the caller waits; ``async``: store as pending, and the ingest
    function indexes on the bucket's event."""
    tier_status: Callable[[], TierStatus]


def upload_documents(
    ctx: UploadContext, *, tenant: str, files: Sequence[UploadedFile]
) -> list[IngestResult | DocumentRejected]:
    """Store ``files`` for ``tenant`` and index them now when the tier is usable and the
    ingest mode is ``sync`` (else they wait as pending: nothing is lost to a paused
    tier). ``QuotaExceeded`` before any file is written; one result per file, in order."""
    if not files:
        return []
    check_quota(ctx.ingest.store, tenant, files, ctx.quota)
    tier = ctx.tier_status()
    return receive_uploads(
        ctx.ingest,
        tenant=tenant,
        files=files,
        tier_usable=tier.usable,
        tier_reason=tier.reason,
        index_now=ctx.ingest_mode == "sync",
    )


def remove_document(ctx: UploadContext, *, tenant: str, doc_id: str) -> int:
    """Delete a document from the index and the store; returns the chunks removed.
    ``ServicePaused`` while the tier is not usable (the index could not forget it),
    ``DocumentNotFound`` for an id the tenant does not have."""
    require_usable(ctx.tier_status())
    return delete_document(ctx.ingest.store, ctx.ingest.index, tenant, doc_id)
