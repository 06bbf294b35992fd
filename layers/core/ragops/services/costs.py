"""Answer records: one object per answered query in the object store (its cost, prompt
variant, latency, cache and groundedness outcome), and cost totals per tenant and day.

Append-only (``usage/{tenant}/{day}/{answer_id}.json``) rather than a running total: Lambda
functions answer queries concurrently, and a read-modify-write total would lose updates.
Feedback and the prompt report find an answer's record from its id alone.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from ragops.domain import keys
from ragops.domain.models import Answer, QueryCost
from ragops.domain.tenants import validate_tenant
from ragops.errors import StoreUnavailable
from ragops.ports import ObjectStore

USAGE_PREFIX = keys.USAGE
ANSWER_ID = re.compile(r"^\d{20}[0-9a-f]{8}$")
logger = logging.getLogger(__name__)


def answer_record_key(tenant: str, answer_id: str) -> str:
    """Where the record of ``answer_id`` lives (``ValueError`` for a malformed id)."""
    if not ANSWER_ID.match(answer_id):
        raise ValueError(f"{answer_id!r} is not an answer id")
    day = f"{answer_id[:4]}-{answer_id[4:6]}-{answer_id[6:8]}"
    return keys.usage_key(validate_tenant(tenant), day, f"{answer_id}.json")


def record_query_cost(
    store: ObjectStore, tenant: str, model: str, cost: QueryCost, *, at: datetime | None = None
) -> str:
    """Store one query's cost; returns its key."""
    validate_tenant(tenant)
    at = at or datetime.now(UTC)
    key = keys.usage_key(tenant, f"{at:%Y-%m-%d}", f"{at:%H%M%S%f}-{uuid.uuid4().hex[:8]}.json")
    record = {"tenant": tenant, "at": at.isoformat(), "model": model, **asdict(cost)}
    store.put(key, json.dumps(record).encode(), "application/json")
    return key


def answer_record(tenant: str, answer: Answer) -> dict:
    """What is kept of an answer: no question, answer text or user (those may be personal)."""
    return {
        "tenant": tenant,
        "answer_id": answer.answer_id,
        "at": datetime.now(UTC).isoformat(),
        "model": answer.model,
        "prompt_version": answer.prompt.version if answer.prompt else None,
        "experiment": answer.prompt.experiment if answer.prompt else None,
        "latency_ms": answer.latency_ms,
        "cache_hit": answer.cache.hit if answer.cache else None,
        "abstained": answer.abstained,
        "grounded": _grounded(answer),
        "route": str(answer.route.tier) if answer.route else None,
        "mode": str(answer.mode) if answer.mode else None,
        "fallback": str(answer.fallback) if answer.fallback else None,
        **asdict(answer.cost or QueryCost()),
    }


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
        if answer.answer_id is None:
            record_query_cost(store, tenant, answer.model, answer.cost or QueryCost())
            return
        key = answer_record_key(tenant, answer.answer_id)
        store.put(key, json.dumps(answer_record(tenant, answer)).encode(), "application/json")
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


def answer_records(
    store: ObjectStore,
    *,
    tenant: str | None = None,
    day: str | None = None,
    since: str | None = None,
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(tenant, day, record)`` for every answer record, or one tenant's (``tenant``), or
    one tenant's day (``tenant`` and ``day``: one listing of that day only); ``since`` is
    the first day (``YYYY-MM-DD``), inclusive."""
    prefix = USAGE_PREFIX
    if tenant:
        prefix += f"{validate_tenant(tenant)}/" + (f"{day}/" if day else "")
    for key in store.list(prefix):
        parts = key[len(USAGE_PREFIX) :].split("/")
        if len(parts) != 3 or (since and parts[1] < since):
            continue
        yield parts[0], parts[1], json.loads(store.get(key))


def cost_report(
    store: ObjectStore, *, tenant: str | None = None, since: str | None = None
) -> list[CostTotal]:
    """Totals per tenant and day (``YYYY-MM-DD``), oldest first; ``since`` is inclusive."""
    totals: dict[tuple[str, str], CostTotal] = defaultdict(lambda: CostTotal("", ""))
    for owner, day, record in answer_records(store, tenant=tenant, since=since):
        total = totals[(owner, day)]
        total.tenant, total.day = owner, day
        total.queries += 1
        total.embedding_tokens += int(record.get("embedding_tokens", 0))
        total.input_tokens += int(record.get("input_tokens", 0))
        total.output_tokens += int(record.get("output_tokens", 0))
        total.total_usd = round(total.total_usd + float(record.get("total_usd", 0.0)), 10)
    return [totals[k] for k in sorted(totals, key=lambda k: (k[1], k[0]))]
