"""Prompt rendering with numbered passages, and the citations of an answer.

The model is asked to cite passages as ``[n]``. Small models forget, cite the wrong
passage, or invent: ``cite_answer`` checks every sentence against the passages, keeps the
supported ones with their citations, and drops the rest.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from ragops.domain.models import ChatMessage, SearchHit
from ragops.domain.stopwords import FUNCTION_WORDS

PROMPT_VERSION = "answer-v1"
"""The prompt template answers use when no experiment is configured."""

NOT_FOUND_ANSWER = "I could not find anything about this in the documents."

SNIPPET_CHARS = 320

_MARKER = re.compile(r"\[(\d{1,3})\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"\w+", re.UNICODE)
# negations: support is about content words.
_STOP = FUNCTION_WORDS | frozenset(["no", "not"])
# Share of a sentence's content words that must occur in a passage: to credit an uncited
# sentence to it, and to keep a citation the model wrote.
SUPPORT_THRESHOLD = 0.6
MARKER_SUPPORT = 0.4
# Sentences with fewer content words ("The answer is:") say nothing checkable.
MIN_CONTENT_WORDS = 2


@dataclass(frozen=True)
class PromptTemplate:
    """A versioned answer prompt: ``ragops/prompts/{id}.toml``. ``user`` has the fields
    ``{passages}`` and ``{question}``."""

    id: str
    description: str
    system: str
    user: str

    @classmethod
    def parse(cls, text: str, source: str) -> PromptTemplate:
        try:
            data = tomllib.loads(text)
            template = cls(
                id=str(data["id"]),
                description=str(data.get("description", "")),
                system=str(data["system"]),
                user=str(data["user"]),
            )
            template.user.format(passages="", question="")
        except (tomllib.TOMLDecodeError, KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"{source}: not a prompt template ({exc})") from exc
        if "{passages}" not in template.user or "{question}" not in template.user:
            raise ValueError(f"{source}: the user message needs {{passages}} and {{question}}")
        return template


@lru_cache(maxsize=1)
def packaged_prompts() -> dict[str, PromptTemplate]:
    """Every template shipped in ``ragops/prompts``, by id (read on first use)."""
    templates: dict[str, PromptTemplate] = {}
    for entry in resources.files("ragops.prompts").iterdir():
        if entry.name.endswith(".toml"):
            template = PromptTemplate.parse(entry.read_text("utf-8"), entry.name)
            if template.id != entry.name.removesuffix(".toml"):
                raise ValueError(f"{entry.name}: its id is {template.id!r}")
            templates[template.id] = template
    return templates


def unknown_templates(names: list[str]) -> list[str]:
    """The names among ``names`` that are no packaged template."""
    known = packaged_prompts()
    return [name for name in names if name not in known]


def render_messages(
    question: str, hits: list[SearchHit], template: PromptTemplate | None = None
) -> list[ChatMessage]:
    template = template or packaged_prompts()[PROMPT_VERSION]
    passages = "\n\n".join(
        f"[{number}] (from {hit.chunk.title}) {hit.chunk.text.strip()}"
        for number, hit in enumerate(hits, start=1)
    )
    return [
        ChatMessage("system", template.system),
        ChatMessage("user", template.user.format(passages=passages, question=question.strip())),
    ]


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit] + "…"


def extract_quote(question: str, passage: str, limit: int = 300) -> str:
    """The passage's sentences that share most words with the question, in reading order,
    up to ``limit`` characters: an extractive answer for when generation cannot be trusted."""
    sentences = [s for s in _SENTENCE_END.split(" ".join(passage.split())) if s.strip()]
    if not sentences:
        return ""
    asked = _content_words(question)
    overlap = [len(_content_words(sentence) & asked) for sentence in sentences]
    ranked = sorted(range(len(sentences)), key=lambda i: (overlap[i], -i), reverse=True)
    # Sentences sharing no word with the question only when none does.
    ranked = [i for i in ranked if overlap[i] > 0] or ranked[:1]
    chosen: list[int] = []
    used = 0
    for i in ranked:
        if chosen and used + len(sentences[i]) > limit:
            continue
        chosen.append(i)
        used += len(sentences[i]) + 1
    return snippet(" ".join(sentences[i] for i in sorted(chosen)), limit)


def _content_words(text: str) -> set[str]:
    return {w for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOP and len(w) > 1}


@dataclass(frozen=True)
class CitedSentence:
    """A kept sentence: ``body`` without markers, the passages it cites, and its word
    support (share of its content words found in the best cited passage)."""

    body: str
    cited: list[int]
    support: float


@dataclass(frozen=True)
class CitedAnswer:
    text: str
    cited: list[int]  # passage numbers, 1-based, in order of first citation
    sentences: list[CitedSentence]
    dropped_sentences: list[str]  # removed because no passage supports them

    @property
    def dropped(self) -> int:
        return len(self.dropped_sentences)

    @property
    def grounded(self) -> bool:
        return bool(self.cited)


def _support(words: set[str], passage_words: set[str]) -> float:
    return len(words & passage_words) / len(words) if words else 0.0


def cite_answer(answer: str, passages: list[str]) -> CitedAnswer:
    """Keep the sentences of ``answer`` that the passages support, each with its citation.

    A sentence's support by a passage is the share of its content words found in it. A
    ``[n]`` marker the model wrote stays only if passage ``n`` exists and gives at least
    ``MARKER_SUPPORT``; a sentence left without a marker is credited to the passage that
    gives it at least ``SUPPORT_THRESHOLD``, if any. Sentences with no citation after that
    are dropped (and counted): a small model's unsupported sentences are guesses, and a
    guess must not reach the user dressed as an answer.
    """
    passage_words = [_content_words(p) for p in passages]
    kept: list[str] = []
    details: list[CitedSentence] = []
    dropped: list[str] = []
    for sentence in _sentences(answer):
        words = _content_words(_MARKER.sub(" ", sentence))
        support = [_support(words, pw) for pw in passage_words]
        claimed = [int(m) for m in _MARKER.findall(sentence)]
        valid = [n for n in claimed if 1 <= n <= len(passages) and support[n - 1] >= MARKER_SUPPORT]
        body = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", " ".join(_MARKER.sub("", sentence).split()))
        if not valid and support:
            best = max(range(len(passages)), key=support.__getitem__)
            if support[best] >= SUPPORT_THRESHOLD:
                valid = [best + 1]
        if not valid or len(words) < MIN_CONTENT_WORDS:
            dropped.append(body)
            continue
        numbers = sorted(set(valid), key=valid.index)
        kept.append(attach_markers(body, numbers))
        details.append(CitedSentence(body, numbers, max(support[n - 1] for n in numbers)))
    cited: list[int] = []
    for sentence in kept:
        for number in _MARKER.findall(sentence):
            if int(number) not in cited:
                cited.append(int(number))
    return CitedAnswer(
        text=" ".join(kept), cited=cited, sentences=details, dropped_sentences=dropped
    )


_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([.!?,;:])")
_LINE_NOISE = re.compile(r"^\s*(?:#+|[-*>]|\d+[.)]|```\w*)\s*")


def _sentences(text: str) -> list[str]:
    """Sentences of a generated answer; lines are separate sentences and markdown list,
    heading and code-fence prefixes are removed."""
    out = []
    for line in text.splitlines():
        line = _LINE_NOISE.sub("", line).strip()
        out.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip())
    return out


def attach_markers(sentence: str, numbers: list[int]) -> str:
    """``sentence`` with ``[n]`` markers before its closing punctuation."""
    markers = "".join(f"[{n}]" for n in numbers)
    stripped = sentence.rstrip()
    if stripped and stripped[-1] in ".!?":
        return f"{stripped[:-1]} {markers}{stripped[-1]}"
    return f"{stripped} {markers}"
