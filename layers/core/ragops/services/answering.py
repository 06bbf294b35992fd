"""Answer a question from the tenant's documents, with citations.

The steps, each visible in the answer: input guardrail -> cache -> hybrid retrieval ->
(rerank) -> answerability (the passages' best sentence, and whether it answers) -> route
(extractive, lite or pro) -> extract, or generate and check groundedness (a generated
answer that fails it is replaced by the extractive one) -> output guardrail -> cost.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from ragops.domain.costs import DEFAULT_PRICES, ModelPrice, query_cost
from ragops.domain.experiments import PromptExperiment
from ragops.domain.extractive import (
    AnswerModel,
    Extraction,
    compose,
    extract,
    profile_question,
    sentence_candidates,
)
from ragops.domain.models import (
    Answer,
    Answerability,
    AnswerMode,
    CacheInfo,
    Citation,
    Fallback,
    Generation,
    Groundedness,
    GuardrailReport,
    PromptInfo,
    SearchHit,
    SearchMode,
    SentenceGrounding,
    Usage,
)
from ragops.domain.prompts import (
    NOT_FOUND_ANSWER,
    PROMPT_VERSION,
    SNIPPET_CHARS,
    PromptTemplate,
    attach_markers,
    cite_answer,
    render_messages,
    snippet,
)
from ragops.domain.routing import EXTRACTIVE_MODEL, ModelTier, QueryRouter, RouteDecision
from ragops.domain.tenants import validate_tenant
from ragops.errors import InvalidInput, ModelUnavailable, RequestBlocked
from ragops.ports import (
    ChatModel,
    Embedder,
    Guardrail,
    Reranker,
    StreamingChatModel,
    VectorTier,
)
from ragops.services.answer_cache import CachedAnswer, SemanticCache, cache_scope
from ragops.services.groundedness import check_groundedness

MAX_QUESTION_CHARS = 2000
NOT_ANSWERED = (
    "The documents do not seem to answer this. The closest passages are about something "
    "else, or leave out what was asked."
)
"""What a question gets when passages were found but none answers it."""


class SentenceEmbeddings:
    """A bounded cache of sentence embeddings, shared by every question a process
    answers: the same passages come back for related questions, and embedding their
    sentences again would cost time (and, on Bedrock, tokens)."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self._vectors: OrderedDict[tuple[str, str], list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, embedder: Embedder, texts: Sequence[str]) -> tuple[list[list[float]], int]:
        """One vector per text (lists of floats), and the tokens embedded for the misses."""
        model = embedder.model_id
        found: dict[str, list[float]] = {}
        with self._lock:
            for text in texts:
                vector = self._vectors.get((model, text))
                if vector is not None:
                    self._vectors.move_to_end((model, text))
                    found[text] = vector
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        tokens = 0
        if missing:
            rows = embedder.embed_array(missing)
            count = embedder.token_counter()
            tokens = sum(count(t) for t in missing)
            with self._lock:
                for text, row in zip(missing, rows, strict=True):
                    vector = row.tolist() if hasattr(row, "tolist") else list(row)
                    found[text] = vector
                    self._vectors[(model, text)] = vector
                while len(self._vectors) > self.max_entries:
                    self._vectors.popitem(last=False)
        return [found[t] for t in texts], tokens


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return float(sum(x * y for x, y in zip(a, b, strict=True)))


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
    answer_mode: str = AnswerMode.EXTRACTIVE
    """extractive, generative, or auto (the router's choice)."""
    answer_model: AnswerModel | None = None
    """The sentence scorer and answerability decision; None: the packaged one."""
    sentence_embeddings: SentenceEmbeddings | None = None
    """Shared across questions (the bootstrap keeps one per process); None: none kept."""
    reranker: Reranker | None = None
    rerank_candidates: int = 20
    clock: Callable[[], float] = time.perf_counter
    """Seconds from any origin, for ``latency_ms`` (tests give a fake one)."""

    def __post_init__(self) -> None:
        if self.answer_mode not in ("extractive", "generative", "auto"):
            raise ValueError(
                f"answer mode must be extractive, generative or auto, not {self.answer_mode!r}"
            )

    @cached_property
    def reader(self) -> AnswerModel:
        return self.answer_model or AnswerModel.packaged()

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


