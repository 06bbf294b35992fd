"""Conversations: a user's questions and answers in order, so that a follow-up question
("and when did they arrive?") is answered as the question it stands for.

A follow-up is made standalone before retrieval. In the cloud a small model rewrites it
(``adapters/bedrock_rewriter.py``); here, without a model writing text, the earlier
question's subject is carried into a question that names none (``carry_subject``): a
pronoun ("it", "they", "its") takes the subject's place, an ellipsis ("what about the
Danes?", "and when?") takes the earlier question's frame.

Pure code: the records' shapes and the rewriting rules. The repository keeps them
(``repositories/conversations.py``), the service runs a turn (``services/conversations.py``).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from ragops.domain.models import Usage

CONTEXT_TURNS = 3
"""How many earlier turns a follow-up is read against (the subject is the latest one's
that names one)."""
MAX_TURNS = 100
"""Turns kept in a conversation; older ones are dropped from its record."""
TITLE_CHARS = 80

CONVERSATION_ID = re.compile(r"c[0-9]{14}[0-9a-f]{12}")
"""A conversation id, whole: ``c``, its UTC start (``YYYYMMDDHHMMSS``), 12 hex digits."""


def new_conversation_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"c{now:%Y%m%d%H%M%S}{uuid.uuid4().hex[:12]}"


def is_conversation_id(value: object) -> bool:
    return isinstance(value, str) and CONVERSATION_ID.fullmatch(value) is not None


@dataclass(frozen=True)
class TurnCitation:
    """What a turn keeps of a citation: enough to show it and open the document."""

    number: int
    doc_id: str
    title: str
    source: str
    page: int | None = None
    section: str | None = None
    snippet: str = ""


@dataclass(frozen=True)
class Turn:
    """One question and its answer. ``standalone_question`` is what was searched and
    answered: the question itself, or the follow-up made standalone."""

    question: str
    standalone_question: str
    answer: str
    asked_at: str
    answer_id: str | None = None
    abstained: bool = False
    citations: list[TurnCitation] = field(default_factory=list)

    @property
    def rewritten(self) -> bool:
        return self.standalone_question != self.question


@dataclass(frozen=True)
class Conversation:
    """A user's thread within a tenant. ``user`` is ``None`` for callers that name no
    user (local development, a key without one): they share one list per tenant."""

    conversation_id: str
    tenant: str
    user: str | None
    created_at: str
    updated_at: str
    turns: list[Turn] = field(default_factory=list)

    @property
    def title(self) -> str:
        """The first question, shortened."""
        if not self.turns:
            return ""
        first = self.turns[0].question
        return first if len(first) <= TITLE_CHARS else first[: TITLE_CHARS - 1] + "\u2026"

    def with_turn(self, turn: Turn) -> Conversation:
        turns = [*self.turns, turn][-MAX_TURNS:]
        return Conversation(
            self.conversation_id, self.tenant, self.user, self.created_at, turn.asked_at, turns
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Conversation:
        """``ValueError`` for anything that is not a conversation record."""
        if not isinstance(data, dict) or not is_conversation_id(data.get("conversation_id")):
            raise ValueError("not a conversation record")
        turns = []
        for raw in data.get("turns") or []:
            citations = [TurnCitation(**c) for c in raw.get("citations") or []]
            turns.append(Turn(**{**raw, "citations": citations}))
        return cls(
            conversation_id=data["conversation_id"],
            tenant=str(data["tenant"]),
            user=None if data.get("user") is None else str(data["user"]),
            created_at=str(data["created_at"]),
            updated_at=str(data.get("updated_at") or data["created_at"]),
            turns=turns,
        )


def context_key(turns: Sequence[Turn]) -> str:
    """What the answer cache adds to a rewritten follow-up's partition: the earlier
    questions it was read against. Its cached answer is served again only in the same
    context, never to another conversation whose earlier questions differ (the same words
    may stand for another question there). A first question, or a follow-up that stands
    on its own words, has none."""
    recent = [t.standalone_question for t in turns[-CONTEXT_TURNS:]]
    if not recent:
        return ""
    digest = hashlib.sha256("\n".join(recent).encode()).hexdigest()[:16]
    return f"followup:{digest}"


# -- making a follow-up standalone, without a model -------------------------------------

_WORD = re.compile(r"['\u2019]s\b|[A-Za-z0-9][A-Za-z0-9&.-]*[A-Za-z0-9]|[A-Za-z0-9]|[^\sA-Za-z0-9]")


def word_set(text: str) -> frozenset[str]:
    """The words of ``text`` (split on whitespace), as a set: word lists written as text."""
    return frozenset(text.split())


_QUESTION_WORDS = word_set("what which who whom whose when where why how whats")
_SMALL = word_set(
    "a an the and or but of in on at to for from by with about into onto over under as is "
    "are was were be been being do does did has have had can could will would shall "
    "should may might must not no than then so if that this these those there here it its "
    "they them their he him his she her we us our you your i me my one ones some any each "
    "every other another such what which who whom whose when where why how many much also "
    "apart away together again back out up down off "
    "only just very more most less least first last s near like via per within without "
    "across around through throughout against toward towards upon among amongst beside "
    "beyond behind below above inside outside until till since during before after"
)
_SUBJECT_PRONOUNS = {"it", "they", "he", "she"}
_OBJECT_PRONOUNS = {"it", "them", "him"}
_POSSESSIVES = {"its", "their", "his"}
_DEMONSTRATIVES = {"this", "that", "these", "those"}
_AFTER_DEMONSTRATIVE = word_set(
    "is was are were do does did has have had mean means happen happened cost costs work "
    "works take takes begin began end ended"
)
_CONNECTORS = word_set("of the de du von van da del la le and &")
_ELLIPSIS = re.compile(
    r"^\s*(?:and|but|so|also)?\s*,?\s*(?:what|how)\s+about\s+(?P<subject>.+?)\s*[?.!]*\s*$",
    re.IGNORECASE,
)
_LEADING_AND = re.compile(r"^\s*(?:and|but|so|also)\b\s*,?\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Rewrite:
    """A question made standalone: ``question`` is what to search and answer;
    ``carried`` the earlier words it took (empty when the question stood alone)."""

    question: str
    carried: str = ""
    model: str = ""
    """The model that rewrote it (none for the rules)."""
    usage: Usage = field(default_factory=Usage)


def question_tokens(text: str) -> list[str]:
    """A question's words (a possessive "'s" apart) and punctuation marks, in order."""
    return _WORD.findall(text)


