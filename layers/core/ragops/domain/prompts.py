"""Prompt rendering with numbered passages, and the citations of an answer.

The model is asked to cite passages as ``[n]``. Small models often forget, so
``cite_answer`` also attributes uncited sentences to the passage that contains most of
their words, and reports an answer none of whose sentences is supported as ungrounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from ragops.domain.models import SearchHit

PROMPT_VERSION = "answer-v1"

SYSTEM_PROMPT = (
    "You answer questions about the user's documents using only the numbered passages "
    "given to you. After each sentence, cite the passages it comes from by number in square "
    "brackets, like [1] or [2][3]. If the passages do not contain the answer, say that the "
    "documents do not contain it. Be concise."
)

NOT_FOUND_ANSWER = "I could not find anything about this in the documents."

SNIPPET_CHARS = 320

_MARKER = re.compile(r"\[(\d{1,3})\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "with",
        "how",
        "do",
        "does",
        "did",
        "can",
        "not",
        "no",
    ]
)
# Share of an uncited sentence's content words that must occur in a passage to credit it.
SUPPORT_THRESHOLD = 0.6


def render_messages(question: str, hits: list[SearchHit]) -> list[BaseMessage]:
    passages = "\n\n".join(
        f"[{number}] (from {hit.chunk.title}) {hit.chunk.text.strip()}"
        for number, hit in enumerate(hits, start=1)
    )
    return [
        SystemMessage(SYSTEM_PROMPT),
        HumanMessage(f"Passages:\n{passages}\n\nQuestion: {question.strip()}\nAnswer:"),
    ]


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit] + "…"


def _content_words(text: str) -> set[str]:
    return {w for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOP and len(w) > 1}


@dataclass(frozen=True)
class CitedAnswer:
    text: str
    cited: list[int]  # passage numbers, 1-based, in order of first citation
    grounded: bool


def cite_answer(answer: str, passages: list[str]) -> CitedAnswer:
    """Validate the model's ``[n]`` markers against ``passages`` and attribute uncited
    sentences by word overlap.

    Markers pointing past the passages are removed. A sentence without a marker gets one
    when at least ``SUPPORT_THRESHOLD`` of its content words occur in one passage. The
    answer is grounded when at least one sentence carries a valid citation.
    """
    count = len(passages)

    def keep_valid(match: re.Match[str]) -> str:
        return match.group(0) if 1 <= int(match.group(1)) <= count else ""

    text = _MARKER.sub(keep_valid, answer.strip())
    passage_words = [_content_words(p) for p in passages]
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    out: list[str] = []
    for sentence in sentences:
        if not _MARKER.search(sentence):
            words = _content_words(sentence)
            if words and passage_words:
                overlaps = [len(words & pw) / len(words) for pw in passage_words]
                best = max(range(count), key=overlaps.__getitem__)
                if overlaps[best] >= SUPPORT_THRESHOLD:
                    sentence = _attach_marker(sentence, best + 1)
        out.append(sentence)
    text = " ".join(out)
    cited: list[int] = []
    for match in _MARKER.finditer(text):
        number = int(match.group(1))
        if number not in cited:
            cited.append(number)
    return CitedAnswer(text=text, cited=cited, grounded=bool(cited))


def _attach_marker(sentence: str, number: int) -> str:
    stripped = sentence.rstrip()
    if stripped and stripped[-1] in ".!?":
        return f"{stripped[:-1]} [{number}]{stripped[-1]}"
    return f"{stripped} [{number}]"
