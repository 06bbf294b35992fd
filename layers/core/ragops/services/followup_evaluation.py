"""Follow-up questions, measured: a set built from SQuAD paragraphs, asked through the
conversation code the API runs (``ragops eval followups``).

The set: pairs of answerable questions on one paragraph, the second rewritten to lean on
the first. The phrase both questions share (the longest run of words holding a word of
content, "the Normans", "Normandy") is replaced in the second by a pronoun ("they",
"it", "their"): "When were the Normans in Normandy?" after "In what country is Normandy
located?" becomes "When were the Normans in it?". Pairs sharing no such phrase, or whose
second question would be left with no word of content, are not made.

Each case is asked three times, every time through ``ask_in_conversation``: the
follow-up after the first question in one conversation; the same follow-up alone (a new
conversation, the baseline); the original second question alone (the ceiling). The
figure that counts: the follow-up's first citation is the gold paragraph.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

from ragops.domain.conversations import join_tokens, question_tokens, word_set
from ragops.domain.metrics import percentile
from ragops.errors import InvalidInput, RequestBlocked
from ragops.ports import ObjectStore, QuestionRewriter
from ragops.repositories.conversations import ConversationRepository
from ragops.services.abstention import SquadQuestion
from ragops.services.answer_evaluation import contains_gold, index_paragraphs, paragraph_source
from ragops.services.conversations import ConversationContext, ask_in_conversation
from ragops.services.ingestion import IngestContext
from ragops.services.queries import QueryContext

Progress = Callable[[str, int, int], None]

FORMAT = "ragops-followups/1"
PAIRS_PER_PARAGRAPH = 2

_FUNCTION = word_set(
    "a an the and or but of in on at to for from by with about into as is are was were "
    "be been do does did has have had can could will would what which who whom whose "
    "when where why how many much that this these those there it its they them their "
    "he him his she her not no than then so if also other"
)
_PREPOSITIONS = word_set(
    "of in on at to for from by with about into over under against after before during "
    "between among through without within upon toward towards"
)


@dataclass(frozen=True)
class FollowUpCase:
    """A follow-up and what it leans on. ``answers`` are the gold answers of
    ``original`` (and so of ``follow_up``); ``paragraph`` indexes the file's paragraphs."""

    first: str
    follow_up: str
    original: str
    replaced: str
    answers: tuple[str, ...]
    paragraph: int
    article: str


def _content(token: str) -> bool:
    return bool(re.match(r"[A-Za-z0-9]", token)) and token.lower() not in _FUNCTION


def _shared_span(first: list[str], second: list[str]) -> tuple[int, int] | None:
    """The longest whole phrase of ``second`` (``_whole_phrase``) that ``first`` holds
    too, word for word; the earliest of equal length."""
    best: tuple[int, int] | None = None
    for i in range(1, len(second)):
        if not _content(second[i]) or not _nominal(second, i):
            continue
        for j in range(len(second), i, -1):
            if not _whole_phrase(second, i, j):
                continue
            run = second[i:j]
            if any(first[k : k + len(run)] == run for k in range(len(first) - len(run) + 1)):
                if best is None or j - i > best[1] - best[0]:
                    best = (i, j)
                break
    return best


_INSIDE = frozenset(["of", "the", "and", "&", "de", "du", "von", "van"])


def _whole_phrase(tokens: list[str], i: int, j: int) -> bool:
    """Whether ``tokens[i:j]`` is a whole noun phrase: words of content (and "of", "the"
    inside), ending on one, and not cut short: a lower-case word with another word of
    content after it is a modifier ("Islamic" of "Islamic extremists"), a name with a
    capitalised word after it is part of a longer name."""
    last = tokens[j - 1]
    if not _content(last) or any(not _content(t) and t.lower() not in _INSIDE for t in tokens[i:j]):
        return False
    if j == len(tokens):
        return True
    after = tokens[j]
    return not (after[:1].isupper() if last[:1].isupper() else _content(after))