def join_tokens(tokens: Sequence[str]) -> str:
    """``question_tokens`` back into text: punctuation, a possessive and an apostrophe
    glued to the word before, an opening bracket and a currency sign to the word after."""
    text = ""
    for token in tokens:
        if (
            not text
            or re.fullmatch(r"[?.!,;:)\]'\u2019]|'s|\u2019s", token)
            or text.endswith(("(", "[", "$", "\u20ac", "\u00a3"))
        ):
            text += token
        else:
            text += " " + token
    return text


def _is_content(token: str) -> bool:
    low = token.lower()
    return bool(re.match(r"[A-Za-z0-9]", token)) and low not in _SMALL and len(low) > 1


def _capitalised(token: str) -> bool:
    return token[:1].isupper() or (token[:1].isdigit() and len(token) >= 3)


@dataclass(frozen=True)
class _Phrase:
    """A phrase of an earlier question that a pronoun may stand for."""

    text: str
    name: bool
    """A name (capitalised words), rather than a common noun after "the"."""
    plural: bool
    bare: bool = False
    """Words of content outside every name and noun phrase ("hybrid fusion" of "How is
    hybrid fusion done?"): taken only from a question without phrases."""


_SENTENCE_STARTERS = word_set(
    "though although there name give list according after before during since while "
    "besides aside along in on at by for from with under over between among despite"
)
_DETERMINERS = word_set("the a an this that these those")
_AUXILIARIES = word_set("did does do can could will would should shall may might must")
_BE = word_set("is are was were")
_SMALL_VERBS = _BE | word_set("be been have has had do does did")


