"""Feedback on answers (thumbs up or down), and the prompt report that compares the
variants of an experiment on latency, cost, groundedness, cache hits and feedback, with a
significance test of each variant's thumbs-up rate against the experiment's first variant.

Feedback lives at ``feedback/{tenant}/{answer_id}.json``: one per answer, a later vote
replaces an earlier one. It is accepted only for an answer this tenant was given (its
record exists under the tenant), so an id from another tenant is simply not found.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ragops.domain import keys
from ragops.domain.metrics import percentile
from ragops.domain.pii import mask_pii
from ragops.domain.tenants import validate_tenant
from ragops.errors import AnswerNotFound, InvalidInput, ObjectNotFound
from ragops.ports import ObjectStore
from ragops.repositories.answer_log import AnswerLog
from ragops.repositories.feedback import FeedbackLog, FeedbackRecord

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
        keys.answer_day(answer_id)
    except ValueError as exc:
        raise AnswerNotFound(answer_id) from exc
    try:
        answer = AnswerLog(store).get(tenant, answer_id)
    except ObjectNotFound as exc:
        raise AnswerNotFound(answer_id) from exc
    feedback = Feedback(answer_id, rating, answer.prompt_version, answer.experiment)
    FeedbackLog(store).put(
        FeedbackRecord(
            answer_id=answer_id,
            rating=rating,
            prompt_version=answer.prompt_version,
            experiment=answer.experiment,
            tenant=tenant,
            at=datetime.now(UTC).isoformat(),
            comment=mask_pii(comment)[0] if comment else None,
        )
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
    total_cost_usd: float = 0.0
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


SIGNIFICANCE_LEVEL = 0.05
"""A variant's thumbs-up rate differs from the first variant's when p is below this."""


@dataclass(frozen=True)
class VariantComparison:
    """One variant's thumbs-up rate against the first variant of its experiment."""

    experiment: str | None
    variant: str
    baseline: str
    votes: int
    baseline_votes: int
    difference_points: float | None
    """Thumbs-up rate minus the baseline's, in percentage points."""
    p_value: float | None
    significant: bool | None
    """Whether ``p_value`` is below ``SIGNIFICANCE_LEVEL``; None without votes on both."""

    @property
    def statement(self) -> str:
        """The result in words: ``v2 vs v1: +6.1 points (n=30 vs 28), p=0.040, significant
        at 5%``."""
        head = f"{self.variant} vs {self.baseline}"
        if self.difference_points is None or self.p_value is None:
            return (
                f"{head}: not enough feedback to compare (n={self.votes} vs {self.baseline_votes})"
            )
        verdict = (
            f"significant at {SIGNIFICANCE_LEVEL:.0%}"
            if self.significant
            else f"not significant at {SIGNIFICANCE_LEVEL:.0%}"
        )
        return (
            f"{head}: {self.difference_points:+.1f} points (n={self.votes} vs "
            f"{self.baseline_votes}), p={self.p_value:.3f}, {verdict}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "statement": self.statement}


@dataclass
class PromptReport:
    """The variants of the answers in scope, each compared with its experiment's first
    variant, and the days the answers were recorded on (``first_day`` to ``last_day``)."""

    variants: list[VariantReport]
    comparisons: list[VariantComparison]
    experiment: str | None = None
    tenant: str | None = None
    since: str | None = None
    first_day: str | None = None
    last_day: str | None = None

    @staticmethod
    def label(experiment: str | None, variant: str) -> str:
        """A variant's key in ``to_dict`` (and in MLflow metric names): ``experiment/variant``,
        ``-/variant`` for answers outside any experiment."""
        return f"{experiment or '-'}/{variant}"

    def to_dict(self) -> dict[str, Any]:
        """Variants and comparisons keyed by ``label`` so their numbers become metrics."""
        return {
            "experiment": self.experiment,
            "tenant": self.tenant,
            "since": self.since,
            "first_day": self.first_day,
            "last_day": self.last_day,
            "significance_level": SIGNIFICANCE_LEVEL,
            "variants": {
                self.label(r.experiment, r.prompt_version): r.to_dict() for r in self.variants
            },
            "comparisons": {
                self.label(c.experiment, c.variant): c.to_dict() for c in self.comparisons
            },
        }

    def params(self) -> dict[str, Any]:
        """What the report covered, for the experiment tracker."""
        experiments = sorted({r.experiment or "-" for r in self.variants})
        return {
            "experiment": self.experiment or ",".join(experiments) or None,
            "variants": ",".join(self.label(r.experiment, r.prompt_version) for r in self.variants),
            "tenant": self.tenant,
            "since": self.since,
            "first_day": self.first_day,
            "last_day": self.last_day,
        }


def prompt_report(
    store: ObjectStore,
    *,
    tenant: str | None = None,
    since: str | None = None,
    experiment: str | None = None,
) -> list[VariantReport]:
    """Per prompt variant (and experiment): answers, cache hits, grounded share, latency
    p50/p95, mean and total cost and thumbs-up rate with its 95% interval; ``since`` is a
    day (``YYYY-MM-DD``), inclusive; ``experiment`` keeps that experiment's answers only."""
    return ab_report(store, tenant=tenant, since=since, experiment=experiment).variants


def ab_report(
    store: ObjectStore,
    *,
    tenant: str | None = None,
    since: str | None = None,
    experiment: str | None = None,
) -> PromptReport:
    """``prompt_report`` with each variant compared with its experiment's first variant
    (two-proportion z-test of the thumbs-up rates) and the days it covers."""
    votes = {(v.tenant, v.answer_id): v.rating for v in FeedbackLog(store).records(tenant)}
    reports: dict[tuple[str | None, str], VariantReport] = {}
    days: set[str] = set()
    for record in AnswerLog(store).records(tenant=tenant, since=since):
        version = record.prompt_version
        if not version:
            continue  # a query recorded before prompt versions
        if experiment is not None and record.experiment != experiment:
            continue
        days.add(record.day)
        group = (record.experiment, version)
        report = reports.setdefault(group, VariantReport(*group))
        report.answers += 1
        report.cache_hits += record.cache_hit is not None
        report.abstained += record.abstained
        report.grounded += record.grounded
        report._latencies.append(record.latency_ms)
        report._cost += record.cost.total_usd
        vote = votes.get((record.tenant, record.answer_id or ""))
        report.thumbs_up += vote == "up"
        report.thumbs_down += vote == "down"
    ordered = [reports[k] for k in sorted(reports, key=lambda k: (k[0] or "", k[1]))]
    first_of: dict[str | None, VariantReport] = {}
    comparisons: list[VariantComparison] = []
    for report in ordered:
        report.latency_ms_p50 = round(percentile(report._latencies, 0.5), 2)
        report.latency_ms_p95 = round(percentile(report._latencies, 0.95), 2)
        report.total_cost_usd = round(report._cost, 10)
        report.mean_cost_usd = round(report._cost / report.answers, 10) if report.answers else 0.0
        votes_cast = report.thumbs_up + report.thumbs_down
        if votes_cast:
            report.thumbs_up_rate = round(report.thumbs_up / votes_cast, 4)
            report.thumbs_up_ci95 = wilson_interval(report.thumbs_up, votes_cast)
        first = first_of.setdefault(report.experiment, report)
        if first is not report:
            comparison = _compare(report, first)
            report.p_value_vs_first = comparison.p_value
            comparisons.append(comparison)
    return PromptReport(
        variants=ordered,
        comparisons=comparisons,
        experiment=experiment,
        tenant=tenant,
        since=since,
        first_day=min(days, default=None),
        last_day=max(days, default=None),
    )


def _compare(report: VariantReport, first: VariantReport) -> VariantComparison:
    votes = report.thumbs_up + report.thumbs_down
    first_votes = first.thumbs_up + first.thumbs_down
    p_value = two_proportion_p_value(first.thumbs_up, first_votes, report.thumbs_up, votes)
    difference = (
        round(100 * (report.thumbs_up / votes - first.thumbs_up / first_votes), 2)
        if votes and first_votes
        else None
    )
    return VariantComparison(
        experiment=report.experiment,
        variant=report.prompt_version,
        baseline=first.prompt_version,
        votes=votes,
        baseline_votes=first_votes,
        difference_points=difference,
        p_value=p_value,
        significant=None if p_value is None else p_value < SIGNIFICANCE_LEVEL,
    )
