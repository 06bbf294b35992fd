"""What the query path reports to the metrics sink, in one place (the API calls it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragops.domain.models import Answer
from ragops.ports import MetricsSink

if TYPE_CHECKING:
    from ragops.services.feedback import Feedback


def report_answer(metrics: MetricsSink, answer: Answer) -> None:
    """One answered query: route, latency, cost, outcome, what the guardrail did, each
    with the prompt variant that answered (the unlabelled ``query_cost_usd`` stays for the
    dashboards that chart it)."""
    variant = answer.prompt.version if answer.prompt else "none"
    tier = str(answer.route.tier) if answer.route else "none"
    metrics.count("queries", tier=tier, variant=variant)
    metrics.count("answer_modes", mode=str(answer.mode) if answer.mode else "declined")
    metrics.observe("query_latency_seconds", answer.latency_ms / 1000.0, variant=variant)
    if answer.cost is not None:
        metrics.count("query_cost_usd", answer.cost.total_usd)
        metrics.count("variant_cost_usd", answer.cost.total_usd, variant=variant)
    if answer.abstained:
        outcome = "abstained"
    elif answer.fallback is not None:
        outcome = "fallback"  # a generated answer failed its check: the extractive one served
    elif answer.groundedness is not None:
        outcome = "grounded" if answer.groundedness.grounded else "partly_grounded"
    elif answer.unsupported_sentences:
        outcome = "partly_grounded"
    else:
        outcome = "grounded"
    metrics.count("answers", outcome=outcome, variant=variant)
    guardrail = answer.guardrail
    if guardrail is not None:
        if guardrail.question:
            metrics.count("pii_masked", where="question")
        if guardrail.answer:
            metrics.count("pii_masked", where="answer")
        if guardrail.passages_removed:
            metrics.count("injected_passages_removed", guardrail.passages_removed)


def report_blocked(metrics: MetricsSink, findings: list[str]) -> None:
    """A question the guardrail refused, by what it found (``topic``, ``prompt_injection``)."""
    kind = findings[0].split(":", 1)[0] if findings else "unknown"
    metrics.count("questions_blocked", kind=kind)


def report_feedback(metrics: MetricsSink, feedback: Feedback) -> None:
    """A vote on an answer, by the variant that answered it."""
    metrics.count("feedback", rating=feedback.rating, variant=feedback.prompt_version or "none")