def _plural(word: str) -> bool:
    low = word.lower()
    return low.endswith("s") and not low.endswith(("ss", "us", "is", "ics", "ops"))


def _name_start(tokens: Sequence[str], i: int) -> bool:
    token = tokens[i]
    if not token[:1].isupper() or not _is_content(token):
        return False
    sentence_start = i == 0 or tokens[i - 1] in {'"', "(", "\u201c"}
    starter = token.lower() in _QUESTION_WORDS | _SMALL | _SENTENCE_STARTERS
    return not (sentence_start and starter)


_COMMON_VERBS = word_set(
    "keep keeps get gets make makes take takes use uses work works go goes come comes give "
    "gives find finds tell tells show shows need needs mean means help helps start starts "
    "stop stops change changes handle handles store stores send sends read reads write "
    "writes answer answers ask asks pause pauses resume resumes cost costs happen happens "
    "support supports serve serves load loads return returns protect protects separate "
    "separates share shares affect affects run runs cause causes"
)
_IRREGULAR_PARTICIPLES = word_set(
    "done made used set put run kept held sent built found paid said told left lost meant "
    "chosen given taken seen known shown"
)


def _participle(word: str) -> bool:
    return word.islower() and (
        word.endswith(("ed", "en", "wn", "ught", "ilt", "ound")) or word in _IRREGULAR_PARTICIPLES
    )


def phrases_of(question: str) -> list[_Phrase]:
    """The phrases of ``question`` a later pronoun may stand for, in reading order: names
    (a run of capitalised words, "Duke of Normandy") and noun phrases after a determiner
    ("the church reform", "the Saint-Evroul monks"). A noun phrase ends after a plural
    noun or before a participle; right after "did" (or "can", "will"...) its last word
    is the verb ("When did the church reform begin?"), and after "was" or "were" a
    participle ending the question is ("When were the Wars of Religion fought?")."""
    tokens = question_tokens(question)
    lowered = [t.lower() for t in tokens]
    found: list[_Phrase] = []
    covered: set[int] = set()
    i = 0
    while i < len(tokens):
        determiner = lowered[i] in _DETERMINERS and i + 1 < len(tokens)
        if determiner and not (_is_content(tokens[i + 1]) or _name_start(tokens, i + 1)):
            determiner = False
        if not determiner and not _name_start(tokens, i):
            i += 1
            continue
        start = i
        j = i + 1 if determiner else i
        while j < len(tokens):
            token = tokens[j]
            previous = tokens[j - 1] if j > start else ""
            if token[:1].isupper() and _is_content(token):
                j += 1
            elif (
                lowered[j] in _CONNECTORS
                and j + 1 < len(tokens)
                and tokens[j + 1][:1].isupper()
                and (previous[:1].isupper() or (determiner and lowered[j] == "of"))
                and _is_content(tokens[j + 1])
            ):
                j += 2  # "Duke of Normandy", "the duchy of Normandy"
            elif (
                determiner
                and (_is_content(token) or re.fullmatch(r"[0-9][0-9.,]*", token))
                and not _participle(token)
                and not (j > start + 1 and _plural(previous))
            ):
                j += 1
            else:
                break
        before = lowered[start - 1] if start > 0 else ""
        after = lowered[j] if j < len(tokens) else "?"
        last = tokens[j - 1]
        if j - start > 2 and last.islower():
            asked_with = {t for t in lowered[:start] if t in _AUXILIARIES}
            if asked_with and after not in _SMALL_VERBS and (before in asked_with or after == "?"):
                j -= 1  # "did the new king react", "did the first trip ... occur?": the verb
            elif before in _BE and after in {"?", "."} and _participle(last):
                j -= 1
        words = tokens[start:j]
        if words and lowered[start] in _DETERMINERS:
            words = ["the", *words[1:]] if len(words) > 1 else []
        if any(_is_content(w) for w in words):
            capitalised = any(w[:1].isupper() for w in words if _is_content(w))
            found.append(_Phrase(join_tokens(words), capitalised, _plural(words[-1])))
            covered.update(range(start, j))
        i = max(j, i + 1)
    # Runs of the other words of content ("hybrid fusion" of "How is hybrid fusion done?";
    # "embedding model" of "Which embedding model is used?"), each a bare phrase.
    run: list[str] = []
    for k, token in enumerate([*tokens, "?"]):
        if (
            k < len(tokens)
            and k not in covered
            and _is_content(token)
            and lowered[k] not in _QUESTION_WORDS
            and not _participle(token)
            and not lowered[k].endswith("ly")
            and lowered[k] not in _COMMON_VERBS
        ):
            run.append(token)
            continue
        if run:
            found.append(_Phrase(join_tokens(run), False, _plural(run[-1]), bare=True))
            run = []
    return found


