"""Answer quality on SQuAD 2.0, and fitting the extractive answer model.

The paragraphs are indexed as documents of a tenant of their own (``squad_tenant``) and
every question is asked through ``answer_question``, the code the API runs, with the cache
off. For answerable questions: the share whose answer contains one of the gold answer
strings (case-insensitive), and the share whose first citation is the gold paragraph;
for unanswerable ones, the share answered; latency p50 / p95; and, in ``auto`` mode, the
same per route tier (extractive, lite, pro), so routing's saving is priced in quality.

Fitting (``fit_answer_model``) reads every question's passages through the same code
(``prepare_question``) and fits the two logistic regressions of
``ragops.domain.extractive`` on what it read: the sentence scorer on "this sentence holds
a gold answer of its question, from the gold paragraph", then answerability on "the
question is answerable" over the best sentence's evidence. Article-out evaluation fits on
every other article of the file before measuring an article, so no figure comes from a
model that saw the questions it is measured on.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ragops.domain.extractive import (
    ANSWERABILITY_FEATURES,
    SENTENCE_FEATURES,
    AnswerModel,
    Evidence,
    LogisticModel,
    answerability_features,
    profile_question,
)
from ragops.domain.metrics import percentile
from ragops.errors import InvalidInput, RequestBlocked
from ragops.services.abstention import SquadQuestion, load_squad, squad_tenant
from ragops.services.answering import AnswerContext, answer_question, prepare_question
from ragops.services.ingestion import IngestContext, UploadedFile, ingest_files

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)``."""

MODES = ("extractive", "generative", "auto")
DEFAULT_DECLINE_RATE = 0.09
"""Share of answerable questions a fitted answerability threshold declines (on the
questions it was fitted on): the operating point of the trade-off curve."""
SECOND_SENTENCE_MIN_SCORE = -3.0
"""The sentence score a second sentence needs to join the answer: measured article-out on
the SQuAD dev articles, it holds a gold answer 0.6 points more often than -2.0 (three in
four answers get a second sentence) and 4.9 more than 0.0 (one in twenty)."""


def paragraph_source(index: int) -> str:
    """The file name paragraph ``index`` is indexed under."""
    return f"p{index:04d}.txt"


def index_paragraphs(ingest: IngestContext, path: Path) -> tuple[str, list[SquadQuestion]]:
    """Index the file's paragraphs (unchanged ones are skipped) and return the tenant and
    the questions."""
    paragraphs, questions = load_squad(path)
    tenant = squad_tenant(path, ingest)
    files = [
        UploadedFile(paragraph_source(i), text.encode("utf-8"), title=title or None)
        for i, (title, text) in enumerate(paragraphs)
    ]
    ingest_files(ingest, tenant=tenant, files=files)
    return tenant, questions


def contains_gold(text: str, gold: Sequence[str]) -> bool:
    folded = text.casefold()
    return any(g.casefold() in folded for g in gold if g)


# -- fitting -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """One question's passages as the answering code read them: each candidate's evidence
    and whether it holds a gold answer from the gold paragraph."""

    question: SquadQuestion
    evidence: list[Evidence]
    labels: list[bool]
    sources: list[str] = field(default_factory=list)
    """The passages' sources, in fused order (``Evidence.candidate.passage`` indexes it)."""


def read_questions(
    ctx: AnswerContext,
    tenant: str,
    questions: Sequence[SquadQuestion],
    progress: Progress | None = None,
) -> list[Reading]:
    """Every question's candidate sentences with their evidence and labels (questions the
    guardrail refuses, or with no relevant passage, have none)."""
    readings = []
    ctx = replace(ctx, cache=None, question_observer=None)
    for done, item in enumerate(questions, start=1):
        try:
            prepared = prepare_question(ctx, tenant=tenant, question=item.question)
        except RequestBlocked:
            prepared = None
        evidence = list(prepared.extraction.ranked) if prepared and prepared.extraction else []
        gold_source = paragraph_source(item.paragraph)
        labels = [
            item.answerable
            and prepared is not None
            and prepared.hits[e.candidate.passage].chunk.source == gold_source
            and contains_gold(e.candidate.text, item.answers)
            for e in evidence
        ]
        sources = [h.chunk.source for h in prepared.hits] if prepared else []
        readings.append(Reading(item, evidence, labels, sources))
        if progress and (done % 50 == 0 or done == len(questions)):
            progress("reading", done, len(questions))
    return readings


def _fit_logistic(
    rows: list[Sequence[float]], labels: list[bool], names: tuple[str, ...], c: float
) -> LogisticModel:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if len(set(labels)) < 2:
        raise InvalidInput("fitting needs both kinds of example (answerable and not)")
    scaler = StandardScaler().fit(rows)
    model = LogisticRegression(C=c, max_iter=5000).fit(scaler.transform(rows), labels)
    return LogisticModel(
        features=names,
        weights=tuple(float(w) for w in model.coef_[0]),
        bias=float(model.intercept_[0]),
        mean=tuple(float(m) for m in scaler.mean_),
        scale=tuple(float(s) for s in scaler.scale_),
    )


