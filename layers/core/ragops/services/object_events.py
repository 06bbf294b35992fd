"""Object store events: S3's ``ObjectCreated`` / ``ObjectRemoved`` on an original file,
turned into indexing or deletion (the ingest function's work on AWS)."""

from __future__ import annotations

import logging

from ragops.domain.keys import RAW, manifest_key
from ragops.domain.models import DocumentStatus, content_hash, utc_now
from ragops.domain.tenants import validate_tenant
from ragops.errors import DocumentNotFound, DocumentRejected, NoTextExtracted, ObjectNotFound
from ragops.repositories.documents import DocumentCatalogue, OriginalFiles
from ragops.repositories.uploads import UploadIntent, UploadIntents
from ragops.services.documents import delete_document
from ragops.services.ingestion import (
    IngestContext,
    IngestOutcome,
    UploadedFile,
    failed_record,
    index_stored,
    receive_uploads,
)

logger = logging.getLogger(__name__)

PAUSED_REASON = "the search tier is not available; it will be indexed when the tier resumes"


def parse_raw_key(key: str) -> tuple[str, str] | None:
    """``(tenant, doc_id)`` for a key of the form ``raw/{tenant}/{doc_id}``, else None."""
    parts = key.split("/")
    if len(parts) != 3 or f"{parts[0]}/" != RAW or not parts[2]:
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

    A direct upload (``POST /v1/uploads``, a presigned POST) has no manifest yet but an
    upload intent: the document is built from it (``_complete_direct_upload``), and the
    intent removed once the document has its manifest.
    """
    where = parse_raw_key(key)
    if where is None:
        return "ignored"
    tenant, doc_id = where
    originals = OriginalFiles(ctx.store)
    if removed:
        if originals.exists(tenant, doc_id):
            return "recreated"  # deleted and uploaded again before this event arrived
        try:
            delete_document(ctx.store, ctx.index, tenant, doc_id)
        except DocumentNotFound:
            return "gone"
        return "deleted"
    intents = UploadIntents(ctx.store)
    intent = intents.find(tenant, doc_id)
    if intent is not None:
        data = originals.find(tenant, doc_id)
        if data is None:
            return "gone"  # removed again before this event; the intent waits for a retry
        known = DocumentCatalogue(ctx.store).find(tenant, doc_id)
        if known is None or known.content_hash != content_hash(data):
            outcome = _complete_direct_upload(ctx, intent, data, tier_usable=tier_usable)
            intents.remove(tenant, doc_id)
            return outcome
        # These bytes came by another path (the API, the CLI), whose manifest speaks for them.
        intents.remove(tenant, doc_id)
    record = DocumentCatalogue(ctx.store).find(tenant, doc_id)
    if record is None:
        if not originals.exists(tenant, doc_id):
            return "gone"  # created, then deleted with its manifest before this event
        raise ObjectNotFound(manifest_key(tenant, doc_id))
    if not tier_usable:
        return "pending"
    (outcome,) = index_stored(ctx, tenant, [record])
    return "failed" if isinstance(outcome, DocumentRejected) else str(outcome.outcome)


def _complete_direct_upload(
    ctx: IngestContext, intent: UploadIntent, data: bytes, *, tier_usable: bool
) -> str:
    """Index a file that arrived by presigned POST, named and titled by its intent, or keep
    it pending while the tier cannot take it (``receive_uploads``, as an API upload). A
    file that cannot be read gets a ``failed`` manifest with the reason, so whoever polls
    ``GET /v1/documents/{doc_id}`` learns why (a file without text is kept so by
    ingestion itself). Raises what indexing raises, and the event is retried."""
    item = UploadedFile(
        filename=intent.filename,
        data=data,
        doc_id=intent.doc_id,
        title=intent.title,
        raw_stored=True,
    )
    (result,) = receive_uploads(
        ctx,
        tenant=intent.tenant,
        files=[item],
        tier_usable=tier_usable,
        tier_reason=PAUSED_REASON,
    )
    if isinstance(result, DocumentRejected):
        if not isinstance(result, NoTextExtracted):
            _record_refusal(ctx, intent, data, result)
        return "failed"
    return "pending" if result.outcome is IngestOutcome.ACCEPTED else str(result.outcome)


def _record_refusal(
    ctx: IngestContext, intent: UploadIntent, data: bytes, rejected: DocumentRejected
) -> None:
    """A ``failed`` manifest for a directly uploaded file ingestion refused: its bytes are
    in the store already (as ``index_stored`` marks a stored document it cannot read)."""
    logger.warning(
        "direct upload refused",
        extra={"tenant": intent.tenant, "doc_id": intent.doc_id, "reason": rejected.reason},
    )
    catalogue = DocumentCatalogue(ctx.store)
    previous = catalogue.find(intent.tenant, intent.doc_id)
    now = utc_now()
    if previous is not None:
        previous.status = DocumentStatus.FAILED
        previous.status_reason = rejected.reason
        previous.updated_at = now
        catalogue.save(previous)
        return
    record = failed_record(
        ctx,
        UploadedFile(intent.filename, data, intent.doc_id, intent.title),
        tenant=intent.tenant,
        content_type=intent.content_type,
        reason=rejected.reason,
    )
    catalogue.save(record)
