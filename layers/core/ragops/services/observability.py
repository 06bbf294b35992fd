"""What the query path reports to the metrics sink, in one place (the API calls it)."""

from __future__ import annotations

from ragops.domain.models import Answer
from ragops.ports import MetricsSink


def report_answer(metrics: MetricsSink, answer: Answer) -> None:
    """One answered query: route, latency, cost, outcome, what the guardrail did."""
    metrics.count("queries", tier=str(answer.route.tier) if answer.route else "none")
    metrics.observe("query_latency_seconds", answer.latency_ms / 1000.0)
    if answer.cost is not None:
        metrics.count("query_cost_usd", answer.cost.total_usd)
    if answer.abstained:
        outcome = "abstained"
    elif answer.unsupported_sentences:
        outcome = "partly_grounded"
    else:
        outcome = "grounded"
    metrics.count("answers", outcome=outcome)
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
