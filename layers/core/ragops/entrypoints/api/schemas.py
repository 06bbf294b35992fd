"""The API's request and response bodies (pydantic), as the OpenAPI document shows them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ragops.domain.models import DocumentRecord, SearchMode
from ragops.services.answering import MAX_QUESTION_CHARS
from ragops.services.feedback import MAX_COMMENT_CHARS


class QueryRequest(BaseModel):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    top_k: int | None = Field(default=None, ge=1, le=50)
    mode: SearchMode = SearchMode.HYBRID


class FeedbackRequest(BaseModel):
    answer_id: str = Field(min_length=1, max_length=64, description="The answer's answer_id.")
    rating: Literal["up", "down"]
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)


class FeedbackOut(BaseModel):
    answer_id: str
    rating: str
    prompt_version: str | None
    experiment: str | None


class QualityFindingOut(BaseModel):
    check: str = Field(
        description="near_empty_text, extraction_garbage, language, exact_duplicate, "
        "near_duplicate or empty_text"
    )
    severity: Literal["info", "warning", "error"]
    message: str
    related_doc_id: str | None = Field(default=None, description="The other document.")
    value: float | None = Field(default=None, description="Characters, ratio or similarity.")


class DocumentOut(BaseModel):
    doc_id: str
    tenant: str
    title: str
    source: str
    content_type: str
    content_hash: str
    version: str
    size_bytes: int
    chunk_count: int
    pages: int | None
    embedding_model: str
    status: str = Field(description="indexed, pending (waits for the search tier) or failed")
    status_reason: str | None = None
    created_at: str
    updated_at: str
    language: str | None = Field(default=None, description="ISO 639-1 code of the text.")
    quality: list[QualityFindingOut] = Field(
        default_factory=list, description="What the quality checks found at ingestion."
    )


class DocumentList(BaseModel):
    documents: list[DocumentOut]


class UploadItem(BaseModel):
    filename: str
    outcome: str | None = None
    document: DocumentOut | None = None
    error: str | None = None
    status: int


class UploadResponse(BaseModel):
    results: list[UploadItem]


class TierHealth(BaseModel):
    state: str = Field(description="active, paused or resuming")
    usable: bool
    retry_after: int | None = None
    message: str


class PipelineOut(BaseModel):
    source: Literal["champion", "settings"] = Field(
        description="champion: a registered version; settings: the deployment's own."
    )
    version: int | None = Field(description="The champion's version number.")
    config: dict[str, Any] = Field(description="Embedder, chunking, fusion, prompts, models...")
    note: str = Field(default="", description="Why the settings serve, when they do.")
    degraded: bool = Field(
        default=False, description="A champion was expected but could not be served."
    )


class Health(BaseModel):
    status: str
    version: str
    tier: TierHealth


class ErrorBody(BaseModel):
    type: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


def document_out(record: DocumentRecord) -> DocumentOut:
    return DocumentOut(**record.to_dict())


class DayOut(BaseModel):
    day: str = Field(description="YYYY-MM-DD (UTC)")
    queries: int
    cache_hits: int
    grounded: int
    cost_usd: float


class TodayOut(DayOut):
    cache_hit_rate: float | None = Field(description="Hits over queries; null with none.")


class OpsTierOut(BaseModel):
    state: str
    usable: bool
    message: str


class OpsSummaryOut(BaseModel):
    """The operations page's figures for one tenant."""

    tenant: str
    documents: int
    indexed: int
    pending: int
    failed: int
    chunks: int = Field(description="Passages indexed over all documents.")
    days: list[DayOut] = Field(description="The last 7 days, oldest first, today last.")
    today: TodayOut
    tier: OpsTierOut
