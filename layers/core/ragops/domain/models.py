"""Domain data types shared by the services and adapters."""

from __future__ import annotations

import hashlib
from dataclasses import MISSING, Field, asdict, dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ragops.domain.routing import RouteDecision


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def document_id_for(source: str) -> str:
    """Stable document id for a source name: the same file name maps to the same document.

    Re-uploading a file with the same name replaces that document's content.
    """
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _required(f: Field[Any]) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


class SearchMode(StrEnum):
    HYBRID = "hybrid"
    VECTOR = "vector"
    BM25 = "bm25"


class DocumentStatus(StrEnum):
    PENDING = "pending"
    INDEXED = "indexed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Section:
    """A run of extracted text with its page number (1-based) where the format has pages,
    and its section path where the format has headings: the heading chain above the text,
    joined by ``" > "`` (``"Operations > Maintenance mode"``; see ``domain/parsing.py``)."""

    text: str
    page: int | None = None
    section: str | None = None


@dataclass(frozen=True, slots=True)
class RecognizedPage:
    """One page's text as OCR read it, and its mean word confidence (0-100)."""

    page: int
    text: str
    confidence: float


@dataclass(frozen=True, slots=True)
class RecognizedText:
    """What OCR read from a file: its pages, and the engine that read them."""

    engine: str
    pages: list[RecognizedPage]

    @property
    def confidence(self) -> float:
        """The mean word confidence over the pages with text, weighted by their length."""
        weighted = [(p.confidence, len(p.text)) for p in self.pages if p.text.strip()]
        total = sum(n for _, n in weighted)
        return round(sum(c * n for c, n in weighted) / total, 1) if total else 0.0


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """What a parser extracted from a file: its own title (if any) and its text by section."""

    title: str | None
    sections: list[Section]
    content_type: str

    @property
    def text_length(self) -> int:
        return sum(len(s.text) for s in self.sections)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage of a document as indexed and cited.

    ``start``/``end`` are character offsets into the document's extracted text (the sections
    joined by ``SECTION_SEPARATOR``); ``page`` is 1-based where the format has pages;
    ``section`` is the heading path of the section the chunk lies in (a chunk never crosses
    a section), None where the format has no headings. It is the last field, with a
    default, so chunks written before it existed (artifacts, the tier's wire) still load.
    """

    chunk_id: str
    doc_id: str
    tenant: str
    ordinal: int
    text: str
    title: str
    source: str
    page: int | None
    start: int
    end: int
    section: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chunk:
        """A chunk from ``to_dict``'s form; fields with a default may be missing (older
        data), unknown keys are ignored (newer data)."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data or _required(f)})

    def indexed_text(self) -> str:
        """The text both retrievers see: the title gives a passage its subject (measured:
        it lifts SciFact nDCG@10 for both BM25 and the embedder, see docs/evaluation.md),
        and the section path its place in the document. Missing parts are skipped."""
        return "\n".join(part for part in (self.title, self.section, self.text) if part)


@dataclass(slots=True)
class DocumentRecord:
    """The manifest of one ingested document, kept in the object store."""

    doc_id: str
    tenant: str
    title: str
    source: str
    content_type: str
    content_hash: str
    size_bytes: int
    chunk_count: int
    pages: int | None
    embedding_model: str
    status: DocumentStatus = DocumentStatus.INDEXED
    created_at: str = field(default_factory=utc_now)
    updated_at: str = field(default_factory=utc_now)
    status_reason: str | None = None
    """Why a document is pending or failed, in words."""
    language: str | None = None
    """ISO 639-1 code of the extracted text, when it could be told."""
    quality: list[dict[str, Any]] = field(default_factory=list)
    """Quality findings (``ragops.domain.quality.QualityFinding.to_dict``), from ingestion."""
    chunking_version: int | None = None
    """``ragops.domain.chunking.CHUNKING_VERSION`` of the indexed chunks (None: chunked
    before versions were recorded, or not indexed); an older one is chunked again."""

    @property
    def version(self) -> str:
        return self.content_hash[:16]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = str(self.status)
        data["version"] = self.version
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocumentRecord:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["status"] = DocumentStatus(fields.get("status", DocumentStatus.INDEXED))
        return cls(**fields)


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A chunk returned by retrieval with its fused score and the per-retriever evidence.

    ``vector_score`` is the cosine similarity (None if the chunk was not in the vector
    candidates); ``bm25_score`` the raw BM25 score (None likewise).
    """

    chunk: Chunk
    score: float
    vector_score: float | None = None
    bm25_score: float | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One turn of a conversation with a chat model."""

    role: str  # "system", "user" or "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class Generation:
    """What a chat model answered, with the tokens it read and wrote."""

    text: str
    usage: Usage
    model: str


