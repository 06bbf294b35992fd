"""Answer a question from the tenant's documents, with citations."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ragops.domain.costs import DEFAULT_PRICES, ModelPrice, query_cost
from ragops.domain.experiments import PromptExperiment
from ragops.domain.guardrails import LocalGuardrail
from ragops.domain.models import (
    Answer,
    CacheInfo,
    Citation,
    Generation,
    Groundedness,
    GuardrailReport,
    PromptInfo,
    SearchHit,
    SearchMode,
    Usage,
)
from ragops.domain.prompts import (
    NOT_FOUND_ANSWER,
    PROMPT_VERSION,
    PromptTemplate,
    cite_answer,
    extract_quote,
    render_messages,
    snippet,
)
from ragops.domain.routing import ModelTier, QueryRouter, RouteDecision
from ragops.errors import InvalidInput, ModelUnavailable, RequestBlocked
from ragops.ports import ChatModel, Embedder, Guardrail, VectorTier
from ragops.services.answer_cache import CachedAnswer, SemanticCache, cache_scope
from ragops.services.groundedness import check_groundedness
from ragops.settings import validate_tenant

MAX_QUESTION_CHARS = 2000
UNGROUNDED_PREFIX = (
    "I could not verify a generated answer against the documents. The most relevant passage says:"
)


@dataclass(frozen=True)
class AnswerContext:
    """The ports and knobs answering needs, built once by the bootstrap."""

    index: VectorTier
    embedder: Embedder
    chat_model: ChatModel
    model_id: str
    min_relevance: float
    default_top_k: int = 5
    max_top_k: int = 50
    guardrail: Guardrail | None = None
    prices: Mapping[str, ModelPrice] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    router: QueryRouter | None = None
    pro_chat_model_factory: Callable[[], ChatModel] | None = None
    """Builds the pro model when a question is routed to it (never loaded otherwise)."""
    cache: SemanticCache | None = None
    prompts: Mapping[str, PromptTemplate] = field(default_factory=dict)
    """Templates by id; empty means the packaged ones."""
    prompt_version: str = PROMPT_VERSION
    experiment: PromptExperiment | None = None
    groundedness_min_similarity: float | None = None
    """Cosine each answer sentence needs to its cited passages; None checks words only."""
    question_observer: Callable[[Any, float | None], None] | None = None
    """Called with each retrieved question's embedding and ``best_similarity`` of its hits
    (the live drift monitor); must return quickly and never raise."""

    def prompt_for(self, tenant: str, user: str | None) -> tuple[PromptTemplate, PromptInfo]:
        """The template that answers this caller: the experiment's variant, else the
        configured version."""
        from ragops.domain.prompts import packaged_prompts

        templates = self.prompts or packaged_prompts()
        if self.experiment is not None:
            version = self.experiment.assign(tenant, user)
            return templates[version], PromptInfo(version, self.experiment.name)
        return templates[self.prompt_version], PromptInfo(self.prompt_version)


def new_answer_id() -> str:
    """A unique id whose first 8 characters are the UTC day (``YYYYMMDD``): feedback finds
    the answer's record from the id alone."""
    from datetime import UTC, datetime

    return f"{datetime.now(UTC):%Y%m%d%H%M%S%f}{uuid.uuid4().hex[:8]}"


def validate_question(question: str) -> str:
    question = (question or "").strip()
    if not question:
        raise InvalidInput("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidInput(
            f"the question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}"
        )
    return question


def best_similarity(hits: list[SearchHit]) -> float | None:
    """The highest cosine similarity among the retrieved passages (None without vectors)."""
    return max((h.vector_score for h in hits if h.vector_score is not None), default=None)


def _relevant(hits: list[SearchHit], min_relevance: float, mode: SearchMode) -> list[SearchHit]:
    """Passages worth showing the model. In modes with vectors, a passage counts when its
    cosine similarity reaches ``min_relevance``; BM25 alone has no calibrated scale, so
    every keyword match counts there."""
    if mode is SearchMode.BM25:
        return hits
    return [h for h in hits if h.vector_score is not None and h.vector_score >= min_relevance]


@dataclass(frozen=True)
class ScreenedQuestion:
    """A question that passed validation and the input guardrail (personal data masked)."""

    question: str
    top_k: int
    guardrail: GuardrailReport | None


