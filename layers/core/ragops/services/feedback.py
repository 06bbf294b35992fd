"""Feedback on answers (thumbs up or down), and the prompt report that compares the
variants of an experiment on latency, cost, groundedness, cache hits and feedback.

Feedback lives at ``feedback/{tenant}/{answer_id}.json``: one per answer, a later vote
replaces an earlier one. It is accepted only for an answer this tenant was given (its
record exists under the tenant), so an id from another tenant is simply not found.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ragops.domain.metrics import percentile
from ragops.domain.pii import mask_pii
from ragops.errors import AnswerNotFound, InvalidInput, ObjectNotFound
from ragops.ports import ObjectStore
from ragops.services.costs import answer_record_key, answer_records
from ragops.settings import validate_tenant

FEEDBACK_PREFIX = "feedback/"
RATINGS = ("up", "down")
MAX_COMMENT_CHARS = 2000


@dataclass(frozen=True)
class Feedback:
    answer_id: str
    rating: str
    prompt_version: str | None
    experiment: str | None


def record_feedback(
    store: ObjectStore,
    tenant: str,
    answer_id: str,
    rating: str,
    comment: str | None = None,
) -> Feedback:
    """Store a vote on one of ``tenant``'s answers. ``AnswerNotFound`` if the tenant was
    never given that answer; ``InvalidInput`` for a bad rating or comment. Personal data in
    the comment is masked before it is stored."""
    validate_tenant(tenant)
    if rating not in RATINGS:
        raise InvalidInput(f"rating must be one of {', '.join(RATINGS)}")
    if comment is not None and len(comment) > MAX_COMMENT_CHARS:
        raise InvalidInput(f"the comment is over {MAX_COMMENT_CHARS} characters")
    try:
        key = answer_record_key(tenant, answer_id)
    except ValueError as exc:
        raise AnswerNotFound(answer_id) from exc
    try:
        record = json.loads(store.get(key))
    except ObjectNotFound as exc:
        raise AnswerNotFound(answer_id) from exc
    feedback = Feedback(answer_id, rating, record.get("prompt_version"), record.get("experiment"))
    body = {
        **feedback.__dict__,
        "tenant": tenant,
        "at": datetime.now(UTC).isoformat(),
        "comment": mask_pii(comment)[0] if comment else None,
    }
    store.put(
        f"{FEEDBACK_PREFIX}{tenant}/{answer_id}.json", json.dumps(body).encode(), "application/json"
    )
    return feedback


# -- the report ------------------------------------------------------------------------
@dataclass
class VariantReport:
    experiment: str | None
    prompt_version: str
    answers: int = 0
    cache_hits: int = 0
    abstained: int = 0
    grounded: int = 0
    latency_ms_p50: float = 0.0
    latency_ms_p95: float = 0.0
    mean_cost_usd: float = 0.0
    thumbs_up: int = 0
    thumbs_down: int = 0
    thumbs_up_rate: float | None = None
    thumbs_up_ci95: tuple[float, float] | None = None
    p_value_vs_first: float | None = None
    """Two-proportion z-test of the thumbs-up rate against the first variant listed."""
    _latencies: list[float] = field(default_factory=list, repr=False)
    _cost: float = field(default=0.0, repr=False)

    @property
    def grounded_share(self) -> float:
        answered = self.answers - self.abstained
        return self.grounded / answered if answered else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        data["grounded_share"] = round(self.grounded_share, 4)
        return data


def wilson_interval(successes: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (sound for small counts)."""
    if total == 0:
        return (0.0, 1.0)
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return (round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4))


def two_proportion_p_value(a: int, n_a: int, b: int, n_b: int) -> float | None:
    """Two-sided p-value that two proportions are equal (normal approximation)."""
    if n_a == 0 or n_b == 0:
        return None
    pooled = (a + b) / (n_a + n_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if spread == 0:
        return 1.0
    z = abs(a / n_a - b / n_b) / spread
    return round(math.erfc(z / math.sqrt(2)), 6)


def prompt_report(
    store: ObjectStore, *, tenant: str | None = None, since: str | None = None
) -> list[VariantReport]:
    """Per prompt variant (and experiment): answers, cache hits, grounded share, latency
    p50/p95, mean cost and thumbs-up rate with its 95% interval; ``since`` is a day
    (``YYYY-MM-DD``), inclusive."""
    scope = f"{validate_tenant(tenant)}/" if tenant else ""
    votes: dict[str, str] = {}
    for key in store.list(FEEDBACK_PREFIX + scope):
        record = json.loads(store.get(key))
        votes[str(record.get("answer_id"))] = str(record.get("rating"))
    reports: dict[tuple[str | None, str], VariantReport] = {}
    for _, _, record in answer_records(store, tenant=tenant, since=since):
        version = record.get("prompt_version")
        if not version:
            continue  # a query recorded before prompt versions
        group = (record.get("experiment"), version)
        report = reports.setdefault(group, VariantReport(*group))
        report.answers += 1
        report.cache_hits += record.get("cache_hit") is not None
        report.abstained += bool(record.get("abstained"))
        report.grounded += bool(record.get("grounded"))
        report._latencies.append(float(record.get("latency_ms", 0.0)))
        report._cost += float(record.get("total_usd", 0.0))
        vote = votes.get(str(record.get("answer_id")))
        report.thumbs_up += vote == "up"
        report.thumbs_down += vote == "down"
    ordered = [reports[k] for k in sorted(reports, key=lambda k: (k[0] or "", k[1]))]
    first_of: dict[str | None, VariantReport] = {}
    for report in ordered:
        report.latency_ms_p50 = round(percentile(report._latencies, 0.5), 2)
        report.latency_ms_p95 = round(percentile(report._latencies, 0.95), 2)
        report.mean_cost_usd = round(report._cost / report.answers, 10) if report.answers else 0.0
        votes_cast = report.thumbs_up + report.thumbs_down
        if votes_cast:
            report.thumbs_up_rate = round(report.thumbs_up / votes_cast, 4)
            report.thumbs_up_ci95 = wilson_interval(report.thumbs_up, votes_cast)
        first = first_of.setdefault(report.experiment, report)
        if first is not report:
            report.p_value_vs_first = two_proportion_p_value(
                first.thumbs_up,
                first.thumbs_up + first.thumbs_down,
                report.thumbs_up,
                votes_cast,
            )
    return ordered