def subject_of(question: str, follow_up: str = "", *, last: bool = False) -> str:
    """The phrase of an earlier ``question`` a pronoun of ``follow_up`` stands for:
    among its phrases (``phrases_of``) not already in the follow-up, one that agrees
    with the pronoun in number ("they" a plural, "it" a singular; "he" or "she" a
    name), names before common nouns, the first of those. ``""`` when none is left."""
    asked = {_stem(t) for t in question_tokens(follow_up) if _is_content(t)}
    phrases = [
        p
        for p in phrases_of(question)
        if not {_stem(t) for t in question_tokens(p.text) if _is_content(t)} <= asked
    ]
    pronoun = next(
        (t.lower() for t in question_tokens(follow_up) if t.lower() in _PRONOUNS_BY_NUMBER), ""
    )
    wanted = _PRONOUNS_BY_NUMBER.get(pronoun)
    if wanted == "person":
        agreeing = [p for p in phrases if p.name and not p.plural]
    elif wanted is not None:
        agreeing = [p for p in phrases if p.plural == (wanted == "plural")]
    else:
        agreeing = []
    if any(not p.bare for p in phrases):  # a lone word only where the question has no phrase
        phrases = [p for p in phrases if not p.bare]
        agreeing = [p for p in agreeing if not p.bare]
    chosen = agreeing or phrases
    names = [p for p in chosen if p.name]
    if names:
        return names[0].text
    return (chosen[-1] if last else chosen[0]).text if chosen else ""


_PRONOUNS_BY_NUMBER = {
    "it": "singular",
    "its": "singular",
    "this": "singular",
    "that": "singular",
    "they": "plural",
    "them": "plural",
    "their": "plural",
    "these": "plural",
    "those": "plural",
    "he": "person",
    "him": "person",
    "his": "person",
    "she": "person",
    "her": "person",
}


def _stem(token: str) -> str:
    low = token.lower()
    return low[:-1] if _plural(low) else low


def _needs_context(tokens: Sequence[str]) -> bool:
    """Whether a question leans on an earlier one: it has a third-person pronoun, or no
    word of content at all ("and when?", "why?")."""
    lowered = [t.lower() for t in tokens]
    if any(t in _SUBJECT_PRONOUNS | _OBJECT_PRONOUNS | _POSSESSIVES | {"her"} for t in lowered):
        return True
    if any(_is_demonstrative(lowered, i) for i in range(len(lowered))):
        return True
    return not any(_is_content(t) and t.lower() not in _QUESTION_WORDS for t in tokens)