@dataclass(frozen=True, slots=True)
class Citation:
    """A passage the answer cites as ``[number]``."""

    number: int
    doc_id: str
    chunk_id: str
    title: str
    source: str
    page: int | None
    snippet: str
    score: float
    section: str | None = None
    """The heading path of the passage in its document (``Operations > Maintenance mode``)."""
    start: int | None = None
    """Where the passage lies in the document's extracted text (``GET
    /v1/documents/{id}/text``): characters ``start`` to ``end``."""
    end: int | None = None


@dataclass(frozen=True, slots=True)
class QueryCost:
    """Tokens and US dollars of one query (``ragops.domain.costs`` computes it)."""

    embedding_tokens: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    embedding_usd: float = 0.0
    generation_usd: float = 0.0
    total_usd: float = 0.0
    rerank_usd: float = 0.0
    rewrite_usd: float = 0.0
    """What making a follow-up standalone cost (a model's tokens; the rules are free)."""


@dataclass(frozen=True, slots=True)
class GuardrailReport:
    """What the guardrail did to one answer."""

    question: list[str] = field(default_factory=list)
    """Kinds of personal data masked in the question before retrieval and generation."""
    answer: list[str] = field(default_factory=list)
    """Kinds of personal data masked in the answer."""
    passages_removed: int = 0
    """Retrieved passages kept out of the prompt because they carried instructions."""


@dataclass(frozen=True, slots=True)
class CacheInfo:
    """How the answer cache served a question: ``hit`` is ``exact``, ``semantic`` or None
    (generated now); ``similarity`` the cosine to the cached question; ``verifier_score``
    the duplicate verifier's score of a semantic hit."""

    hit: str | None = None
    similarity: float | None = None
    verifier_score: float | None = None
    matched_question: str | None = None


@dataclass(frozen=True, slots=True)
class SentenceGrounding:
    """One sentence of an answer checked against the passages it cites: the share of its
    content words in them (``word_support``) and the cosine similarity of its embedding to
    theirs (``similarity``). ``supported`` is False for a flagged sentence."""

    text: str
    citations: list[int]
    word_support: float
    similarity: float | None
    supported: bool


@dataclass(frozen=True, slots=True)
class Groundedness:
    """Whether every sentence of the answer is supported by the passages it cites.

    ``sentences`` are the sentences in the answer (flagged ones stay, marked unsupported);
    ``removed`` are generated sentences left out because no passage supports them."""

    grounded: bool
    sentences: list[SentenceGrounding] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    min_similarity: float | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Groundedness:
        return cls(
            grounded=bool(data["grounded"]),
            sentences=[SentenceGrounding(**s) for s in data.get("sentences", [])],
            removed=list(data.get("removed", [])),
            min_similarity=data.get("min_similarity"),
        )


@dataclass(frozen=True, slots=True)
class PromptInfo:
    """The prompt template that answered, and the experiment that chose it (if any)."""

    version: str
    experiment: str | None = None


@dataclass(frozen=True, slots=True)
class Answerability:
    """Whether the retrieved passages answer the question, decided before any model runs:
    the probability that the best sentence answers it, against the threshold."""

    probability: float
    threshold: float
    answerable: bool


class AnswerMode(StrEnum):
    EXTRACTIVE = "extractive"
    """The answer is the passages' own sentences: no model wrote it."""
    GENERATIVE = "generative"
    """A chat model wrote the answer from the passages."""


class Fallback(StrEnum):
    UNGROUNDED_GENERATION = "ungrounded_generation"
    """The generated answer failed its groundedness check; the extractive one is served."""


@dataclass(frozen=True, slots=True)
class Answer:
    answer: str
    citations: list[Citation]
    model: str
    usage: Usage
    latency_ms: float
    abstained: bool = False
    unsupported_sentences: int = 0
    """Generated sentences dropped because no passage supports them."""
    guardrail: GuardrailReport | None = None
    cost: QueryCost | None = None
    route: RouteDecision | None = None
    cache: CacheInfo | None = None
    answer_id: str | None = None
    """Names this answer for feedback (``POST /v1/feedback``)."""
    prompt: PromptInfo | None = None
    groundedness: Groundedness | None = None
    mode: AnswerMode | None = None
    """How the answer was made; None for an abstention."""
    fallback: Fallback | None = None
    """Set when the answer is not what was asked of the mode, and why."""
    answerability: Answerability | None = None
    conversation_id: str | None = None
    """The conversation this answer is a turn of (``POST /v1/query`` starts one)."""
    standalone_question: str | None = None
    """What was searched and answered, when a follow-up was rewritten to stand alone."""
