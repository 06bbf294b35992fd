"""Asking a question, the use case every entrypoint runs (``POST /v1/query``, its stream,
``ragops ask``): the tier must be usable, a question the guardrail refuses is counted, and
every answer is recorded (cost, variant, outcome) and reported to the metrics sink.

The entrypoints only translate: the API and the CLI behave alike because they call this.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain

from ragops.domain.models import Answer, SearchMode
from ragops.domain.tier import TierStatus
from ragops.errors import RequestBlocked
from ragops.ports import MetricsSink, ObjectStore
from ragops.services.answering import AnswerContext, AnswerDelta, answer_question, stream_answer
from ragops.services.costs import record_answer_cost
from ragops.services.observability import report_answer, report_blocked
from ragops.services.tier import require_usable


@dataclass(frozen=True)
class QueryContext:
    answering: AnswerContext
    store: ObjectStore
    """Where answer records go (``usage/``)."""
    metrics: MetricsSink
    tier_status: Callable[[], TierStatus]


def ask(
    ctx: QueryContext,
    *,
    tenant: str,
    question: str,
    top_k: int | None = None,
    mode: SearchMode = SearchMode.HYBRID,
    user: str | None = None,
    context_key: str = "",
    finish: Callable[[Answer], Answer] | None = None,
) -> Answer:
    """Answer ``question`` from ``tenant``'s documents. ``ServicePaused`` while the tier
    is not usable; ``RequestBlocked`` (counted) for a question the guardrail refuses.
    ``context_key``: a follow-up's conversation context (``answer_question``);
    ``finish`` completes the answer before it is recorded (a conversation's turn)."""
    require_usable(ctx.tier_status())
    try:
        answer = answer_question(
            ctx.answering,
            tenant=tenant,
            question=question,
            top_k=top_k,
            mode=mode,
            user=user,
            context_key=context_key,
        )
    except RequestBlocked as exc:
        report_blocked(ctx.metrics, exc.findings)
        raise
    return _completed(ctx, tenant, answer, finish)


def ask_streaming(
    ctx: QueryContext,
    *,
    tenant: str,
    question: str,
    top_k: int | None = None,
    mode: SearchMode = SearchMode.HYBRID,
    user: str | None = None,
    context_key: str = "",
    finish: Callable[[Answer], Answer] | None = None,
) -> Iterator[AnswerDelta | Answer]:
    """``ask`` as a stream of sentences, then the ``Answer``. Everything that refuses the
    question (a paused tier, the guardrail) raises here, before the stream is returned, so
    an entrypoint can still answer with an error; the answer is recorded and reported when
    the stream reaches it."""
    require_usable(ctx.tier_status())
    events = stream_answer(
        ctx.answering,
        tenant=tenant,
        question=question,
        top_k=top_k,
        mode=mode,
        user=user,
        context_key=context_key,
    )
    try:
        first = next(events)
    except RequestBlocked as exc:
        report_blocked(ctx.metrics, exc.findings)
        raise

    def remembered() -> Iterator[AnswerDelta | Answer]:
        for item in chain([first], events):
            yield _completed(ctx, tenant, item, finish) if isinstance(item, Answer) else item

    return remembered()


def _completed(
    ctx: QueryContext, tenant: str, answer: Answer, finish: Callable[[Answer], Answer] | None
) -> Answer:
    """The answer as ``finish`` completes it, recorded (its cost) and reported."""
    if finish is not None:
        answer = finish(answer)
    record_answer_cost(ctx.store, tenant, answer)
    report_answer(ctx.metrics, answer)
    return answer
