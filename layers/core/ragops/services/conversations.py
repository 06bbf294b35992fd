"""Asking within a conversation, and the conversations a user has (``POST /v1/query``
and its stream with ``conversation_id``, ``/v1/conversations``, ``ragops ask
--conversation``).

A turn: find the conversation (the caller's own: tenant and user; ``ConversationNotFound``
otherwise) or start one; make a follow-up standalone from the last turns (the rewriter);
ask it (``services.queries.ask``, so everything a question gets, it gets); a follow-up
that was rewritten is cached with the conversation's context in its partition, so that
its answer is never served in another context (one that stands on its own words is
cached like any question); then keep the turn. A question that fails (the guardrail
refuses it, the tier is paused) adds no turn, and starts no conversation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TypeVar

from ragops.domain.conversations import (
    CONTEXT_TURNS,
    Conversation,
    Rewrite,
    Turn,
    TurnCitation,
    context_key,
)
from ragops.domain.costs import price_of
from ragops.domain.models import Answer, SearchMode
from ragops.errors import RequestBlocked
from ragops.ports import QuestionRewriter
from ragops.repositories.conversations import ConversationRepository
from ragops.services.answering import AnswerDelta, screen_question, validate_question
from ragops.services.observability import report_blocked
from ragops.services.queries import QueryContext, ask, ask_streaming

_Answered = TypeVar("_Answered", Answer, Iterator[AnswerDelta | Answer])


@dataclass(frozen=True)
class ConversationContext:
    query: QueryContext
    conversations: ConversationRepository
    rewriter: QuestionRewriter


@dataclass(frozen=True)
class _Turn:
    """A turn being asked: its conversation, the follow-up made standalone, the cache
    context."""

    conversation: Conversation
    question: str
    rewrite: Rewrite
    context_key: str


def _begin(
    ctx: ConversationContext,
    tenant: str,
    user: str | None,
    question: str,
    conversation_id: str | None,
    top_k: int | None,
) -> _Turn:
    question = validate_question(question)
    conversations = ctx.conversations
    if conversation_id:
        conversation = conversations.get(tenant, user, conversation_id)
    else:
        conversation = conversations.start(tenant, user)
    earlier = conversation.turns[-CONTEXT_TURNS:]
    if not earlier:
        return _Turn(conversation, question, Rewrite(question), "")
    asked = question
    if ctx.rewriter.calls_model:
        # The question's text goes to a model: the guardrail sees it first (refused, it
        # raises; personal data is masked before it leaves).
        try:
            asked = screen_question(
                ctx.query.answering, tenant=tenant, question=question, top_k=top_k
            ).question
        except RequestBlocked as exc:
            report_blocked(ctx.query.metrics, exc.findings)
            raise
    rewrite = ctx.rewriter.rewrite(asked, earlier)
    if rewrite.question == asked:
        # It stands on its own words: cached with every other question of the tenant.
        return _Turn(conversation, question, rewrite, "")
    return _Turn(conversation, question, rewrite, context_key(earlier))


def _finisher(ctx: ConversationContext, turn: _Turn) -> Callable[[Answer], Answer]:
    """Adds the rewrite's cost and the conversation to the answer, and keeps the turn."""

    def finish(answer: Answer) -> Answer:
        rewrite = turn.rewrite
        cost = answer.cost
        if rewrite.model and cost is not None:
            price = price_of(rewrite.model, ctx.query.answering.prices)
            usd = round(
                (
                    rewrite.usage.input_tokens * price.input_per_million
                    + rewrite.usage.output_tokens * price.output_per_million
                )
                / 1e6,
                10,
            )
            cost = replace(cost, rewrite_usd=usd, total_usd=round(cost.total_usd + usd, 10))
        ctx.conversations.append(
            turn.conversation,
            Turn(
                question=turn.question,
                standalone_question=rewrite.question,
                answer=answer.answer,
                asked_at=datetime.now(UTC).isoformat(),
                answer_id=answer.answer_id,
                abstained=answer.abstained,
                citations=[
                    TurnCitation(
                        c.number, c.doc_id, c.title, c.source, c.page, c.section, c.snippet
                    )
                    for c in answer.citations
                ],
            ),
        )
        return replace(
            answer,
            cost=cost,
            conversation_id=turn.conversation.conversation_id,
            standalone_question=rewrite.question if rewrite.question != turn.question else None,
        )

    return finish


def ask_in_conversation(
    ctx: ConversationContext,
    *,
    tenant: str,
    user: str | None,
    question: str,
    conversation_id: str | None = None,
    top_k: int | None = None,
    mode: SearchMode = SearchMode.HYBRID,
) -> Answer:
    """Answer ``question`` as the next turn of ``conversation_id`` (a new conversation
    without one); the answer carries the conversation's id and, for a rewritten
    follow-up, the standalone question that was answered."""
    return _as_turn(ask, ctx, tenant, user, question, conversation_id, top_k, mode)


def ask_in_conversation_streaming(
    ctx: ConversationContext,
    *,
    tenant: str,
    user: str | None,
    question: str,
    conversation_id: str | None = None,
    top_k: int | None = None,
    mode: SearchMode = SearchMode.HYBRID,
) -> Iterator[AnswerDelta | Answer]:
    """``ask_in_conversation`` as ``ask_streaming``'s stream; the turn is kept when the
    final answer is reached."""
    return _as_turn(ask_streaming, ctx, tenant, user, question, conversation_id, top_k, mode)


def _as_turn(
    answer_with: Callable[..., _Answered],
    ctx: ConversationContext,
    tenant: str,
    user: str | None,
    question: str,
    conversation_id: str | None,
    top_k: int | None,
    mode: SearchMode,
) -> _Answered:
    """``answer_with`` (``ask`` or ``ask_streaming``) asked the turn's standalone question,
    in the conversation's cache context, keeping the turn when the answer is final."""
    turn = _begin(ctx, tenant, user, question, conversation_id, top_k)
    return answer_with(
        ctx.query,
        tenant=tenant,
        question=turn.rewrite.question,
        top_k=top_k,
        mode=mode,
        user=user,
        context_key=turn.context_key,
        finish=_finisher(ctx, turn),
    )


def list_conversations(
    ctx: ConversationContext, tenant: str, user: str | None
) -> list[Conversation]:
    return ctx.conversations.list(tenant, user)


def get_conversation(
    ctx: ConversationContext, tenant: str, user: str | None, conversation_id: str
) -> Conversation:
    return ctx.conversations.get(tenant, user, conversation_id)


def delete_conversation(
    ctx: ConversationContext, tenant: str, user: str | None, conversation_id: str
) -> None:
    ctx.conversations.delete(tenant, user, conversation_id)
