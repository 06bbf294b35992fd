"""The evaluation gate: one fixed sample, every measure a pipeline change can move.

- retrieval quality on a BEIR data set (nDCG@10, Recall@10/100, MRR@10), on the first
  ``queries`` judged queries against their judged documents plus ``distractors`` others;
- answer quality on a SQuAD 2.0 file: abstention (answered unanswerable questions,
  declined answerable ones, decided by ``prepare_question``), and the first ``answers``
  answerable questions answered in full (generation included, cache bypassed) for the
  grounded-answer share, the share of answers holding a gold answer and of first
  citations of the gold paragraph, latency p50/p95 and cost per query.

Two runs compare only on the same ``SuiteSample.fingerprint``; ``compare`` in the domain
decides what counts as a regression.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ragops.domain.metrics import percentile
from ragops.errors import InvalidInput, RequestBlocked
from ragops.services.abstention import evaluate_abstention, load_squad, squad_tenant
from ragops.services.answer_evaluation import contains_gold, paragraph_source
from ragops.services.answering import AnswerContext, answer_question
from ragops.services.evaluation import StageProgress, run_retrieval_eval
from ragops.services.ingestion import IngestContext


@dataclass(frozen=True)
class SuiteSample:
    """What the suite runs on. ``fingerprint`` names the data and the sizes."""

    dataset: Path
    squad: Path
    split: str = "train"
    queries: int = 50
    distractors: int = 500
    answers: int = 10

    def __post_init__(self) -> None:
        for name in ("queries", "answers"):
            if getattr(self, name) < 1:
                raise InvalidInput(f"--{name} must be at least 1")
        if self.distractors < 0:
            raise InvalidInput("--distractors must be 0 or more")

    def params(self) -> dict[str, Any]:
        return {
            "dataset": str(self.dataset),
            "squad": str(self.squad),
            "split": self.split,
            "queries": self.queries,
            "distractors": self.distractors,
            "answers": self.answers,
        }

    def fingerprint(self) -> str:
        """The files' contents and the sizes: the same on any machine and path."""
        digest = hashlib.sha256()
        files = [
            Path(self.dataset) / "corpus.jsonl",
            Path(self.dataset) / "queries.jsonl",
            Path(self.dataset) / "qrels" / f"{self.split}.tsv",
            Path(self.squad),
        ]
        for path in files:
            try:
                with path.open("rb") as handle:
                    for block in iter(lambda handle=handle: handle.read(1 << 20), b""):
                        digest.update(block)
            except OSError as exc:
                raise InvalidInput(f"{path}: cannot be read ({exc.strerror})") from exc
        sizes = {k: v for k, v in self.params().items() if k not in ("dataset", "squad")}
        digest.update(json.dumps(sizes, sort_keys=True).encode())
        return digest.hexdigest()[:16]


def _answer_sample(
    ingest: IngestContext, answers: AnswerContext, sample: SuiteSample
) -> dict[str, Any]:
    """Answer the first ``answers`` answerable questions in full (no cache)."""
    ctx = replace(answers, cache=None)
    tenant = squad_tenant(sample.squad, ingest)
    _, questions = load_squad(sample.squad)
    answerable = [q for q in questions if q.answerable][: sample.answers]
    latencies: list[float] = []
    costs: list[float] = []
    answered = grounded = abstained = blocked = holds_gold = cites_gold = 0
    for item in answerable:
        try:
            answer = answer_question(ctx, tenant=tenant, question=item.question)
        except RequestBlocked:
            blocked += 1
            continue
        latencies.append(answer.latency_ms)
        costs.append(answer.cost.total_usd if answer.cost else 0.0)
        if answer.abstained:
            abstained += 1
            continue
        answered += 1
        holds_gold += contains_gold(answer.answer, item.answers)
        cites_gold += bool(answer.citations) and (
            answer.citations[0].source == paragraph_source(item.paragraph)
        )
        # Grounded as made: a generated answer that failed the check and was replaced by
        # the extractive one does not count (the served answer is grounded either way).
        if answer.fallback is None and answer.groundedness and answer.groundedness.grounded:
            grounded += 1
    checked = ctx.groundedness_min_similarity is not None
    return {
        "questions": len(answerable),
        "answered": answered,
        "abstained": abstained,
        "blocked": blocked,
        "grounded": grounded,
        "groundedness_share": round(grounded / answered, 4) if answered and checked else None,
        # Of the answerable questions asked (a declined one holds nothing).
        "answer_contains_gold": round(holds_gold / len(answerable), 4) if answerable else None,
        "first_citation_gold": round(cites_gold / answered, 4) if answered else None,
        "latency_ms_p50": round(percentile(latencies, 0.5), 1) if latencies else None,
        "latency_ms_p95": round(percentile(latencies, 0.95), 1) if latencies else None,
        "cost_per_query_usd": round(sum(costs) / len(costs), 8) if costs else None,
    }


def run_suite(
    ingest: IngestContext,
    answers: AnswerContext,
    sample: SuiteSample,
    progress: StageProgress | None = None,
) -> dict[str, Any]:
    """Run the whole suite with the pipeline of the contexts (the container's
    ``ingest_context()`` and ``answer_context()``); returns the report, whose ``metrics``
    hold the flat measures (the gated ones among them)."""
    retrieval = run_retrieval_eval(
        ingest,
        sample.dataset,
        split=sample.split,
        max_queries=sample.queries,
        distractors=sample.distractors,
        progress=progress,
    )
    if progress:
        progress("abstention", 0, 1)
    abstention = evaluate_abstention(ingest, answers, sample.squad)
    if progress:
        progress("answering", 0, sample.answers)
    answered = _answer_sample(ingest, answers, sample)
    metrics = {
        "ndcg_at_10": retrieval["ndcg@10"],
        "recall_at_10": retrieval["recall@10"],
        "recall_at_100": retrieval["recall@100"],
        "mrr_at_10": retrieval["mrr@10"],
        "unanswerable_answered_rate": abstention.unanswerable_answered_rate,
        "answerable_declined_rate": abstention.answerable_declined_rate,
        "groundedness_share": answered["groundedness_share"],
        "answer_contains_gold": answered["answer_contains_gold"],
        "first_citation_gold": answered["first_citation_gold"],
        "latency_ms_p50": answered["latency_ms_p50"],
        "latency_ms_p95": answered["latency_ms_p95"],
        "cost_per_query_usd": answered["cost_per_query_usd"],
    }
    return {
        "sample": sample.fingerprint(),
        "metrics": {k: v for k, v in metrics.items() if v is not None},
        "retrieval": {
            k: retrieval[k]
            for k in ("queries", "corpus_documents", "index_reused", "search_ms_p50")
        },
        "abstention": {
            "answerable": abstention.answerable,
            "unanswerable": abstention.unanswerable,
            "answerable_declined": abstention.answerable_declined,
            "unanswerable_answered": abstention.unanswerable_answered,
        },
        "answers": answered,
    }