def screen_question(
    ctx: AnswerContext, *, tenant: str, question: str, top_k: int | None
) -> ScreenedQuestion:
    """Validate, and check with the guardrail: ``RequestBlocked`` if refused."""
    validate_tenant(tenant)
    question = validate_question(question)
    top_k = ctx.default_top_k if top_k is None else top_k
    if not 1 <= top_k <= ctx.max_top_k:
        raise InvalidInput(f"top_k must be between 1 and {ctx.max_top_k}")
    report = None
    if ctx.guardrail is not None:
        verdict = ctx.guardrail.check_input(question)
        if verdict.blocked:
            raise RequestBlocked(verdict.reason or "refused by the guardrail", verdict.findings)
        question = verdict.text
        report = GuardrailReport(question=verdict.findings)
    return ScreenedQuestion(question, top_k, report)


@dataclass(frozen=True)
class PreparedQuestion:
    """Everything decided before the model is called. ``hits`` empty means the system
    declines to answer (nothing relevant, or nothing left after the guardrail)."""

    question: str
    hits: list[SearchHit]
    route: RouteDecision | None
    guardrail: GuardrailReport | None
    embedding_tokens: int


def prepare_question(
    ctx: AnswerContext,
    *,
    tenant: str,
    question: str,
    top_k: int | None = None,
    mode: SearchMode = SearchMode.HYBRID,
) -> PreparedQuestion:
    """Validate, check with the guardrail (``RequestBlocked`` if refused; personal data
    masked), route, and retrieve the passages worth showing the model."""
    screened = screen_question(ctx, tenant=tenant, question=question, top_k=top_k)
    return _prepare(ctx, tenant, screened, mode, embedding=None)


def _prepare(
    ctx: AnswerContext,
    tenant: str,
    screened: ScreenedQuestion,
    mode: SearchMode,
    embedding: Any | None,
) -> PreparedQuestion:
    """Route and retrieve; ``embedding`` is the question's when already computed."""
    question, report = screened.question, screened.guardrail
    route = ctx.router.route(question) if ctx.router is not None else None
    if embedding is None and mode is not SearchMode.BM25:
        embedding = ctx.embedder.embed_array([question])[0]
    hits = ctx.index.search(tenant, question, embedding, screened.top_k, mode)
    if ctx.question_observer is not None and embedding is not None:
        ctx.question_observer(embedding, best_similarity(hits))
    hits = _relevant(hits, ctx.min_relevance, mode)
    embedding_tokens = 0 if embedding is None else ctx.embedder.token_counter()(question)
    if ctx.guardrail is not None and hits:
        # The title goes into the prompt too ("from {title}"): a document's own metadata
        # may carry instructions as well as its text.
        kept = [
            h
            for h in hits
            if ctx.guardrail.check_passage(f"{h.chunk.title}\n{h.chunk.text}".strip())
        ]
        report = replace(report or GuardrailReport(), passages_removed=len(hits) - len(kept))
        hits = kept
    return PreparedQuestion(question, hits, route, report, embedding_tokens)


def answer_question(
    ctx: AnswerContext,
    *,
    tenant: str,
    question: str,
    top_k: int | None = None,
    mode: SearchMode = SearchMode.HYBRID,
    user: str | None = None,
) -> Answer:
    """Retrieve the tenant's passages, generate an answer citing them as ``[n]``, and
    return it with the cited passages and token usage.

    When no passage is relevant the answer says so and the model is not called. With a
    guardrail, a refused question raises ``RequestBlocked``; personal data in the question
    is masked before retrieval and generation, and in the answer before it is returned;
    passages carrying instructions to the model stay out of the prompt. With a cache, an
    answer to the same question (exact, or a verified near duplicate) asked since the
    tenant's corpus last changed is served without retrieval or generation. The prompt
    template is the experiment's variant for ``tenant`` and ``user`` when one runs; every
    answer carries it and an ``answer_id`` for feedback.
    """
    started = time.perf_counter()
    screened = screen_question(ctx, tenant=tenant, question=question, top_k=top_k)
    template, prompt = ctx.prompt_for(tenant, user)
    answer, partition, embedding = _lookup(ctx, tenant, screened, mode, template, started)
    if answer is None:
        prepared = _prepare(ctx, tenant, screened, mode, embedding)
        answer = _generate(ctx, prepared, started, template)
        answer = _remember(ctx, tenant, partition, screened.question, embedding, answer)
    return replace(answer, answer_id=new_answer_id(), prompt=prompt)


