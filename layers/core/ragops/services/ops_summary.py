"""What the operations page shows for a tenant: its documents by status, and per day its
queries, cache hits, grounded answers and cost, read from the answer records."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

from ragops.domain.models import DocumentStatus
from ragops.ports import ObjectStore
from ragops.repositories.answer_log import AnswerLog
from ragops.services.documents import list_documents


@dataclass
class DaySummary:
    day: str
    queries: int = 0
    cache_hits: int = 0
    grounded: int = 0
    cost_usd: float = 0.0


@dataclass
class OpsSummary:
    tenant: str
    documents: int = 0
    indexed: int = 0
    pending: int = 0
    failed: int = 0
    chunks: int = 0
    days: list[DaySummary] = field(default_factory=list)

    @property
    def today(self) -> DaySummary:
        return self.days[-1]

    def to_dict(self) -> dict:
        data = asdict(self)
        today = self.today
        data["today"] = {
            **asdict(today),
            "cache_hit_rate": round(today.cache_hits / today.queries, 4) if today.queries else None,
        }
        return data


def ops_summary(
    store: ObjectStore, tenant: str, *, days: int = 7, today: date | None = None
) -> OpsSummary:
    """Documents by status and chunk total; the last ``days`` days (oldest first, today
    last) of answer records. Reads one object per answer: meant for a page, not a hot path."""
    summary = OpsSummary(tenant)
    for record in list_documents(store, tenant):
        summary.documents += 1
        summary.chunks += record.chunk_count if record.status is DocumentStatus.INDEXED else 0
        summary.indexed += record.status is DocumentStatus.INDEXED
        summary.pending += record.status is DocumentStatus.PENDING
        summary.failed += record.status is DocumentStatus.FAILED
    today = today or datetime.now(UTC).date()
    for offset in range(days - 1, -1, -1):
        day = (today - timedelta(days=offset)).isoformat()
        totals = DaySummary(day)
        for answer in AnswerLog(store).records(tenant=tenant, day=day):
            totals.queries += 1
            totals.cache_hits += answer.cache_hit is not None
            totals.grounded += answer.grounded
            totals.cost_usd = round(totals.cost_usd + answer.cost.total_usd, 10)
        summary.days.append(totals)
    return summary