def _is_demonstrative(lowered: Sequence[str], i: int) -> bool:
    """ "this" or "that" standing for a thing ("when did this happen?", "what does that
    cost?"), not a determiner ("this year") or a relative ("the year that ...")."""
    if lowered[i] not in _DEMONSTRATIVES:
        return False
    after = lowered[i + 1] if i + 1 < len(lowered) else "?"
    before = lowered[i - 1] if i > 0 else ""
    if lowered[i] == "that" and before and _is_content(before):
        return False  # "the treaty that ended the war": a relative
    return after in _AFTER_DEMONSTRATIVE or not re.match(r"[a-z0-9]", after)


def _substitute(tokens: list[str], subject: str) -> list[str]:
    lowered = [t.lower() for t in tokens]
    out: list[str] = []
    replaced = False
    for i, (token, low) in enumerate(zip(tokens, lowered, strict=True)):
        if not replaced and low in _POSSESSIVES:
            out.extend([subject, "'" if subject.endswith("s") else "'s"])
            replaced = True
        elif not replaced and (
            low in _SUBJECT_PRONOUNS | _OBJECT_PRONOUNS or _is_demonstrative(lowered, i)
        ):
            out.append(subject)
            replaced = True
        elif not replaced and low == "her":
            nxt = lowered[i + 1] if i + 1 < len(lowered) else "?"
            out.extend([subject, "'s"] if _is_content(nxt) else [subject])
            replaced = True
        else:
            out.append(token)
    return out


def carry_subject(question: str, earlier: Sequence[str]) -> Rewrite:
    """``question`` made standalone from the ``earlier`` questions (oldest first; each
    already standalone). A question that leans on none comes back as it is.

    - "What about X?" asks the latest earlier question again about X: its subject is
      replaced by X ("When did the Normans arrive?" then "what about the Danes?" gives
      "When did the Danes arrive?").
    - A pronoun takes the subject's place (its first occurrence; "its" becomes
      "<subject>'s"): "When did they arrive?" after "Who were the Normans?" gives
      "When did the Normans arrive?".
    - A question with no word of content ("and when?") keeps its question word and takes
      the latest earlier question's content: "when" + "Who founded Normandy?".
    """
    earlier = [q for q in earlier if q.strip()]
    if not earlier:
        return Rewrite(question)
    latest = earlier[-1]
    match = _ELLIPSIS.match(question)
    if match:
        new_subject = match.group("subject")
        old = subject_of(latest, last=True)  # "what about X?" replaces a name, or the object
        if old and old in latest:
            return Rewrite(latest.replace(old, new_subject, 1), carried=latest)
        return Rewrite(f"{latest.rstrip(' ?.!')} {new_subject}?", carried=latest)
    tokens = question_tokens(question)
    if not _needs_context(tokens):
        return Rewrite(question)
    has_content = any(_is_content(t) and t.lower() not in _QUESTION_WORDS for t in tokens)
    if not has_content:
        asked = [t for t in tokens if t.lower() in _QUESTION_WORDS]
        rest = [t for t in question_tokens(latest) if t.lower() not in _QUESTION_WORDS]
        body = join_tokens([*(asked or []), *[t for t in rest if t not in "?.!"]])
        return Rewrite(body[:1].upper() + body[1:] + "?", carried=latest)
    subject = next((s for s in (subject_of(q, question) for q in reversed(earlier)) if s), "")
    if not subject:
        return Rewrite(question)
    rewritten = join_tokens(_substitute(_strip_leading_and(tokens, question), subject))
    return Rewrite(rewritten[:1].upper() + rewritten[1:], carried=subject)


def _strip_leading_and(tokens: list[str], question: str) -> list[str]:
    stripped = _LEADING_AND.sub("", question)
    return question_tokens(stripped) if stripped != question else tokens


class SubjectCarryingRewriter:
    """The ``QuestionRewriter`` without a model: ``carry_subject`` over the standalone
    questions of the last ``CONTEXT_TURNS`` turns."""

    model_id = "subject-carrying-rules"
    calls_model = False

    def rewrite(self, question: str, earlier: Sequence[Turn]) -> Rewrite:
        return carry_subject(question, [t.standalone_question for t in earlier[-CONTEXT_TURNS:]])