def _lookup(
    ctx: AnswerContext,
    tenant: str,
    screened: ScreenedQuestion,
    mode: SearchMode,
    template: PromptTemplate,
    started: float,
) -> tuple[Answer | None, str, Any]:
    """(cached answer or None, cache partition, question embedding if computed). The
    partition is "" without a cache or when it cannot be reached; the embedding is reused
    for retrieval and for caching the new answer."""
    cache = ctx.cache
    if cache is None:
        return None, "", None
    question = screened.question
    partition, hit = cache.lookup_exact(
        tenant, cache_scope(mode, screened.top_k, template.id), question
    )
    if hit is not None:
        return _cached_answer(ctx, hit, screened, started, embedding_tokens=0), partition, None
    embedding = None
    if cache.questions is not None and partition:
        embedding = ctx.embedder.embed_array([question])[0]
        hit = cache.lookup_semantic(tenant, partition, question, embedding)
        if hit is not None:
            tokens = ctx.embedder.token_counter()(question)
            answer = _cached_answer(ctx, hit, screened, started, embedding_tokens=tokens)
            return answer, partition, embedding
    return None, partition, embedding


def _remember(
    ctx: AnswerContext, tenant: str, partition: str, question: str, embedding: Any, answer: Answer
) -> Answer:
    """Mark a generated answer as not from the cache, and cache it."""
    if ctx.cache is None:
        return answer
    answer = replace(answer, cache=CacheInfo())
    ctx.cache.remember(tenant, partition, question, embedding, answer)
    return answer


@dataclass(frozen=True)
class AnswerDelta:
    """Text of an answer being generated: a sentence checked against the passages (with
    its citations) and masked as the final answer will be. The final ``Answer`` follows
    and is authoritative."""

    text: str


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n+")


def stream_answer(
    ctx: AnswerContext,
    *,
    tenant: str,
    question: str,
    top_k: int | None = None,
    mode: SearchMode = SearchMode.HYBRID,
    user: str | None = None,
) -> Iterator[AnswerDelta | Answer]:
    """``answer_question``, yielding the answer's sentences as the model writes them, then
    the final ``Answer``. Errors before the first item (a refused question, a paused tier)
    raise from the first ``next()``. Sentences are shown only once complete and supported
    by a passage; with a guardrail service (not the local one) nothing is shown before
    the final answer, which that service checks."""
    started = time.perf_counter()
    screened = screen_question(ctx, tenant=tenant, question=question, top_k=top_k)
    template, prompt = ctx.prompt_for(tenant, user)
    answer, partition, embedding = _lookup(ctx, tenant, screened, mode, template, started)
    if answer is None:
        prepared = _prepare(ctx, tenant, screened, mode, embedding)
        if not prepared.hits:
            answer = _abstention(ctx, prepared, started)
        else:
            answer = yield from _generate_streaming(ctx, prepared, started, template)
        answer = _remember(ctx, tenant, partition, screened.question, embedding, answer)
    yield replace(answer, answer_id=new_answer_id(), prompt=prompt)


def _generate_streaming(
    ctx: AnswerContext, prepared: PreparedQuestion, started: float, template: PromptTemplate
) -> Iterator[AnswerDelta]:
    chat_model = _chat_model(ctx, prepared.route)
    messages = render_messages(prepared.question, prepared.hits, template)
    stream = getattr(chat_model, "stream", None)
    local_checks = ctx.guardrail is None or isinstance(ctx.guardrail, LocalGuardrail)
    if stream is None or not local_checks:
        return _finish(ctx, prepared, chat_model.generate(messages), started)
    passages = [h.chunk.text for h in prepared.hits]
    pending = ""
    generation: Generation | None = None
    for part in stream(messages):
        if isinstance(part, Generation):
            generation = part
            break
        pending += part
        *complete, pending = _SENTENCE_BREAK.split(pending)
        for sentence in complete:
            shown = _shown(ctx, sentence, passages)
            if shown:
                yield AnswerDelta(shown + " ")
    if generation is None:
        raise ModelUnavailable("the chat model's stream ended without a result")
    shown = _shown(ctx, pending, passages)
    if shown:
        yield AnswerDelta(shown)
    return _finish(ctx, prepared, generation, started)


def _shown(ctx: AnswerContext, sentence: str, passages: list[str]) -> str:
    """A streamed sentence as the final answer would have it, or "" if it would go."""
    text = cite_answer(sentence, passages).text if sentence.strip() else ""
    if text and ctx.guardrail is not None:
        text = ctx.guardrail.check_output(text).text
    return text


def _abstention(ctx: AnswerContext, prepared: PreparedQuestion, started: float) -> Answer:
    return Answer(
        answer=NOT_FOUND_ANSWER,
        citations=[],
        model=ctx.model_id,
        usage=Usage(),
        latency_ms=_elapsed_ms(started),
        abstained=True,
        guardrail=prepared.guardrail,
        cost=_cost(ctx, ctx.model_id, Usage(), prepared.embedding_tokens),
        route=prepared.route,
    )


def _chat_model(ctx: AnswerContext, route: RouteDecision | None) -> ChatModel:
    if route is not None and route.tier is ModelTier.PRO and ctx.pro_chat_model_factory:
        return ctx.pro_chat_model_factory()
    return ctx.chat_model