def _nominal(tokens: list[str], i: int) -> bool:
    """Whether a run starting at ``tokens[i]`` names a thing: a capitalised word (a name),
    or a word after a determiner ("the boiling point"). A verb both questions use is no
    subject to replace."""
    if _content(tokens[i - 1]):  # "the new Parliament building": part of a longer phrase
        return False
    return tokens[i][:1].isupper() or tokens[i - 1].lower() in {"the", "a", "an"}


def _pronoun(phrase: list[str], before: str, possessive: bool) -> str:
    head = phrase[-1]
    plural = head.lower().endswith("s") and not head.lower().endswith(("ss", "us", "is"))
    if possessive:
        return "their" if plural else "its"
    if before.lower() in _PREPOSITIONS or (before and _content(before)):
        return "them" if plural else "it"
    return "they" if plural else "it"


def lean_on(first: str, second: str) -> tuple[str, str] | None:
    """``second`` rewritten to lean on ``first`` and the phrase the pronoun replaced, or
    ``None`` when they share no phrase of content or nothing would be left to ask."""
    a, b = question_tokens(first), question_tokens(second)
    span = _shared_span(a, b)
    if span is None:
        return None
    start, end = span
    if start > 0 and b[start - 1].lower() in {"the", "a", "an"}:
        start -= 1
    possessive = end < len(b) and b[end] in ("'s", "\u2019s")
    phrase = b[start:end]
    before = b[start - 1] if start > 0 else ""
    pronoun = _pronoun(phrase, before, possessive)
    rest = [*b[:start], pronoun, *b[end + (1 if possessive else 0) :]]
    if not any(_content(t) for t in rest if t.lower() not in {pronoun}):
        return None
    text = join_tokens(rest)
    return text[:1].upper() + text[1:], join_tokens(phrase)


def build_followups(
    questions: Sequence[SquadQuestion], per_paragraph: int = PAIRS_PER_PARAGRAPH
) -> list[FollowUpCase]:
    """Up to ``per_paragraph`` cases per paragraph from its answerable questions in file
    order (each question is a follow-up at most once, after the one before it)."""
    by_paragraph: dict[int, list[SquadQuestion]] = {}
    for q in questions:
        if q.answerable:
            by_paragraph.setdefault(q.paragraph, []).append(q)
    cases = []
    for paragraph, asked in sorted(by_paragraph.items()):
        made = 0
        for first, second in pairwise(asked):
            if made == per_paragraph:
                break
            leaned = lean_on(first.question, second.question)
            if leaned is None:
                continue
            follow_up, replaced = leaned
            cases.append(
                FollowUpCase(
                    first.question,
                    follow_up,
                    second.question,
                    replaced,
                    second.answers,
                    paragraph,
                    second.article,
                )
            )
            made += 1
    return cases


def save_followups(cases: Sequence[FollowUpCase], squad: Path, path: Path) -> None:
    data = {"format": FORMAT, "squad": Path(squad).name, "cases": [asdict(c) for c in cases]}
    Path(path).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", "utf-8")


