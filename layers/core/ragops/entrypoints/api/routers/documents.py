"""``/v1/documents``: upload, list, show and delete a tenant's documents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Header, UploadFile, status
from fastapi.responses import JSONResponse, RedirectResponse, Response

from ragops.domain.downloads import RangeNotSatisfiable, byte_range, content_disposition_name
from ragops.entrypoints.api.deps import ContainerDep, TenantDep
from ragops.entrypoints.api.errors import ERRORS, error_response
from ragops.entrypoints.api.schemas import (
    DocumentList,
    DocumentOut,
    DocumentTextOut,
    ErrorResponse,
    TextPartOut,
    UploadItem,
    UploadResponse,
    document_out,
)
from ragops.errors import DocumentRejected, InvalidInput
from ragops.services import uploads
from ragops.services.document_views import document_original, document_text
from ragops.services.documents import get_document, list_documents
from ragops.services.ingestion import IngestOutcome, IngestResult, UploadedFile

MAX_FILES_PER_UPLOAD = 20

router = APIRouter()


@router.post(
    "/v1/documents",
    tags=["documents"],
    status_code=status.HTTP_201_CREATED,
    response_model=UploadResponse,
    responses={
        **ERRORS,
        202: {"model": UploadResponse, "description": "Stored; indexed on resume"},
        207: {"model": UploadResponse},
        413: ERRORS[422],
        415: ERRORS[422],
    },
)
def upload_documents(
    container: ContainerDep,
    tenant: TenantDep,
    file: Annotated[list[UploadFile], File(description="One or more documents")],
) -> Response:
    """Upload and index documents (PDF, DOCX, HTML, Markdown, text).

    201 when every file was indexed (or was already indexed unchanged); 202 when files
    were stored as pending because the search tier is paused or busy (they are indexed
    on resume); a rejected single file answers with its own 4xx; a mix of accepted and
    rejected files answers 207 with a result per file.
    """
    if len(file) > MAX_FILES_PER_UPLOAD:
        raise InvalidInput(f"at most {MAX_FILES_PER_UPLOAD} files per upload")
    limit = container.settings.max_upload_bytes
    items: list[UploadedFile | DocumentRejected] = []
    for upload in file:
        name = upload.filename or "(unnamed)"
        data = upload.file.read(limit + 1)
        if len(data) > limit:
            items.append(
                DocumentRejected(name, f"the file is over the limit of {limit:,} bytes", status=413)
            )
        else:
            items.append(UploadedFile(filename=name, data=data))
    accepted = [i for i in items if isinstance(i, UploadedFile)]
    outcomes = iter(
        uploads.upload_documents(container.upload_context(), tenant=tenant, files=accepted)
    )
    results: list[UploadItem] = []
    for item in items:
        outcome = item if isinstance(item, DocumentRejected) else next(outcomes)
        if isinstance(outcome, IngestResult):
            results.append(
                UploadItem(
                    filename=outcome.record.source,
                    outcome=str(outcome.outcome),
                    document=document_out(outcome.record),
                    status=202 if outcome.outcome is IngestOutcome.ACCEPTED else 201,
                )
            )
        else:
            results.append(
                UploadItem(filename=outcome.filename, error=str(outcome), status=outcome.status)
            )
    failed = [r for r in results if r.error]
    if len(results) == 1 and failed:
        return error_response(failed[0].status, "document_rejected", failed[0].error or "")
    if failed:
        code = 207
    elif any(r.status == 202 for r in results):
        code = status.HTTP_202_ACCEPTED
    else:
        code = status.HTTP_201_CREATED
    return JSONResponse(status_code=code, content=UploadResponse(results=results).model_dump())


@router.get("/v1/documents", tags=["documents"], response_model=DocumentList, responses=ERRORS)
def get_documents(container: ContainerDep, tenant: TenantDep) -> DocumentList:
    return DocumentList(
        documents=[document_out(r) for r in list_documents(container.store, tenant)]
    )


@router.get(
    "/v1/documents/{doc_id}", tags=["documents"], response_model=DocumentOut, responses=ERRORS
)
def get_one_document(doc_id: str, container: ContainerDep, tenant: TenantDep) -> DocumentOut:
    return document_out(get_document(container.store, tenant, doc_id))


@router.get(
    "/v1/documents/{doc_id}/content",
    tags=["documents"],
    responses={
        **ERRORS,
        200: {"content": {"*/*": {}}, "description": "The original file, in its own type."},
        206: {"content": {"*/*": {}}, "description": "The bytes a Range header asked for."},
        307: {"description": "On S3: a short-lived presigned URL to read it from."},
        416: {"model": ErrorResponse, "description": "The range lies past the file's end."},
    },
)
def document_content(
    doc_id: str,
    container: ContainerDep,
    tenant: TenantDep,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    """The document's original bytes, for its own tenant only (404 otherwise, as for a
    missing one), with ``Range`` support. A PDF is served inline; any other type as an
    attachment (an uploaded HTML file never runs as a page of this origin). On S3 the
    answer is a redirect to a presigned URL valid for 5 minutes."""
    original = document_original(container.store, tenant, doc_id)
    record = original.record
    disposition = f"{'inline' if original.inline else 'attachment'}; " + (
        content_disposition_name(record.source)
    )
    if original.url is not None:
        return RedirectResponse(original.url, status_code=status.HTTP_307_TEMPORARY_REDIRECT)
    data = original.data or b""
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": disposition,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Cache-Control": "private, no-store",
    }
    try:
        wanted = byte_range(range_header, len(data))
    except RangeNotSatisfiable as exc:
        return error_response(
            416,  # Range Not Satisfiable (its constant was renamed across Starlette versions)
            "RangeNotSatisfiable",
            f"{exc}: the file has {len(data)} bytes",
            headers={"Content-Range": f"bytes */{len(data)}"},
        )
    if wanted is None:
        return Response(data, media_type=record.content_type, headers=headers)
    first, last = wanted
    headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
    return Response(
        data[first : last + 1],
        status_code=status.HTTP_206_PARTIAL_CONTENT,
        media_type=record.content_type,
        headers=headers,
    )


@router.get(
    "/v1/documents/{doc_id}/text",
    tags=["documents"],
    response_model=DocumentTextOut,
    responses=ERRORS,
)
def document_text_view(doc_id: str, container: ContainerDep, tenant: TenantDep) -> DocumentTextOut:
    """The document's extracted text as indexed, with where each page and section lies:
    a citation's ``start`` and ``end`` index it (the UI highlights the passage there).
    404 for another tenant's document, or one not indexed yet."""
    viewed = document_text(container.store, tenant, doc_id)
    record = viewed.record
    return DocumentTextOut(
        doc_id=record.doc_id,
        title=record.title,
        source=record.source,
        content_type=record.content_type,
        text=viewed.text,
        parts=[TextPartOut(**part.__dict__) for part in viewed.parts],
    )


@router.delete(
    "/v1/documents/{doc_id}",
    tags=["documents"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses=ERRORS,
)
def remove_document(doc_id: str, container: ContainerDep, tenant: TenantDep) -> Response:
    uploads.remove_document(container.upload_context(), tenant=tenant, doc_id=doc_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