RELEVANCE_FLOOR_SHARE = 0.6
"""Once a passage reaches the relevance threshold, the others down to this share of it are
read too (measured on the SQuAD dev articles, article-out: reading those holding cosine
0.15 to 0.25 raised the answers holding a gold answer from 75.0% to 76.2% and the first
citation's being the gold paragraph from 86.0% to 86.9%; 0.4 and 0.8 did no better)."""


def relevant_passages(
    hits: list[SearchHit], min_relevance: float, mode: SearchMode
) -> list[SearchHit]:
    """Passages worth reading, in their fused order. In modes with vectors, none unless one
    passage's cosine similarity reaches ``min_relevance`` (the question is about the
    documents at all); then those whose cosine reaches ``RELEVANCE_FLOOR_SHARE`` of it (a
    passage that says the answer in other words than the question can sit below the
    threshold). BM25 alone has no calibrated scale, so every keyword match counts there."""
    if mode is SearchMode.BM25:
        return hits
    best = best_similarity(hits)
    if best is None or best < min_relevance:
        return []
    floor = RELEVANCE_FLOOR_SHARE * min_relevance
    return [h for h in hits if h.vector_score is not None and h.vector_score >= floor]


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
    """Everything decided before a chat model is called: the passages, their extractive
    reading, whether they answer the question, and the route. ``declined`` means the
    system says it found no answer (no relevant passage, or none that answers)."""

    question: str
    hits: list[SearchHit]
    route: RouteDecision | None
    guardrail: GuardrailReport | None
    embedding_tokens: int
    extraction: Extraction | None = None
    rerank_usd: float = 0.0

    @property
    def answerability(self) -> Answerability | None:
        if self.extraction is None:
            return None
        return Answerability(
            probability=self.extraction.answerable_probability,
            threshold=self.extraction.threshold,
            answerable=self.extraction.answerable,
        )

    @property
    def declined(self) -> bool:
        return not self.hits or self.extraction is None or not self.extraction.answerable


def prepare_question(
    ctx: AnswerContext,
    *,
    tenant: str,
    question: str,
    top_k: int | None = None,
    mode: SearchMode = SearchMode.HYBRID,
) -> PreparedQuestion:
    """Validate, check with the guardrail (``RequestBlocked`` if refused; personal data
    masked), retrieve, read the passages and decide whether they answer: the decision
    ``answer_question`` takes before any chat model runs, in every answer mode."""
    screened = screen_question(ctx, tenant=tenant, question=question, top_k=top_k)
    return _prepare(ctx, tenant, screened, mode, embedding=None)


def _prepare(
    ctx: AnswerContext,
    tenant: str,
    screened: ScreenedQuestion,
    mode: SearchMode,
    embedding: Any | None,
) -> PreparedQuestion:
    """Retrieve, rerank, read and route; ``embedding`` is the question's when already
    computed."""
    question, report = screened.question, screened.guardrail
    if embedding is None:
        embedding = ctx.embedder.embed_array([question])[0]
    embedding_tokens = ctx.embedder.token_counter()(question)
    # Twice the passages asked for, so that one document's many chunks cannot fill them
    # all (``_diverse``); with a reranker, its candidates.
    fetch = 2 * screened.top_k
    if ctx.reranker:
        fetch = max(fetch, ctx.rerank_candidates)
    hits = ctx.index.search(
        tenant, question, None if mode is SearchMode.BM25 else embedding, fetch, mode
    )
    if ctx.question_observer is not None and mode is not SearchMode.BM25:
        ctx.question_observer(embedding, best_similarity(hits))
    hits = relevant_passages(hits, ctx.min_relevance, mode)
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
    rerank_usd = 0.0
    if ctx.reranker is not None and hits:
        rerank_usd = ctx.reranker.cost_usd(len(hits))
        hits = ctx.reranker.rerank(question, hits, screened.top_k)
    hits = _diverse(hits, screened.top_k)
    if not hits:
        return PreparedQuestion(question, [], None, report, embedding_tokens, None, rerank_usd)
    extraction, sentence_tokens = _read(ctx, question, embedding, hits)
    route = _route(ctx, question, extraction.answerable)
    return PreparedQuestion(
        question, hits, route, report, embedding_tokens + sentence_tokens, extraction, rerank_usd
    )


MAX_PASSAGES_PER_DOCUMENT = 2


