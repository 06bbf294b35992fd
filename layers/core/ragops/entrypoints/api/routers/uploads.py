"""``/v1/uploads``: direct uploads to the object store (S3's presigned POST), and the
limits that tell a client which way a file goes.

Behind API Gateway the function receives a request as one synchronous Lambda invocation,
whose payload may not exceed 6 MB, and ``multipart/form-data`` arrives base64-encoded (a
binary media type): a multipart body over about 4.5 MB never reaches the app, and API
Gateway answers with its own bare error. Such files go straight to the bucket instead.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from ragops.bootstrap import Container
from ragops.entrypoints.api.deps import ContainerDep, TenantDep, get_tenant
from ragops.entrypoints.api.errors import ERRORS
from ragops.entrypoints.api.routers.documents import MAX_FILES_PER_UPLOAD
from ragops.ports import PresignsUploads
from ragops.services import uploads

LAMBDA_INVOKE_PAYLOAD_BYTES = 6_291_456
"""A synchronous Lambda invocation's request payload limit (6 MB), the event whole."""
EVENT_ENVELOPE_BYTES = 65_536
"""Left for the rest of API Gateway's event: headers (twice: single and multi-value),
request context, query string, the JSON around the body."""
LAMBDA_REQUEST_BODY_BYTES = (LAMBDA_INVOKE_PAYLOAD_BYTES - EVENT_ENVELOPE_BYTES) // 4 * 3
"""The largest raw body that fits in an invocation once base64-encoded (4 characters for
every 3 bytes): 4,669,440 bytes, about 4.5 MB. API Gateway's own 10 MB limit is higher."""
MULTIPART_FRAMING_BYTES = 16_384
"""Room for one file's ``multipart/form-data`` boundaries and part headers."""
MULTIPART_EXTRA_BYTES = 1_048_576
"""Room for the framing of an upload of many files, where no platform limit applies."""


def request_body_limit(container: Container) -> int:
    """The largest request body the API reads: ``RAGOPS_MAX_REQUEST_BODY_BYTES``; unset,
    what fits a Lambda invocation where the store presigns uploads (S3, so the API runs on
    Lambda and clients have another way), else every file of an upload at the limit."""
    settings = container.settings
    if settings.max_request_body_bytes is not None:
        return settings.max_request_body_bytes
    if presigns(container):
        return LAMBDA_REQUEST_BODY_BYTES
    return settings.max_upload_bytes * MAX_FILES_PER_UPLOAD + MULTIPART_EXTRA_BYTES


def presigns(container: Container) -> bool:
    """Whether clients can upload straight to the object store (``POST /v1/uploads``)."""
    return isinstance(container.store, PresignsUploads)


def too_large_message(container: Container, size: int) -> str:
    """Why a body of ``size`` bytes is refused, and, where there is one, the other way."""
    limit = request_body_limit(container)
    message = f"the request body is {size:,} bytes, over the {limit:,} the API reads"
    if presigns(container):
        message += (
            " (on AWS Lambda a request must fit a 6 MB invocation, base64-encoded); upload "
            "the file with POST /v1/uploads, which returns a presigned POST straight to the "
            "bucket (up to the upload limit)"
        )
    return message


router = APIRouter(tags=["uploads"])


class DirectUploadRequest(BaseModel):
    # No tenant or key here: both come from the caller's credential; a stray field is refused.
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(
        min_length=1,
        max_length=1024,
        description="The file's name: it names the document and gives its type "
        "(.pdf, .docx, .html, .md, .txt...). The same name is the same document.",
    )
    size: int = Field(ge=1, description="The file's size in bytes: the upload takes no more.")
    title: str | None = Field(default=None, max_length=500)
    content_type: str | None = Field(
        default=None,
        max_length=255,
        description="Optional; when given it must be the type of the file's extension.",
    )


class DirectUploadOut(BaseModel):
    doc_id: str
    key: str = Field(description="The object the upload creates: raw/{tenant}/{doc_id}.")
    url: str = Field(description="POST the form here (the bucket, not the API).")
    fields: dict[str, str] = Field(
        description="Form fields to send first, as given; the file goes last, as `file`."
    )
    content_type: str
    max_bytes: int = Field(description="The most the upload may carry (the declared size).")
    expires_at: str = Field(description="After this the bucket refuses the form.")
    poll: str = Field(
        description="Where the document appears once the ingest function has taken the file "
        "(404 until then; then pending, indexed or failed with the reason)."
    )


class UploadLimitsOut(BaseModel):
    max_file_bytes: int = Field(description="The largest file either way (the upload limit).")
    max_files_per_upload: int
    max_request_bytes: int = Field(description="The largest body POST /v1/documents reads.")
    direct_uploads: bool = Field(description="Whether POST /v1/uploads is available.")
    direct_upload_above_bytes: int | None = Field(
        description="Files larger than this must go through POST /v1/uploads (null: none "
        "need to, or direct uploads are not available here)."
    )


@router.post(
    "/v1/uploads",
    status_code=status.HTTP_201_CREATED,
    response_model=DirectUploadOut,
    responses={
        **ERRORS,
        403: {**ERRORS[422], "description": "The tenant's quota would be exceeded"},
        413: ERRORS[422],
        415: ERRORS[422],
        409: {
            **ERRORS[422],
            "description": "This deployment's object store cannot take direct uploads "
            "(locally): use POST /v1/documents",
        },
    },
)
def request_upload(
    body: DirectUploadRequest, container: ContainerDep, tenant: TenantDep
) -> DirectUploadOut:
    """Upload a file straight to the bucket, for files too large for ``POST /v1/documents``
    behind API Gateway (up to the upload limit).

    Returns a presigned POST for ``raw/{tenant}/{doc_id}``: send ``fields`` and then the
    file as ``multipart/form-data`` to ``url`` (the bucket), before ``expires_at``. The
    bucket refuses any other key, a size over the declared one, or another content type.
    The ingest function indexes the file when it arrives; poll ``poll`` for the document.
    409 ``DirectUploadsUnavailable`` where the object store cannot presign (the local
    folder: use ``POST /v1/documents``, which has no platform limit there).
    """
    ticket = uploads.request_direct_upload(
        container.upload_context(),
        tenant=tenant,
        filename=body.filename,
        size=body.size,
        title=body.title,
        content_type=body.content_type,
    )
    return DirectUploadOut(
        doc_id=ticket.doc_id,
        key=ticket.key,
        url=ticket.url,
        fields=ticket.fields,
        content_type=ticket.content_type,
        max_bytes=ticket.max_bytes,
        expires_at=ticket.expires_at,
        poll=f"/v1/documents/{ticket.doc_id}",
    )


@router.get(
    "/v1/uploads/limits",
    response_model=UploadLimitsOut,
    responses=ERRORS,
    dependencies=[Depends(get_tenant)],  # authenticated like every route
)
def upload_limits(container: ContainerDep) -> UploadLimitsOut:
    """Which way a file goes: ``POST /v1/documents`` for files up to
    ``direct_upload_above_bytes``, ``POST /v1/uploads`` above it (the deployment's limits,
    the same for every tenant)."""
    body_limit = request_body_limit(container)
    direct = presigns(container)
    max_file = container.settings.max_upload_bytes
    above = body_limit - MULTIPART_FRAMING_BYTES
    return UploadLimitsOut(
        max_file_bytes=max_file,
        max_files_per_upload=MAX_FILES_PER_UPLOAD,
        max_request_bytes=body_limit,
        direct_uploads=direct,
        direct_upload_above_bytes=above if direct and above < max_file else None,
    )