def load_followups(path: Path) -> list[FollowUpCase]:
    """The cases of a file ``save_followups`` wrote; ``InvalidInput`` for anything else."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} file")
        return [FollowUpCase(**{**c, "answers": tuple(c["answers"])}) for c in data["cases"]]
    except FileNotFoundError as exc:
        raise InvalidInput(f"{path}: no such file") from exc
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"{path}: not a follow-up set ({exc})") from exc


@dataclass
class _Tally:
    cases: int = 0
    cites_gold: int = 0
    holds_gold: int = 0
    declined: int = 0
    latencies: list[float] = field(default_factory=list)

    def add(self, answer: Any, case: FollowUpCase) -> None:
        self.cases += 1
        self.latencies.append(answer.latency_ms)
        if answer.abstained:
            self.declined += 1
            return
        gold = paragraph_source(case.paragraph)
        self.cites_gold += bool(answer.citations) and answer.citations[0].source == gold
        self.holds_gold += contains_gold(answer.answer, case.answers)

    def report(self) -> dict[str, Any]:
        share = (lambda n: round(n / self.cases, 4)) if self.cases else (lambda n: 0.0)
        return {
            "first_citation_gold": share(self.cites_gold),
            "answer_contains_gold": share(self.holds_gold),
            "declined": share(self.declined),
            "latency_ms_p50": round(percentile(self.latencies, 0.5), 1),
        }


@dataclass(frozen=True)
class FollowUpReport:
    cases: int
    rewriter: str
    in_conversation: dict[str, Any]
    alone: dict[str, Any]
    original: dict[str, Any]
    restored: float
    """Share of follow-ups made standalone into exactly the original question."""
    tenant: str
    examples: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "rewriter": self.rewriter,
            "first_citation_gold": self.in_conversation["first_citation_gold"],
            "first_citation_gold_alone": self.alone["first_citation_gold"],
            "first_citation_gold_original": self.original["first_citation_gold"],
            "restored": self.restored,
            "in_conversation": self.in_conversation,
            "alone": self.alone,
            "original": self.original,
            "tenant": self.tenant,
            "examples": self.examples,
        }


def evaluate_followups(
    ingest: IngestContext,
    query: QueryContext,
    rewriter: QuestionRewriter,
    scratch: ObjectStore,
    squad: Path,
    cases: Sequence[FollowUpCase] | None = None,
    *,
    limit: int | None = None,
    progress: Progress | None = None,
    examples: int = 8,
    write_set: Path | None = None,
) -> FollowUpReport:
    """Index ``squad``'s paragraphs and ask every case (the set built from ``squad`` when
    ``cases`` is None; written to ``write_set`` when given). Conversations and answer
    records go to ``scratch``; the cache and the drift monitor are off, so every answer
    is made anew."""
    tenant, questions = index_paragraphs(ingest, squad)
    cases = list(cases) if cases is not None else build_followups(questions)
    if limit is not None:
        cases = cases[:limit]
    if not cases:
        raise InvalidInput(f"{squad}: no follow-up could be built from its questions")
    if write_set is not None:
        save_followups(cases, squad, write_set)
    answering = replace(query.answering, cache=None, question_observer=None)
    ctx = ConversationContext(
        query=replace(query, answering=answering, store=scratch),
        conversations=ConversationRepository(scratch),
        rewriter=rewriter,
    )
    followed, alone, original = _Tally(), _Tally(), _Tally()
    restored = 0
    shown: list[dict[str, Any]] = []
    for done, case in enumerate(cases, start=1):
        try:
            first = ask_in_conversation(ctx, tenant=tenant, user=None, question=case.first)
            answer = ask_in_conversation(
                ctx,
                tenant=tenant,
                user=None,
                question=case.follow_up,
                conversation_id=first.conversation_id,
            )
            bare = ask_in_conversation(ctx, tenant=tenant, user=None, question=case.follow_up)
            ceiling = ask_in_conversation(ctx, tenant=tenant, user=None, question=case.original)
        except RequestBlocked:
            continue
        followed.add(answer, case)
        alone.add(bare, case)
        original.add(ceiling, case)
        standalone = answer.standalone_question or case.follow_up
        restored += standalone.casefold() == case.original.casefold()
        if len(shown) < examples:
            shown.append(
                {
                    "first": case.first,
                    "follow_up": case.follow_up,
                    "standalone": standalone,
                    "original": case.original,
                    "answer": answer.answer,
                }
            )
        if progress and (done % 25 == 0 or done == len(cases)):
            progress("asking", done, len(cases))
    return FollowUpReport(
        cases=followed.cases,
        rewriter=rewriter.model_id,
        in_conversation=followed.report(),
        alone=alone.report(),
        original=original.report(),
        restored=round(restored / followed.cases, 4) if followed.cases else 0.0,
        tenant=tenant,
        examples=shown,
    )