def _diverse(hits: list[SearchHit], top_k: int) -> list[SearchHit]:
    """The best ``top_k`` hits with at most ``MAX_PASSAGES_PER_DOCUMENT`` from any one
    document while others are left (then the rest, best first): the neighbouring chunks of
    one section say much the same, and another document may say what was asked."""
    taken: dict[str, int] = {}
    first, rest = [], []
    for hit in hits:
        seen = taken.get(hit.chunk.doc_id, 0)
        (first if seen < MAX_PASSAGES_PER_DOCUMENT else rest).append(hit)
        taken[hit.chunk.doc_id] = seen + 1
    return (first + rest)[:top_k]


def _read(
    ctx: AnswerContext, question: str, embedding: Any, hits: list[SearchHit]
) -> tuple[Extraction, int]:
    """The passages' sentences scored against the question, and the tokens embedded."""
    candidates = sentence_candidates([h.chunk.text for h in hits], [h.chunk.title for h in hits])
    tokens = 0
    cosines: list[float] = []
    if candidates:
        cache = ctx.sentence_embeddings or SentenceEmbeddings(max_entries=len(candidates))
        vectors, tokens = cache.embed(ctx.embedder, [c.text for c in candidates])
        asked = embedding.tolist() if hasattr(embedding, "tolist") else list(embedding)
        cosines = [_dot(asked, vector) for vector in vectors]
    extraction = extract(
        ctx.reader,
        profile_question(question),
        candidates,
        cosines,
        [h.score for h in hits],
        [h.vector_score for h in hits],
    )
    return extraction, tokens


def _route(ctx: AnswerContext, question: str, answerable: bool) -> RouteDecision | None:
    """The tier that answers: extractive in the extractive mode; the router's choice in
    auto (extractive when a sentence answers a factual question) and generative modes
    (lite or pro)."""
    mode = ctx.answer_mode
    if ctx.router is None:
        if mode == AnswerMode.GENERATIVE:
            return None
        if mode == "auto" and not answerable:
            return None
        return RouteDecision(ModelTier.EXTRACTIVE, EXTRACTIVE_MODEL, 0.0, 0.0, forced=True)
    if mode == AnswerMode.EXTRACTIVE:
        decision = ctx.router.route(question)
        return replace(decision, tier=ModelTier.EXTRACTIVE, model=EXTRACTIVE_MODEL, forced=True)
    return ctx.router.route(question, extractive=mode == "auto" and answerable)


def answer_question(
    ctx: AnswerContext,
    *,
    tenant: str,
    question: str,
    top_k: int | None = None,
    mode: SearchMode = SearchMode.HYBRID,
    user: str | None = None,
    context_key: str = "",
) -> Answer:
    """Retrieve the tenant's passages and answer from them, citing them as ``[n]``.

    Before any model runs, the passages' sentences are scored against the question and
    answerability decides whether the best one answers it; if not (or nothing relevant
    was found) the answer says so, in every mode. Then the extractive answer (the best
    one or two sentences, each cited) is served, or a chat model writes one (generative
    mode, or auto when the router sends the question to lite or pro); a generated answer
    whose sentences the passages do not support is replaced by the extractive one, and
    ``fallback`` says so.

    With a guardrail, a refused question raises ``RequestBlocked``; personal data in the
    question is masked before retrieval and generation, and in the answer before it is
    returned; passages carrying instructions to the model are not read. With a cache, an
    answer to the same question (exact, or a verified near duplicate) asked since the
    tenant's corpus last changed is served without retrieval or generation. A generated
    answer uses the experiment's prompt variant for ``tenant`` and ``user`` when one runs;
    every answer carries an ``answer_id`` for feedback. ``context_key`` is a follow-up's
    conversation context: its answer is cached and served within that context only.
    """
    *_, answer = _answer_events(
        ctx,
        tenant=tenant,
        question=question,
        top_k=top_k,
        mode=mode,
        user=user,
        stream=False,
        context_key=context_key,
    )
    assert isinstance(answer, Answer)
    return answer


def _named(answer: Answer, prompt: PromptInfo) -> Answer:
    """The answer with its id, and the prompt that wrote it (none wrote an extractive one
    or an abstention)."""
    wrote = answer.mode is AnswerMode.GENERATIVE or answer.fallback is not None
    return replace(answer, answer_id=new_answer_id(), prompt=prompt if wrote else None)


