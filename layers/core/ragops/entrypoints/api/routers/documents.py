"""``/v1/documents``: upload, list, show and delete a tenant's documents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile, status
from fastapi.responses import JSONResponse, Response

from ragops.entrypoints.api.deps import ContainerDep, TenantDep
from ragops.entrypoints.api.errors import ERRORS, error_response
from ragops.entrypoints.api.schemas import (
    DocumentList,
    DocumentOut,
    UploadItem,
    UploadResponse,
    document_out,
)
from ragops.errors import DocumentRejected, InvalidInput
from ragops.services import uploads
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


@router.delete(
    "/v1/documents/{doc_id}",
    tags=["documents"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses=ERRORS,
)
def remove_document(doc_id: str, container: ContainerDep, tenant: TenantDep) -> Response:
    uploads.remove_document(container.upload_context(), tenant=tenant, doc_id=doc_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