def _rescored(model: LogisticModel, evidence: list[Evidence]) -> list[Evidence]:
    scored = [replace(e, score=model.logit(e.features)) for e in evidence]
    scored.sort(key=lambda e: (-e.score, e.candidate.passage, e.candidate.position))
    return scored


def fit_answer_model(
    readings: Sequence[Reading],
    *,
    decline_rate: float = DEFAULT_DECLINE_RATE,
    second_sentence_min_score: float = SECOND_SENTENCE_MIN_SCORE,
    trained_on: str | None = None,
    embedding_model: str | None = None,
) -> AnswerModel:
    """Fit the sentence scorer and answerability on ``readings``; the threshold declines
    ``decline_rate`` of the answerable questions read."""
    if not 0.0 <= decline_rate < 1.0:
        raise InvalidInput("the decline rate is a share between 0 and 1")
    rows, labels = [], []
    for reading in readings:
        if reading.question.answerable:
            rows.extend(e.features for e in reading.evidence)
            labels.extend(reading.labels)
    sentences = _fit_logistic(rows, labels, SENTENCE_FEATURES, c=1.0)
    q_rows, q_labels = [], []
    for reading in readings:
        if not reading.evidence:
            continue
        ranked = _rescored(sentences, reading.evidence)
        profile = profile_question(reading.question.question)
        q_rows.append(answerability_features(profile, ranked))
        q_labels.append(reading.question.answerable)
    answerability = _fit_logistic(q_rows, q_labels, ANSWERABILITY_FEATURES, c=1.0)
    probabilities = sorted(
        _sigmoid(answerability.logit(row))
        for row, answerable in zip(q_rows, q_labels, strict=True)
        if answerable
    )
    threshold = probabilities[int(decline_rate * len(probabilities))] if probabilities else 0.5
    return AnswerModel(
        sentences=sentences,
        answerability=answerability,
        threshold=round(threshold, 4),
        second_sentence_min_score=second_sentence_min_score,
        trained_on=trained_on,
        embedding_model=embedding_model,
        notes={"questions": len(readings), "decline_rate": decline_rate},
    )


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


CURVE_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 20))


def answerable_probability(model: AnswerModel, reading: Reading) -> float:
    """``model``'s probability that the best sentence of ``reading`` answers (-1 when
    there was nothing to read: always declined)."""
    if not reading.evidence:
        return -1.0
    ranked = _rescored(model.sentences, reading.evidence)
    row = answerability_features(profile_question(reading.question.question), ranked)
    return _sigmoid(model.answerability.logit(row))


def tradeoff_curve(
    model: AnswerModel | dict[str, AnswerModel],
    readings: Sequence[Reading],
    thresholds: Sequence[float] = CURVE_THRESHOLDS,
) -> list[dict[str, float]]:
    """For each threshold, the share of answerable questions declined and of unanswerable
    ones answered, by ``model`` on ``readings`` (or, article-out, by the model of each
    reading's article)."""
    answerable: list[float] = []
    unanswerable: list[float] = []
    for reading in readings:
        chosen = model[reading.question.article] if isinstance(model, dict) else model
        probability = answerable_probability(chosen, reading)
        (answerable if reading.question.answerable else unanswerable).append(probability)
    return [
        {
            "threshold": t,
            "answerable_declined": _share(sum(p < t for p in answerable), len(answerable)),
            "unanswerable_answered": _share(sum(p >= t for p in unanswerable), len(unanswerable)),
        }
        for t in thresholds
    ]