def _generate(
    ctx: AnswerContext, prepared: PreparedQuestion, started: float, template: PromptTemplate
) -> Answer:
    if not prepared.hits:
        return _abstention(ctx, prepared, started)
    chat_model = _chat_model(ctx, prepared.route)
    generation = chat_model.generate(render_messages(prepared.question, prepared.hits, template))
    return _finish(ctx, prepared, generation, started)


def _finish(
    ctx: AnswerContext, prepared: PreparedQuestion, generation: Generation, started: float
) -> Answer:
    """The answer from what the model wrote: supported sentences with their citations
    (a quote of the best passage if none is), groundedness, the output guardrail, cost."""
    question, hits, route = prepared.question, prepared.hits, prepared.route
    report, embedding_tokens = prepared.guardrail, prepared.embedding_tokens
    passages = [h.chunk.text for h in hits]
    cited = cite_answer(generation.text, passages)
    answer_text = cited.text
    numbers = cited.cited
    grounding_tokens = 0
    if not cited.grounded:
        # Nothing in the generated text is supported by the passages: rather than pass on
        # a guess, say so and quote the best passage.
        answer_text = f'{UNGROUNDED_PREFIX} "{extract_quote(question, hits[0].chunk.text)}" [1]'
        numbers = [1]
        groundedness = Groundedness(grounded=False, removed=cited.dropped_sentences)
    else:
        min_similarity = ctx.groundedness_min_similarity
        groundedness, grounding_tokens = check_groundedness(
            ctx.embedder if min_similarity is not None else None,
            cited,
            passages,
            min_similarity if min_similarity is not None else 0.0,
        )
    if ctx.guardrail is not None:
        verdict = ctx.guardrail.check_output(answer_text)
        answer_text = verdict.text
        report = replace(report or GuardrailReport(), answer=verdict.findings)
        groundedness = _masked(groundedness)
    return Answer(
        answer=answer_text,
        citations=[_citation(n, hits[n - 1], mask=ctx.guardrail is not None) for n in numbers],
        model=generation.model or ctx.model_id,
        usage=generation.usage,
        latency_ms=_elapsed_ms(started),
        abstained=False,
        unsupported_sentences=cited.dropped,
        guardrail=report,
        cost=_cost(
            ctx,
            generation.model or ctx.model_id,
            generation.usage,
            embedding_tokens + grounding_tokens,
        ),
        route=route,
        groundedness=groundedness,
    )


def _masked(groundedness: Groundedness) -> Groundedness:
    """The sentences quoted in the groundedness report, with personal data masked as the
    answer is (by the local detector, as citation snippets are)."""
    from ragops.domain.pii import mask_pii

    return replace(
        groundedness,
        sentences=[replace(s, text=mask_pii(s.text)[0]) for s in groundedness.sentences],
        removed=[mask_pii(text)[0] for text in groundedness.removed],
    )


def _cached_answer(
    ctx: AnswerContext,
    hit: CachedAnswer,
    screened: ScreenedQuestion,
    started: float,
    *,
    embedding_tokens: int,
) -> Answer:
    """A cache hit: no retrieval, routing or generation; the only cost is the question's
    embedding on a semantic hit."""
    return Answer(
        answer=hit.answer,
        citations=hit.citations,
        model=hit.model,
        usage=Usage(),
        latency_ms=_elapsed_ms(started),
        abstained=False,
        unsupported_sentences=hit.unsupported_sentences,
        groundedness=hit.groundedness,
        guardrail=screened.guardrail,
        cost=_cost(ctx, hit.model, Usage(), embedding_tokens),
        route=None,
        cache=hit.info,
    )


def _citation(number: int, hit: SearchHit, *, mask: bool = False) -> Citation:
    """The citation of ``hit``; with ``mask``, personal data in its snippet is masked as in
    the answer (by the local detector: a guardrail service call per snippet would cost a
    round trip each)."""
    chunk = hit.chunk
    text = snippet(chunk.text)
    if mask:
        from ragops.domain.pii import mask_pii

        text = mask_pii(text)[0]
    return Citation(
        number=number,
        doc_id=chunk.doc_id,
        chunk_id=chunk.chunk_id,
        title=chunk.title,
        source=chunk.source,
        page=chunk.page,
        snippet=text,
        score=round(hit.score, 6),
    )


def _cost(ctx: AnswerContext, model: str, usage: Usage, embedding_tokens: int):
    return query_cost(
        chat_model=model,
        usage=usage,
        embedding_model=ctx.embedder.model_id,
        embedding_tokens=embedding_tokens,
        prices=ctx.prices,
    )


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 2)