def _scope(
    ctx: AnswerContext, mode: SearchMode, top_k: int, template: PromptTemplate, context_key: str
) -> str:
    """The cache partition's retrieval and answering settings: another mode, ``top_k``,
    prompt or answer mode makes another answer, and so does a follow-up's conversation
    context (``domain.conversations.context_key``)."""
    variant = template.id if ctx.answer_mode != AnswerMode.EXTRACTIVE else ""
    scope = cache_scope(mode, top_k, f"{ctx.answer_mode}:{variant}")
    return f"{scope}|{context_key}" if context_key else scope


def _lookup(
    ctx: AnswerContext,
    tenant: str,
    screened: ScreenedQuestion,
    mode: SearchMode,
    template: PromptTemplate,
    started: float,
    context_key: str = "",
) -> tuple[Answer | None, str, Any]:
    """(cached answer or None, cache partition, question embedding if computed). The
    partition is "" without a cache or when it cannot be reached; the embedding is reused
    for retrieval and for caching the new answer."""
    cache = ctx.cache
    if cache is None:
        return None, "", None
    question = screened.question
    partition, hit = cache.lookup_exact(
        tenant, _scope(ctx, mode, screened.top_k, template, context_key), question
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
    """Mark a new answer as not from the cache, and cache it."""
    if ctx.cache is None:
        return answer
    answer = replace(answer, cache=CacheInfo())
    ctx.cache.remember(tenant, partition, question, embedding, answer)
    return answer


def _answer(
    ctx: AnswerContext, prepared: PreparedQuestion, started: float, template: PromptTemplate
) -> Answer:
    if prepared.declined:
        return _abstention(ctx, prepared, started)
    if _is_extractive(prepared):
        return _extractive(ctx, prepared, started)
    chat_model = _chat_model(ctx, prepared.route)
    generation = chat_model.generate(render_messages(prepared.question, prepared.hits, template))
    return _finish(ctx, prepared, generation, started)


def _is_extractive(prepared: PreparedQuestion) -> bool:
    return prepared.route is not None and prepared.route.tier is ModelTier.EXTRACTIVE


@dataclass(frozen=True)
class AnswerDelta:
    """Text of an answer being made: a sentence checked against the passages (with its
    citations) and masked as the final answer will be. The final ``Answer`` follows and
    is authoritative (it may replace what was shown: a generated answer that fails its
    groundedness check is replaced by the extractive one)."""

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
    context_key: str = "",
) -> Iterator[AnswerDelta | Answer]:
    """``answer_question``, yielding the answer's sentences as they are made, then the
    final ``Answer``. Errors before the first item (a refused question, a paused tier)
    raise from the first ``next()``. Generated sentences are shown only once complete and
    supported by a passage; with a guardrail service (not the local one) nothing is shown
    before the final answer, which that service checks."""
    return _answer_events(
        ctx,
        tenant=tenant,
        question=question,
        top_k=top_k,
        mode=mode,
        user=user,
        stream=True,
        context_key=context_key,
    )


def _answer_events(
    ctx: AnswerContext,
    *,
    tenant: str,
    question: str,
    top_k: int | None,
    mode: SearchMode,
    user: str | None,
    stream: bool,
    context_key: str = "",
) -> Iterator[AnswerDelta | Answer]:
    """The one answer pipeline: screen, pick the prompt, look up the cache, prepare
    (retrieve, read, decide), answer, remember, name. With ``stream`` the answer's
    sentences are yielded as they are made; without, only the final ``Answer``."""
    started = ctx.clock()
    screened = screen_question(ctx, tenant=tenant, question=question, top_k=top_k)
    template, prompt = ctx.prompt_for(tenant, user)
    answer, partition, embedding = _lookup(
        ctx, tenant, screened, mode, template, started, context_key
    )
    if answer is None:
        prepared = _prepare(ctx, tenant, screened, mode, embedding)
        if stream and not (prepared.declined or _is_extractive(prepared)):
            answer = yield from _generate_streaming(ctx, prepared, started, template)
        else:
            answer = _answer(ctx, prepared, started, template)
        answer = _remember(ctx, tenant, partition, screened.question, embedding, answer)
    if stream and answer.mode is AnswerMode.EXTRACTIVE and answer.fallback is None:
        local_checks = ctx.guardrail is None or ctx.guardrail.in_process
        if local_checks and answer.groundedness is not None:
            # Already checked and masked: shown at once, sentence by sentence.
            for sentence in answer.groundedness.sentences:
                yield AnswerDelta(_with_markers(sentence) + " ")
    yield _named(answer, prompt)


