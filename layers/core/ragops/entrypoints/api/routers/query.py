"""``/v1/query`` (whole and streamed) and ``/v1/feedback``."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse

from ragops.domain.models import Answer
from ragops.entrypoints.api.deps import ContainerDep, TenantDep, UserDep
from ragops.entrypoints.api.errors import ERRORS
from ragops.entrypoints.api.schemas import FeedbackOut, FeedbackRequest, QueryRequest
from ragops.errors import RagopsError
from ragops.services.answering import AnswerDelta
from ragops.services.conversations import ask_in_conversation, ask_in_conversation_streaming
from ragops.services.feedback import record_feedback
from ragops.services.observability import report_feedback

logger = logging.getLogger("ragops.entrypoints.api")

router = APIRouter()


def sse_event(kind: str, data: Any) -> str:
    """One server-sent event (JSON data on one line)."""
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.post("/v1/query", tags=["query"], response_model=Answer, responses=ERRORS)
def query(body: QueryRequest, container: ContainerDep, tenant: TenantDep, user: UserDep) -> Answer:
    """Answer a question from the tenant's documents, citing passages as [n].
    503 with ``Retry-After`` while the search tier is paused. ``answer_id`` names the
    answer for ``POST /v1/feedback``; ``prompt`` says which template answered.
    ``conversation_id`` continues a conversation (404 if it is not the caller's); the
    answer carries the conversation's id, and ``standalone_question`` when a follow-up
    was rewritten to stand alone."""
    return ask_in_conversation(
        container.conversation_context(),
        tenant=tenant,
        user=user,
        question=body.question,
        conversation_id=body.conversation_id,
        top_k=body.top_k,
        mode=body.mode,
    )


@router.post(
    "/v1/query/stream",
    tags=["query"],
    responses={
        **ERRORS,
        200: {
            "content": {"text/event-stream": {}},
            "description": "Server-sent events: `delta` ({text}) as sentences are "
            "generated, then `answer` (the whole answer, as /v1/query returns it), or "
            "`error` ({error: {type, message}}) if it fails midway.",
        },
    },
)
def query_stream(
    body: QueryRequest, container: ContainerDep, tenant: TenantDep, user: UserDep
) -> StreamingResponse:
    """``/v1/query`` as a stream: each sentence appears once written and checked against
    its passages; the final ``answer`` event replaces them. Refused questions and a
    paused tier answer with the usual JSON errors before any event."""
    events = ask_in_conversation_streaming(
        container.conversation_context(),
        tenant=tenant,
        user=user,
        question=body.question,
        conversation_id=body.conversation_id,
        top_k=body.top_k,
        mode=body.mode,
    )

    def sse() -> Iterator[str]:
        try:
            for item in events:
                if isinstance(item, AnswerDelta):
                    yield sse_event("delta", {"text": item.text})
                else:
                    yield sse_event("answer", jsonable_encoder(item))
                    return
        except RagopsError as exc:
            logger.warning("streamed answer failed: %s", exc)
            yield sse_event("error", {"error": {"type": type(exc).__name__, "message": str(exc)}})

    return StreamingResponse(
        sse(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


@router.post(
    "/v1/feedback",
    tags=["query"],
    status_code=status.HTTP_201_CREATED,
    response_model=FeedbackOut,
    responses=ERRORS,
)
def feedback(body: FeedbackRequest, container: ContainerDep, tenant: TenantDep) -> FeedbackOut:
    """Thumbs up or down on an answer this tenant was given (404 for any other id). A
    later vote on the same answer replaces the earlier one."""
    recorded = record_feedback(container.store, tenant, body.answer_id, body.rating, body.comment)
    report_feedback(container.metrics, recorded)
    return FeedbackOut(**recorded.__dict__)
