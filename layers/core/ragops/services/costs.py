"""Cost records: one object per answered query in the object store, and totals per tenant
and day.

Append-only (``usage/{tenant}/{day}/{time}-{id}.json``) rather than a running total: Lambda
functions answer queries concurrently, and a read-modify-write total would lose updates.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from ragops.domain.models import Answer, QueryCost
from ragops.errors import StoreUnavailable
from ragops.ports import ObjectStore
from ragops.settings import validate_tenant

USAGE_PREFIX = "usage/"
logger = logging.getLogger(__name__)


def record_query_cost(
    store: ObjectStore, tenant: str, model: str, cost: QueryCost, *, at: datetime | None = None
) -> str:
    """Store one query's cost; returns its key."""
    validate_tenant(tenant)
    at = at or datetime.now(UTC)
    key = f"{USAGE_PREFIX}{tenant}/{at:%Y-%m-%d}/{at:%H%M%S%f}-{uuid.uuid4().hex[:8]}.json"
    record = {"tenant": tenant, "at": at.isoformat(), "model": model, **asdict(cost)}
    store.put(key, json.dumps(record).encode(), "application/json")
    return key


def record_answer_cost(store: ObjectStore, tenant: str, answer: Answer) -> None:
    """Record an answer's cost; a store that fails costs the record, never the answer."""
    if answer.cost is None:
        return
    try:
        record_query_cost(store, tenant, answer.model, answer.cost)
    except StoreUnavailable as exc:
        logger.warning("could not record the query's cost: %s", exc)


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
    prefix = USAGE_PREFIX + (f"{validate_tenant(tenant)}/" if tenant else "")
    totals: dict[tuple[str, str], CostTotal] = defaultdict(lambda: CostTotal("", ""))
    for key in store.list(prefix):
        parts = key[len(USAGE_PREFIX) :].split("/")
        if len(parts) != 3 or (since and parts[1] < since):
            continue
        record = json.loads(store.get(key))
        total = totals[(parts[0], parts[1])]
        total.tenant, total.day = parts[0], parts[1]
        total.queries += 1
        total.embedding_tokens += int(record.get("embedding_tokens", 0))
        total.input_tokens += int(record.get("input_tokens", 0))
        total.output_tokens += int(record.get("output_tokens", 0))
        total.total_usd = round(total.total_usd + float(record.get("total_usd", 0.0)), 10)
    return [totals[k] for k in sorted(totals, key=lambda k: (k[1], k[0]))]