def _with_markers(sentence: SentenceGrounding) -> str:
    return attach_markers(sentence.text, sentence.citations)


def _generate_streaming(
    ctx: AnswerContext, prepared: PreparedQuestion, started: float, template: PromptTemplate
) -> Iterator[AnswerDelta]:
    chat_model = _chat_model(ctx, prepared.route)
    messages = render_messages(prepared.question, prepared.hits, template)
    stream = chat_model.stream if isinstance(chat_model, StreamingChatModel) else None
    local_checks = ctx.guardrail is None or ctx.guardrail.in_process
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
    found_nothing = not prepared.hits
    return Answer(
        answer=NOT_FOUND_ANSWER if found_nothing else NOT_ANSWERED,
        citations=[],
        model=EXTRACTIVE_MODEL,
        usage=Usage(),
        latency_ms=_elapsed_ms(ctx, started),
        abstained=True,
        guardrail=prepared.guardrail,
        cost=_cost(ctx, EXTRACTIVE_MODEL, Usage(), prepared.embedding_tokens, prepared),
        route=prepared.route,
        answerability=prepared.answerability,
    )


def _chat_model(ctx: AnswerContext, route: RouteDecision | None) -> ChatModel:
    if route is not None and route.tier is ModelTier.PRO and ctx.pro_chat_model_factory:
        return ctx.pro_chat_model_factory()
    return ctx.chat_model


def _extractive(
    ctx: AnswerContext,
    prepared: PreparedQuestion,
    started: float,
    *,
    generation: Generation | None = None,
) -> Answer:
    """The best one or two sentences of the passages as the answer, each with its
    citation. With ``generation`` (a generated answer that failed its groundedness
    check) the answer says so, and its cost includes the generation."""
    assert prepared.extraction is not None
    chosen = compose(ctx.reader, profile_question(prepared.question), prepared.extraction)
    numbers: dict[int, int] = {}
    for sentence in chosen:
        numbers.setdefault(sentence.passage, len(numbers) + 1)
    mask = ctx.guardrail is not None
    answer_text = " ".join(attach_markers(s.text, [numbers[s.passage]]) for s in chosen)
    report = prepared.guardrail
    if ctx.guardrail is not None:
        verdict = ctx.guardrail.check_output(answer_text)
        answer_text = verdict.text
        report = replace(report or GuardrailReport(), answer=verdict.findings)
    groundedness = Groundedness(
        grounded=True,
        sentences=[
            SentenceGrounding(
                text=_masked_text(s.text) if mask else s.text,
                citations=[numbers[s.passage]],
                word_support=1.0,
                similarity=None,
                supported=True,
            )
            for s in chosen
        ],
    )
    focus = {numbers[s.passage]: s.text for s in reversed(chosen)}
    citations = [
        _citation(n, prepared.hits[p], mask=mask, focus=focus[n]) for p, n in numbers.items()
    ]
    usage = generation.usage if generation is not None else Usage()
    model = generation.model if generation is not None else EXTRACTIVE_MODEL
    return Answer(
        answer=answer_text,
        citations=citations,
        model=model,
        usage=usage,
        latency_ms=_elapsed_ms(ctx, started),
        abstained=False,
        guardrail=report,
        cost=_cost(ctx, model, usage, prepared.embedding_tokens, prepared),
        route=prepared.route,
        groundedness=groundedness,
        mode=AnswerMode.EXTRACTIVE,
        fallback=Fallback.UNGROUNDED_GENERATION if generation is not None else None,
        answerability=prepared.answerability,
    )


