"""The API's request and response bodies (pydantic), as the OpenAPI document shows them."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from pydantic import BaseModel, Field

from ragops.domain.conversations import CONVERSATION_ID, Conversation
from ragops.domain.models import DocumentRecord, SearchMode
from ragops.services.answering import MAX_QUESTION_CHARS
from ragops.services.feedback import MAX_COMMENT_CHARS


class QueryRequest(BaseModel):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    top_k: int | None = Field(default=None, ge=1, le=50)
    mode: SearchMode = SearchMode.HYBRID
    conversation_id: str | None = Field(
        default=None,
        pattern=CONVERSATION_ID.pattern,
        description="Continue this conversation (the answer's conversation_id): a "
        "follow-up is made standalone from its last turns. Without one, a new "
        "conversation starts.",
    )


class TurnCitationOut(BaseModel):
    number: int
    doc_id: str
    title: str
    source: str
    page: int | None = None
    section: str | None = None
    snippet: str = ""


class TurnOut(BaseModel):
    question: str
    standalone_question: str = Field(description="What was searched and answered.")
    answer: str
    asked_at: str
    answer_id: str | None = None
    abstained: bool = False
    citations: list[TurnCitationOut] = Field(default_factory=list)


class ConversationSummaryOut(BaseModel):
    conversation_id: str
    title: str = Field(description="The first question, shortened.")
    turns: int
    created_at: str
    updated_at: str


class ConversationListOut(BaseModel):
    conversations: list[ConversationSummaryOut] = Field(
        description="The caller's conversations, the latest updated first."
    )


class ConversationOut(BaseModel):
    conversation_id: str
    title: str
    created_at: str
    updated_at: str
    turns: list[TurnOut]


def conversation_summary(conversation: Conversation) -> ConversationSummaryOut:
    return ConversationSummaryOut(
        conversation_id=conversation.conversation_id,
        title=conversation.title,
        turns=len(conversation.turns),
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
    )


def conversation_out(conversation: Conversation) -> ConversationOut:
    return ConversationOut(
        conversation_id=conversation.conversation_id,
        title=conversation.title,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
        turns=[TurnOut.model_validate(asdict(t)) for t in conversation.turns],
    )


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


class TextPartOut(BaseModel):
    start: int
    end: int
    page: int | None = None
    section: str | None = None


class DocumentTextOut(BaseModel):
    doc_id: str
    title: str
    source: str
    content_type: str
    text: str = Field(
        description="The extracted text as indexed; citations' start and end index it."
    )
    parts: list[TextPartOut] = Field(description="Where each page and section lies in the text.")


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
