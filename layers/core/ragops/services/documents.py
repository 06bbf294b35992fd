"""A tenant's documents: list, show and delete them (ingestion is ``services.ingestion``)."""

from __future__ import annotations

import logging

from ragops.domain.models import DocumentRecord
from ragops.domain.tenants import validate_tenant
from ragops.ports import ObjectStore, VectorTier
from ragops.repositories.documents import (
    ChunkArtifacts,
    DocumentCatalogue,
    OriginalFiles,
    QualitySignatures,
)

logger = logging.getLogger(__name__)


def list_documents(store: ObjectStore, tenant: str) -> list[DocumentRecord]:
    """The tenant's documents, most recently updated first."""
    validate_tenant(tenant)
    records = DocumentCatalogue(store).records(tenant)
    return sorted(records, key=lambda r: (r.updated_at, r.doc_id), reverse=True)


def get_document(store: ObjectStore, tenant: str, doc_id: str) -> DocumentRecord:
    """The tenant's document; ``DocumentNotFound`` when it has none of that id (another
    tenant's document included)."""
    validate_tenant(tenant)
    return DocumentCatalogue(store).get(tenant, doc_id)


def delete_document(store: ObjectStore, index: VectorTier, tenant: str, doc_id: str) -> int:
    """Remove a document from the index and the store; returns the chunks removed.

    Raises ``DocumentNotFound`` when the tenant has no such document.
    """
    get_document(store, tenant, doc_id)
    removed = index.delete_document(tenant, doc_id)
    ChunkArtifacts(store).retire(tenant, doc_id)
    OriginalFiles(store).delete(tenant, doc_id)
    DocumentCatalogue(store).remove(tenant, doc_id)
    QualitySignatures(store).forget(tenant, doc_id)
    logger.info("deleted document", extra={"tenant": tenant, "doc_id": doc_id})
    return removed