def _finish(
    ctx: AnswerContext, prepared: PreparedQuestion, generation: Generation, started: float
) -> Answer:
    """The answer from what the model wrote: supported sentences with their citations,
    groundedness, the output guardrail, cost. When no sentence is supported, or a kept
    one is flagged by the embedding check, the extractive answer is served instead."""
    hits, route = prepared.hits, prepared.route
    report, embedding_tokens = prepared.guardrail, prepared.embedding_tokens
    passages = [h.chunk.text for h in hits]
    cited = cite_answer(generation.text, passages)
    if not cited.grounded:
        return _extractive(ctx, prepared, started, generation=generation)
    min_similarity = ctx.groundedness_min_similarity
    groundedness, grounding_tokens = check_groundedness(
        ctx.embedder if min_similarity is not None else None,
        cited,
        passages,
        min_similarity if min_similarity is not None else 0.0,
    )
    if any(not s.supported for s in groundedness.sentences):
        prepared = replace(prepared, embedding_tokens=embedding_tokens + grounding_tokens)
        return _extractive(ctx, prepared, started, generation=generation)
    answer_text = cited.text
    if ctx.guardrail is not None:
        verdict = ctx.guardrail.check_output(answer_text)
        answer_text = verdict.text
        report = replace(report or GuardrailReport(), answer=verdict.findings)
        groundedness = _masked(groundedness)
    return Answer(
        answer=answer_text,
        citations=[_citation(n, hits[n - 1], mask=ctx.guardrail is not None) for n in cited.cited],
        model=generation.model or ctx.model_id,
        usage=generation.usage,
        latency_ms=_elapsed_ms(ctx, started),
        abstained=False,
        unsupported_sentences=cited.dropped,
        guardrail=report,
        cost=_cost(
            ctx,
            generation.model or ctx.model_id,
            generation.usage,
            embedding_tokens + grounding_tokens,
            prepared,
        ),
        route=route,
        groundedness=groundedness,
        mode=AnswerMode.GENERATIVE,
        answerability=prepared.answerability,
    )


def _masked_text(text: str) -> str:
    from ragops.domain.pii import mask_pii

    return mask_pii(text)[0]


def _masked(groundedness: Groundedness) -> Groundedness:
    """The sentences quoted in the groundedness report, with personal data masked as the
    answer is (by the local detector, as citation snippets are)."""
    return replace(
        groundedness,
        sentences=[replace(s, text=_masked_text(s.text)) for s in groundedness.sentences],
        removed=[_masked_text(text) for text in groundedness.removed],
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
        latency_ms=_elapsed_ms(ctx, started),
        abstained=False,
        unsupported_sentences=hit.unsupported_sentences,
        groundedness=hit.groundedness,
        guardrail=screened.guardrail,
        cost=_cost(ctx, hit.model, Usage(), embedding_tokens),
        route=None,
        cache=hit.info,
        mode=hit.mode,
        fallback=hit.fallback,
    )


def _citation(
    number: int, hit: SearchHit, *, mask: bool = False, focus: str | None = None
) -> Citation:
    """The citation of ``hit``; its snippet is the passage's start, or the stretch around
    ``focus`` (the sentence an extractive answer took from it). With ``mask``, personal
    data in the snippet is masked as in the answer (by the local detector: a guardrail
    service call per snippet would cost a round trip each)."""
    chunk = hit.chunk
    text = snippet_around(chunk.text, focus) if focus else snippet(chunk.text)
    if mask:
        text = _masked_text(text)
    return Citation(
        number=number,
        doc_id=chunk.doc_id,
        chunk_id=chunk.chunk_id,
        title=chunk.title,
        source=chunk.source,
        page=chunk.page,
        snippet=text,
        score=round(hit.score, 6),
        section=chunk.section,
        start=chunk.start,
        end=chunk.end,
    )


def snippet_around(text: str, focus: str) -> str:
    """A snippet of ``text`` that shows ``focus`` (a sentence taken from it) whole where
    it fits, with the text before it as context."""
    flat = " ".join(text.split())
    at = flat.find(" ".join(focus.split())[:40])
    if at <= 0:
        return snippet(flat)
    start = max(0, at - max(0, SNIPPET_CHARS - len(focus)) // 2)
    if start > 0:
        space = flat.find(" ", start)
        start = space + 1 if 0 <= space < at else at
    shown = snippet(flat[start:])
    return f"…{shown}" if start > 0 else shown


def _cost(
    ctx: AnswerContext,
    model: str,
    usage: Usage,
    embedding_tokens: int,
    prepared: PreparedQuestion | None = None,
):
    return query_cost(
        chat_model=model,
        usage=usage,
        embedding_model=ctx.embedder.model_id,
        embedding_tokens=embedding_tokens,
        prices=ctx.prices,
        rerank_usd=prepared.rerank_usd if prepared is not None else 0.0,
    )


def _elapsed_ms(ctx: AnswerContext, started: float) -> float:
    return round((ctx.clock() - started) * 1000.0, 2)
