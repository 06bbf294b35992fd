"""Opening a citation in place: a document's original bytes (``GET
/v1/documents/{id}/content``) and its extracted text with where each part lies (``GET
/v1/documents/{id}/text``), both for the owning tenant only.

The text is rebuilt from the document's chunk artifact (each chunk's text at its
``start``), so its offsets are the citations' own and no parser is needed: the API
Lambda has none.
"""

from __future__ import annotations

from dataclasses import dataclass

from ragops.domain.artifacts import decode_artifact_chunks
from ragops.domain.downloads import INLINE_TYPES
from ragops.domain.models import DocumentRecord
from ragops.errors import DocumentNotFound, ObjectNotFound
from ragops.ports import ObjectStore, PresignsDownloads
from ragops.repositories.documents import ChunkArtifacts, OriginalFiles
from ragops.services.documents import get_document

DOWNLOAD_URL_SECONDS = 300


@dataclass(frozen=True)
class DocumentOriginal:
    """The original file: its bytes, or (a store that presigns) a short-lived URL."""

    record: DocumentRecord
    data: bytes | None = None
    url: str | None = None

    @property
    def inline(self) -> bool:
        return self.record.content_type in INLINE_TYPES


def document_original(
    store: ObjectStore, tenant: str, doc_id: str, *, expires_in: int = DOWNLOAD_URL_SECONDS
) -> DocumentOriginal:
    """``DocumentNotFound`` unless ``doc_id`` is one of ``tenant``'s documents with its
    file stored."""
    record = get_document(store, tenant, doc_id)
    originals = OriginalFiles(store)
    if isinstance(store, PresignsDownloads):
        url = store.presign_download(
            originals.key(tenant, doc_id),
            filename=record.source,
            content_type=record.content_type,
            inline=record.content_type in INLINE_TYPES,
            expires_in=expires_in,
        )
        return DocumentOriginal(record, url=url)
    data = originals.find(tenant, doc_id)
    if data is None:
        raise DocumentNotFound(doc_id)
    return DocumentOriginal(record, data=data)


@dataclass(frozen=True)
class TextPart:
    """A stretch of the text that shares a page and a section."""

    start: int
    end: int
    page: int | None
    section: str | None


@dataclass(frozen=True)
class DocumentText:
    record: DocumentRecord
    text: str
    parts: list[TextPart]


def document_text(store: ObjectStore, tenant: str, doc_id: str) -> DocumentText:
    """The document's extracted text as indexed, with its pages and sections.
    ``DocumentNotFound`` for another tenant's document, or one not indexed yet."""
    record = get_document(store, tenant, doc_id)
    try:
        data = store.get(ChunkArtifacts(store).key(tenant, doc_id, record.version))
    except ObjectNotFound:
        raise DocumentNotFound(doc_id) from None
    chunks = sorted(decode_artifact_chunks(data), key=lambda c: (c.start, c.ordinal))
    length = max((c.end for c in chunks), default=0)
    # Overlapping chunks hold the same characters where they overlap; what no chunk holds
    # (whitespace the splitter stripped between them, section breaks) reads as a newline.
    text = ["\n"] * length
    for chunk in chunks:
        text[chunk.start : chunk.end] = chunk.text
    parts: list[TextPart] = []
    for chunk in chunks:
        last = parts[-1] if parts else None
        if last and (last.page, last.section) == (chunk.page, chunk.section):
            parts[-1] = TextPart(last.start, max(last.end, chunk.end), last.page, last.section)
        else:
            parts.append(TextPart(chunk.start, chunk.end, chunk.page, chunk.section))
    return DocumentText(record, "".join(text), parts)