def _share(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


# -- evaluation ----------------------------------------------------------------------------


@dataclass
class _Tally:
    answerable: int = 0
    unanswerable: int = 0
    contains_gold: int = 0
    cites_gold: int = 0
    answered_answerable: int = 0
    answerable_declined: int = 0
    unanswerable_answered: int = 0
    fallbacks: int = 0
    latencies: list[float] = field(default_factory=list)
    costs: list[float] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {
            "answerable": self.answerable,
            "unanswerable": self.unanswerable,
            "answer_contains_gold": _share(self.contains_gold, self.answerable),
            "first_citation_gold": _share(self.cites_gold, self.answered_answerable),
            "first_citation_gold_of_answerable": _share(self.cites_gold, self.answerable),
            "answerable_declined": _share(self.answerable_declined, self.answerable),
            "unanswerable_answered": _share(self.unanswerable_answered, self.unanswerable),
            "fallbacks": self.fallbacks,
            "latency_ms_p50": round(percentile(self.latencies, 0.5), 1),
            "latency_ms_p95": round(percentile(self.latencies, 0.95), 1),
            "cost_per_query_usd": round(sum(self.costs) / len(self.costs), 8)
            if self.costs
            else 0.0,
        }


@dataclass(frozen=True)
class AnswersReport:
    mode: str
    questions: int
    overall: dict[str, Any]
    by_tier: dict[str, dict[str, Any]]
    """In auto mode, the figures of the questions each tier took (and ``declined``)."""
    by_article: dict[str, dict[str, Any]]
    article_out: bool
    tenant: str
    examples: list[dict[str, Any]]
    curve: list[dict[str, float]] = field(default_factory=list)
    """Article-out: the answerability trade-off over the questions asked, each scored by
    the model fitted without its article."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "questions": self.questions,
            "article_out": self.article_out,
            "tenant": self.tenant,
            **self.overall,
            "by_tier": self.by_tier,
            "by_article": self.by_article,
            "examples": self.examples,
            "tradeoff_curve": self.curve,
        }


def _record(tally: _Tally, item: SquadQuestion, answer: Any, gold_source: str) -> None:
    tally.latencies.append(answer.latency_ms)
    tally.costs.append(answer.cost.total_usd if answer.cost else 0.0)
    tally.fallbacks += answer.fallback is not None
    if item.answerable:
        tally.answerable += 1
        if answer.abstained:
            tally.answerable_declined += 1
            return
        tally.answered_answerable += 1
        tally.contains_gold += contains_gold(answer.answer, item.answers)
        tally.cites_gold += bool(answer.citations) and answer.citations[0].source == gold_source
    else:
        tally.unanswerable += 1
        tally.unanswerable_answered += not answer.abstained


def evaluate_answers(
    ingest: IngestContext,
    ctx: AnswerContext,
    path: Path,
    *,
    mode: str = "extractive",
    limit: int | None = None,
    article_out: bool = False,
    fit_on: Path | None = None,
    progress: Progress | None = None,
    examples: int = 5,
) -> AnswersReport:
    """Ask the file's questions (the first ``limit`` of them) through ``answer_question``
    in answer ``mode``. With ``article_out`` the answer model that answers an article's
    questions is fitted on the other articles (by title) of ``fit_on``, by default the
    file itself (which then needs two articles or more)."""
    if mode not in MODES:
        raise InvalidInput(f"--mode must be one of {', '.join(MODES)}")
    if limit is not None and limit < 1:
        raise InvalidInput("--limit must be at least 1")
    tenant, questions = index_paragraphs(ingest, path)
    asked = questions[:limit] if limit else questions
    # No cache (every question answered anew) and no drift monitor (an evaluation set is
    # not the traffic it watches).
    ctx = replace(ctx, cache=None, answer_mode=mode, question_observer=None)
    models: dict[str, AnswerModel] = {}
    curve: list[dict[str, float]] = []
    if article_out:
        if fit_on is None:
            fit_tenant, fit_questions = tenant, questions
        else:
            fit_tenant, fit_questions = index_paragraphs(ingest, fit_on)
        readings = read_questions(ctx, fit_tenant, fit_questions, progress)
        for article in sorted({q.article for q in asked}):
            others = [r for r in readings if r.question.article != article]
            if not any(r.question.answerable for r in others):
                raise InvalidInput(
                    f"{fit_on or path}: no other article than {article!r} to fit on "
                    "(article-out evaluation needs two articles or more, or --fit-on)"
                )
            models[article] = fit_answer_model(others)
        if fit_on is None:
            asked_ids = {id(q) for q in asked}
            curve = tradeoff_curve(models, [r for r in readings if id(r.question) in asked_ids])
    overall, by_tier = _Tally(), defaultdict(_Tally)
    by_article: dict[str, _Tally] = defaultdict(_Tally)
    shown: list[dict[str, Any]] = []
    for done, item in enumerate(asked, start=1):
        answer_ctx = replace(ctx, answer_model=models[item.article]) if models else ctx
        try:
            answer = answer_question(answer_ctx, tenant=tenant, question=item.question)
        except RequestBlocked:
            continue
        gold_source = paragraph_source(item.paragraph)
        _record(overall, item, answer, gold_source)
        _record(by_article[item.article], item, answer, gold_source)
        tier = (
            "declined" if answer.abstained else (str(answer.route.tier) if answer.route else "none")
        )
        _record(by_tier[tier], item, answer, gold_source)
        if len(shown) < examples and item.answerable and not answer.abstained:
            shown.append(
                {"question": item.question, "gold": list(item.answers), "answer": answer.answer}
            )
        if progress and (done % 25 == 0 or done == len(asked)):
            progress("answering", done, len(asked))
    return AnswersReport(
        mode=mode,
        questions=len(asked),
        overall=overall.report(),
        by_tier={k: v.report() for k, v in sorted(by_tier.items())} if mode == "auto" else {},
        by_article={k: v.report() for k, v in sorted(by_article.items())},
        article_out=article_out,
        tenant=tenant,
        examples=shown,
        curve=curve,
    )


def save_answer_model(model: AnswerModel, path: Path) -> None:
    Path(path).write_text(json.dumps(model.to_dict(), indent=1) + "\n", encoding="utf-8")
