"""Adding and removing a tenant's documents, the use cases every entrypoint runs
(``POST /v1/documents``, ``DELETE /v1/documents/{id}``, ``ragops ingest``,
``ragops documents delete``): the tenant's quota before anything is written, the
deployment's ingest mode (index now, or store and let the ingest function index), and no
deletion while the tier cannot take it. ``request_direct_upload`` (``POST /v1/uploads``)
lets a client send a file straight to the object store instead (S3's presigned POST).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import PurePath
from typing import Literal

from ragops.domain import keys
from ragops.domain.parsing import SUPPORTED_TYPES, supported_extensions
from ragops.domain.tenants import validate_tenant
from ragops.domain.tier import TierStatus
from ragops.errors import DocumentRejected, RagopsError
from ragops.ports import PresignsUploads
from ragops.repositories.uploads import UploadIntent, UploadIntents
from ragops.services.documents import delete_document
from ragops.services.ingestion import (
    IngestContext,
    IngestResult,
    UploadedFile,
    document_id_of,
    receive_uploads,
)
from ragops.services.quotas import TenantQuota, check_quota, check_quota_for
from ragops.services.tier import require_usable

DIRECT_UPLOAD_EXPIRES_SECONDS = 900
"""How long a presigned POST is accepted: long enough for a client to start (and, on a slow
line, finish) a 20 MiB upload, short enough that a leaked form is soon useless."""


class DirectUploadsUnavailable(RagopsError):
    """The object store cannot take uploads straight from clients (the local folder): the
    API takes them itself (``POST /v1/documents``), with no platform limit on the body."""


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


@dataclass(frozen=True)
class DirectUpload:
    """A presigned POST for one file: POST ``fields`` then the file (``multipart/form-data``)
    to ``url`` before ``expires_at``; the document then appears at ``doc_id``."""

    doc_id: str
    key: str
    url: str
    fields: dict[str, str] = field(repr=False)
    content_type: str
    max_bytes: int
    expires_at: str


def _direct_upload_type(source: str, content_type: str | None) -> str:
    """The content type the file's extension gives (the parser's types); ``DocumentRejected``
    (415) for an unsupported extension, or a declared type that is not the extension's."""
    name = PurePath(source).name
    suffix = PurePath(name).suffix.lower()
    expected = SUPPORTED_TYPES.get(suffix)
    if expected is None:
        raise DocumentRejected(
            name,
            f"unsupported file type {suffix or '(no extension)'!r}; "
            f"supported: {', '.join(supported_extensions())}",
            status=415,
        )
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared and declared != expected:
        raise DocumentRejected(
            name,
            f"the content type {declared!r} is not that of a {suffix} file ({expected})",
            status=415,
        )
    return expected


def request_direct_upload(
    ctx: UploadContext,
    *,
    tenant: str,
    filename: str,
    size: int,
    title: str | None = None,
    content_type: str | None = None,
    expires_in: int = DIRECT_UPLOAD_EXPIRES_SECONDS,
    now: datetime | None = None,
) -> DirectUpload:
    """Allow ``tenant`` to upload one file of ``size`` bytes straight to the object store.

    The file is checked as far as it can be without its bytes: a name, a supported type,
    ``size`` within the upload limit (413) and the tenant's quota (``QuotaExceeded``). Then
    an upload intent (``uploads/{tenant}/{doc_id}.json``) records its name, title and type
    for the bucket's event, and the store presigns a POST for exactly
    ``raw/{tenant}/{doc_id}``, at most ``size`` bytes. The document id derives from the
    name, as in every other upload (the same name is the same document). The ingest
    function indexes the file when it arrives (or keeps it pending while the tier is
    paused); until then the document is not listed. ``DirectUploadsUnavailable`` when the
    store cannot presign.
    """
    validate_tenant(tenant)
    store = ctx.ingest.store
    if not isinstance(store, PresignsUploads):
        raise DirectUploadsUnavailable(
            "this deployment's object store cannot take uploads directly; "
            "upload with POST /v1/documents, which has no size limit here beyond the upload limit"
        )
    item = UploadedFile(filename=filename, data=b"")
    doc_id = document_id_of(item)  # DocumentRejected for a file without a name
    source = PurePath(filename).as_posix()
    name = PurePath(source).name
    kind = _direct_upload_type(source, content_type)
    limit = ctx.ingest.max_bytes
    if size < 1:
        raise DocumentRejected(name, "the file is empty")
    if size > limit:
        raise DocumentRejected(name, f"the file is over the limit of {limit:,} bytes", status=413)
    created = now or datetime.now(UTC)
    # The declared size, beside the other uploads granted and not yet arrived.
    check_quota_for(store, tenant, {doc_id: size}, ctx.quota, now=created)
    key = keys.raw_key(tenant, doc_id)
    url, fields = store.presign_upload(
        key, content_type=kind, max_bytes=size, expires_in=expires_in
    )
    expires_at = (created + timedelta(seconds=expires_in)).isoformat(timespec="seconds")
    UploadIntents(store).save(
        UploadIntent(
            tenant=tenant,
            doc_id=doc_id,
            filename=source,
            content_type=kind,
            size_bytes=size,
            created_at=created.isoformat(timespec="seconds"),
            expires_at=expires_at,
            title=(title or "").strip() or None,
        )
    )
    return DirectUpload(
        doc_id=doc_id,
        key=key,
        url=url,
        fields=fields,
        content_type=kind,
        max_bytes=size,
        expires_at=expires_at,
    )
