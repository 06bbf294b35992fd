"""Object store events: S3's ``ObjectCreated`` / ``ObjectRemoved`` on an original file,
turned into indexing or deletion (the ingest function's work on AWS)."""

from __future__ import annotations

from ragops.domain.keys import RAW, manifest_key
from ragops.domain.tenants import validate_tenant
from ragops.errors import DocumentNotFound, DocumentRejected, ObjectNotFound
from ragops.repositories.documents import DocumentCatalogue, OriginalFiles
from ragops.services.documents import delete_document
from ragops.services.ingestion import IngestContext, index_stored


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
    record = DocumentCatalogue(ctx.store).find(tenant, doc_id)
    if record is None:
        if not originals.exists(tenant, doc_id):
            return "gone"  # created, then deleted with its manifest before this event
        raise ObjectNotFound(manifest_key(tenant, doc_id))
    if not tier_usable:
        return "pending"
    (outcome,) = index_stored(ctx, tenant, [record])
    return "failed" if isinstance(outcome, DocumentRejected) else str(outcome.outcome)
