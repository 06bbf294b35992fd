"""Answer records: one object per answered query in the object store (its cost, prompt
variant, latency, cache and groundedness outcome), and cost totals per tenant and day.

The records are kept by ``ragops.repositories.answer_log.AnswerLog`` (append-only,
``usage/{tenant}/{day}/{answer_id}.json``); this module makes them from answers and sums
them. Feedback and the prompt report find an answer's record from its id alone.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from ragops.domain import keys
from ragops.domain.models import Answer, QueryCost
from ragops.domain.tenants import validate_tenant
from ragops.errors import StoreUnavailable
from ragops.ports import ObjectStore
from ragops.repositories.answer_log import AnswerLog, AnswerRecord

logger = logging.getLogger(__name__)


def answer_record_key(tenant: str, answer_id: str) -> str:
    """Where the record of ``answer_id`` lives (``ValueError`` for a malformed id or an
    invalid tenant)."""
    return keys.answer_key(validate_tenant(tenant), answer_id)


def record_query_cost(
    store: ObjectStore, tenant: str, model: str, cost: QueryCost, *, at: datetime | None = None
) -> str:
    """Store one query's cost (a cost record: no answer id, at ``at``, now by default);
    returns its key. ``ValueError`` for an invalid tenant."""
    validate_tenant(tenant)
    at = at or datetime.now(UTC)
    return AnswerLog(store).append(
        AnswerRecord(tenant=tenant, at=at.isoformat(), model=model, cost=cost)
    )


def answer_record(tenant: str, answer: Answer) -> AnswerRecord:
    """What is kept of an answer, recorded now: no question, answer text or user (those may
    be personal). An answer without an id gives a cost record (model and cost only, as
    ``record_query_cost`` writes)."""
    at = datetime.now(UTC).isoformat()
    cost = answer.cost or QueryCost()
    if answer.answer_id is None:
        return AnswerRecord(tenant=tenant, at=at, model=answer.model, cost=cost)
    return AnswerRecord(
        tenant=tenant,
        answer_id=answer.answer_id,
        at=at,
        model=answer.model,
        prompt_version=answer.prompt.version if answer.prompt else None,
        experiment=answer.prompt.experiment if answer.prompt else None,
        latency_ms=answer.latency_ms,
        cache_hit=answer.cache.hit if answer.cache else None,
        abstained=answer.abstained,
        grounded=_grounded(answer),
        route=str(answer.route.tier) if answer.route else None,
        mode=str(answer.mode) if answer.mode else None,
        fallback=str(answer.fallback) if answer.fallback else None,
        cost=cost,
    )


def _grounded(answer: Answer) -> bool:
    """Grounded as made: a generated answer replaced by the extractive one was not."""
    if answer.abstained or answer.fallback is not None:
        return False
    if answer.groundedness is not None:
        return answer.groundedness.grounded
    return answer.unsupported_sentences == 0


def record_answer_cost(store: ObjectStore, tenant: str, answer: Answer) -> None:
    """Record an answer (cost, variant, outcome); a store that fails costs the record, never
    the answer."""
    try:
        AnswerLog(store).append(answer_record(tenant, answer))
    except StoreUnavailable as exc:
        logger.warning("could not record the answer: %s", exc)


@dataclass
class CostTotal:
    tenant: str
    day: str
    queries: int = 0
    embedding_tokens: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_usd: float = 0.0


def cost_report(
    store: ObjectStore, *, tenant: str | None = None, since: str | None = None
) -> list[CostTotal]:
    """Totals per tenant and day (``YYYY-MM-DD``), oldest first; ``since`` is inclusive."""
    totals: dict[tuple[str, str], CostTotal] = defaultdict(lambda: CostTotal("", ""))
    for record in AnswerLog(store).records(tenant=tenant, since=since):
        total = totals[(record.tenant, record.day)]
        total.tenant, total.day = record.tenant, record.day
        total.queries += 1
        total.embedding_tokens += record.cost.embedding_tokens
        total.input_tokens += record.cost.input_tokens
        total.output_tokens += record.cost.output_tokens
        total.total_usd = round(total.total_usd + record.cost.total_usd, 10)
    return [totals[k] for k in sorted(totals, key=lambda k: (k[1], k[0]))]
