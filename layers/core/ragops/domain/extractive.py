"""Extractive answers: the one or two sentences of the retrieved passages that answer a
question, and whether any of them does (answerability).

No model writes text here. Each sentence of the best passages is scored from the cosine of
its embedding to the question's, its overlap with the question's terms weighted like BM25
(names and numbers count most), whether it holds what the question asks for (a number for
"how many", a date for "when", a name for "who"), and its passage's fused rank. The best
one or two sentences, the passages' own text, are the answer: supported by construction.

Answerability is a second, small model over the best sentence's evidence: its score and
margin over the next, how much of the question the sentence and its passage hold, names
and numbers of the question missing from them, negation. Both models are logistic
regressions fitted on SQuAD 2.0 (``ragops eval answers --fit``); their weights are the
reviewed file ``ragops/data/answer_model.json``.

Everything is plain Python: the API Lambda runs it and has no numpy.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from typing import Any

MAX_ANSWER_SENTENCES = 2
MAX_ANSWER_WORDS = 60
MIN_SENTENCE_WORDS = 4
"""Shorter lines (headings, labels, list stubs) are never an answer on their own."""

FORMAT = "ragops-answer-model/1"

# -- sentences -------------------------------------------------------------------------

_ABBREVIATION_WORDS = (
    "e.g i.e mr mrs ms dr st vs etc fig figs jr sr inc ltd co u.s u.k cf al approx ca "
    "gen col lt rev prof sgt capt mt ft vol eq sec ch pp op jan feb mar apr jun jul aug sep "
    "sept oct nov dec"
)
_ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())
# A sentence may open with bold ("**Scanned documents** ..."): two marks before its capital.
_BOUNDARY = re.compile(
    r"(?<=[.!?])[\"'\u201d\u2019)\]]*\s+(?=(?:\*\*|[\"'\u201c\u2018(\[`*])?[A-Z0-9])"
)
_TABLE_RULE = re.compile(r"^\s*\|?[\s:|-]+\|?\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)(.*)")  # the fence, then its info string (language)
_COMMAND_OPTION = re.compile(r"(?:^|\s)--[a-z][\w-]*(?:=\S*)?(?=\s|$)")
"""A bare command-line option (``--tenant``): prose writes one in backticks."""
_CODE_SPAN = re.compile(r"`[^`]*`")
_SHELL_BLOCKS = frozenset({"", "sh", "bash", "shell", "console", "zsh"})
_EXPLAINED_COMMAND = re.compile(r"^([A-Za-z][^#]*?)\s+#\s+([^\W\d_]\S*(?:\s+\S+){2,})$")
"""A command with a comment of three words or more after it, in a shell block."""
_LETTER = re.compile(r"[^\W\d_]")


_EMPHASIS = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_LIST_ITEM = re.compile(r"^\s*(?:>\s*)*(?:[-*+]\s+|\d{1,3}[.)]\s+)")
MIN_ROW_WORDS = 5
"""A table row is a candidate only with this many words of letters, and words in half its
cells or more (a row of figures answers nothing in words)."""
WRAPPED_LINE_CHARS = 50
"""A line this long that does not end a sentence was wrapped: the next line goes on."""


_PROSE_END = re.compile(r"[.!?][\]\)`*\"'\u201d\u2019]*$")
PROSE_CELL_WORDS = 8
"""A table cell with this many words that ends a sentence is prose: its row is read as
cells, each on its own."""


def _worded(text: str) -> int:
    """How many of ``text``'s whitespace-separated words hold a letter."""
    return sum(1 for w in text.split() if _LETTER.search(w))


def _is_prose(cell: str) -> bool:
    return _worded(cell) >= PROSE_CELL_WORDS and bool(_PROSE_END.search(cell))


_LEAD = re.compile(r"^(?:\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__)")
MAX_LEAD_WORDS = 12
"""A bold opening this short is the line's lead: the term a list item defines
("**Fusion**: ...") or the claim a paragraph explains ("**The tenant comes from ...**")."""


def _lead(line: str) -> str:
    match = _LEAD.match(line)
    if not match:
        return ""
    lead = (match.group(1) or match.group(2)).strip(" :.")
    return lead if len(lead.split()) <= MAX_LEAD_WORDS else ""


def _opens_in_code(lines: list[str]) -> bool:
    """Whether a passage starts inside a fenced code block (a chunk cut within one): its
    first fence is a bare closing one after lines that end no sentence (a fence opening a
    block usually names its language, and prose before one ends a sentence or a colon)."""
    seen = ended = False  # lines before the first fence; one of them ending a sentence
    for line in lines:
        if fence := _FENCE.match(line):
            return not fence.group(2).strip() and seen and not ended
        if line.strip() and not line.lstrip().startswith("#"):
            seen = True
            ended = ended or line.rstrip().endswith((".", "!", "?", ":"))
    return False


def _is_command(line: str) -> bool:
    """A command line outside a fence (a chunk cut within a code block, an unfenced
    example): it passes a bare option such as ``--tenant`` and ends no sentence. Prose
    quotes options in code spans, which do not count (nor does a line a span crosses)."""
    if line.count("`") % 2 or line.endswith((".", "!", "?")):
        return False
    return bool(_COMMAND_OPTION.search(_CODE_SPAN.sub(" ", line)))


def _is_table_header(line: str, lines: list[str], at: int) -> bool:
    """A Markdown table's header row (the row its rule follows): column names, which answer
    nothing ("pause mode | the tier a month")."""
    following = lines[at + 1] if at + 1 < len(lines) else ""
    return line.startswith("|") and "-" in following and bool(_TABLE_RULE.match(following))


def _line_units(text: str) -> list[tuple[str, str, str, bool]]:
    """The text's lines as ``(kind, text, lead, new_paragraph)``: ``text`` (prose),
    ``item`` (a list item or quote, its marker stripped), ``row`` (a table row, as
    "a | b | c") or ``cell`` (a cell of a row that holds prose); ``lead`` is the line's bold
    opening, if any (see ``MAX_LEAD_WORDS``); ``new_paragraph`` says that a blank line, a
    heading or a code block came before it. Markdown headings, fenced code and table rules
    are dropped, and bold markers removed; a command in a shell block that a comment
    explains on its line is an item ("make test # lints, runs every test")."""
    units: list[tuple[str, str, str, bool]] = []
    lines = text.splitlines()
    fenced = shell = _opens_in_code(lines)
    broken = True  # whether the next unit starts a paragraph
    for at, raw in enumerate(lines):
        if fence := _FENCE.match(raw):
            fenced = not fenced
            shell = fenced and fence.group(2).strip() in _SHELL_BLOCKS
            broken = True
            continue
        line = raw.strip()
        if fenced and shell and (explained := _EXPLAINED_COMMAND.match(line)):
            # "make test   # lints, runs every test": the command and what it does.
            units.append(("item", " ".join(f"{explained[1]} # {explained[2]}".split()), "", True))
            continue
        if fenced or not line or line.startswith("#"):
            broken = True
            continue
        if _TABLE_RULE.match(line) or _is_command(line) or _is_table_header(line, lines, at):
            continue
        lead = _lead(_LIST_ITEM.sub("", line))
        line = _EMPHASIS.sub(lambda m: m.group(1) or m.group(2), line)
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            cells = [c for c in cells if c]
            key = cells[0] if len(cells) == 2 else ""
            if (
                key
                and not key.endswith("?")
                and len(key.split()) <= MAX_LEAD_WORDS
                and _worded(cells[1]) >= PROSE_CELL_WORDS
            ):
                # A term, a symptom or a setting and its explanation: the explanation
                # alone loses what it explains ("re-save the file as UTF-8").
                units.append(("item", " ".join(f"{key}: {cells[1]}".split()), "", True))
                broken = False
                continue
            if any(_is_prose(c) or c.endswith("?") for c in cells):
                # A table of sentences or questions (a question and its answer): each
                # cell reads on its own, the row as one would not, and a question's row
                # would answer the question with itself.
                units.extend(
                    ("cell", " ".join(c.split()), "", True) for c in cells if _LETTER.search(c)
                )
                broken = False
                continue
            line, kind = " | ".join(cells), "row"
            worded = sum(1 for c in cells if _LETTER.search(c))
            if 2 * worded < len(cells) or _worded(line) < MIN_ROW_WORDS:
                continue
        elif _LIST_ITEM.match(line):
            line, kind = _LIST_ITEM.sub("", line), "item"
        else:
            kind = "text"
        if _LETTER.search(line):
            units.append((kind, " ".join(line.split()), lead if kind != "row" else "", broken))
            broken = False
        elif kind == "text" and not broken and units and units[-1][0] in ("text", "item"):
            # The end of a wrapped sentence with no letter in it ("(422)."): without it the
            # sentence would run on into the next line's.
            before_kind, before, before_lead, before_broken = units[-1]
            units[-1] = (
                before_kind,
                f"{before} {' '.join(line.split())}",
                before_lead,
                before_broken,
            )
    return units


def _joins_lines(text: str) -> list[tuple[str, str]]:
    """Lines, with their leads, with the prose wrapped over several lines joined back: a
    line goes on the one before when that one ends no sentence and either was wrapped
    (long) or the line goes on in lower case."""
    merged: list[tuple[str, str, str]] = []
    for kind, line, lead, new_paragraph in _line_units(text):
        # A blank line (or a heading, or code) between two lines ends whatever came before.
        if merged and kind == "text" and not new_paragraph and merged[-1][0] not in ("row", "cell"):
            before_kind, before, before_lead = merged[-1]
            # A colon ends the line when what follows starts anew (a list's lead-in); a
            # line going on in lower case is the same sentence wrapped after the colon.
            ends = before.endswith((".", "!", "?")) or (
                before.endswith(":") and not line[:1].islower()
            )
            if not ends and (len(before) >= WRAPPED_LINE_CHARS or line[:1].islower()):
                merged[-1] = (before_kind, f"{before} {line}", before_lead)
                continue
        merged.append((kind, line, lead))
    return [(line, lead) for _, line, lead in merged]


def split_sentences(text: str) -> list[str]:
    """The sentences of a passage, in reading order. A boundary is ``.``, ``!`` or ``?``
    (closing quotes and brackets included) before a capital or a digit, except after an
    abbreviation or an initial; lines are never joined across a sentence end."""
    return [sentence for sentence, _ in led_sentences(text)]


def led_sentences(text: str) -> list[tuple[str, str]]:
    """``split_sentences`` with each sentence's lead: the bold opening of the line (list
    item, paragraph) that the sentence opens, or ``""``."""
    sentences: list[tuple[str, str]] = []
    for line, lead in _joins_lines(text):
        start = 0
        for match in _BOUNDARY.finditer(line):
            before = line[start : match.start()].rstrip()
            last = before.rsplit(None, 1)[-1] if before.split() else ""
            word = last.rstrip(".!?\"')]\u201d\u2019").lower()
            numbered = word in ("no", "nos") and line[match.end() : match.end() + 1].isdigit()
            initial = len(word) == 1 and last.rstrip(".")[-1:].isupper()
            if word in _ABBREVIATIONS or numbered or initial:
                continue
            sentences.append((before, "" if start else lead))
            start = match.end()
        sentences.append((line[start:].strip(), "" if start else lead))
    return [(s, lead) for s, lead in sentences if s]


# -- words -----------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W\d_]+)?", re.UNICODE)
_STOP_WORDS = (
    "a an and are as at be by for from has have had in is it its of on or that the this to "
    "was were what when where which who whom whose why with how do does did can could not "
    "no into than then there their they them these those he she his her him i we you your "
    "our us been being also such if but about after before over under between during "
    "through while would should may might will shall very more most some any each other "
    "all one s many much name named called done doing happen happens happened work works "
    "use uses used using"
)
_STOP = frozenset(_STOP_WORDS.split())
_NEGATION = re.compile(r"\b(?:not|never|no|none|nor|neither|without|cannot)\b|n't\b", re.I)
_YEAR = re.compile(
    r"\b(?:1\d{3}|20\d{2})s?\b|\b\d{1,2}(?:st|nd|rd|th)\s+(?:century|centuries)\b|"
    r"\b(?:\d{1,2}(?:st|nd|rd|th)|first|second|third|fourth|fifth|sixth|seventh|eighth|"
    r"ninth|tenth|eleventh|twelfth)\s+(?:and\s+\S+\s+)?(?:century|centuries)\b|\b\d{2,4}\s*(?:BC|AD|BCE|CE)\b|"
    r"\b(?:in|by|until|since|from|after|before|around|circa)\s+\d{3,4}\b",
    re.I,
)
_MONTH = re.compile(
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December)\b"
)
_DIGIT = re.compile(r"\d")
_NUMBER_WORD = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"hundred|hundreds|thousand|thousands|million|millions|billion|dozen|several|percent|"
    r"half|twice)\b",
    re.I,
)

_QUANTITY = re.compile(
    r"\bhow (?:many|much|long|old|far|large|big|tall|often|high|fast|deep|wide)\b|"
    r"\bwhat (?:percentage|percent|number|amount|proportion|share|size)\b",
    re.I,
)
_TIME = re.compile(
    # "when" asks for a time where it opens the question or ends it ("built when?",
    # "until when?"); inside one it makes a condition ("What happens when a file is
    # uploaded twice?", "Who led the troops when Cyprus was conquered?").
    r"^\W*when\b|\bwhen\W*$|\b(?:what|which) (?:year|date|day|month|time|century|decade"
    r"|period|era)\b|\bhow long ago\b",
    re.I,
)
_PERSON = re.compile(r"\bwho(?:m|se)?\b", re.I)
_PLACE = re.compile(r"\bwhere\b", re.I)
_REASON = re.compile(r"\bwhy\b", re.I)
_MANNER = re.compile(r"\bhow\b", re.I)


def _fold(text: str) -> str:
    """Lower case without accents ("fiancée" and "fiancee" are one word)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


@lru_cache(maxsize=1)
def _english_stemmer() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    """Snowball's English stem ("rehydration" and "rehydrate" are one term), after the
    possessive."""
    word = word.replace("\u2019", "'")
    if word.endswith("'s"):
        word = word[:-2]
    return _english_stemmer().stemWord(word)


def words(text: str) -> list[str]:
    return _WORD.findall(text)


_CAMEL_PART = re.compile(r"[A-Z][a-z]{2,}|[a-z]{3,}(?=[A-Z])")


def _identifier_parts(word: str) -> list[str]:
    """The words of a CamelCase identifier ("QueryRouter": "Query", "Router"), so that a
    question about "the router" meets it; [] for any other word."""
    if (word[:1].isupper() and word[1:].islower()) or word.islower() or word.isupper():
        return []
    parts = _CAMEL_PART.findall(word)
    return parts if len(parts) >= 2 and all(len(p) >= 4 for p in parts) else []


def terms(text: str) -> list[str]:
    """Content terms: folded, stemmed, stop words out; an identifier written in CamelCase
    counts as its parts too."""
    found = []
    for word in words(text):
        for part in (word, *_identifier_parts(word)):
            folded = _fold(part)
            if folded not in _STOP:
                found.append(_stem(folded))
    return found


def _names(tokens: list[str]) -> set[str]:
    """Capitalised words that do not open the text, and numbers: the terms a question
    is most specific about."""
    found = set()
    for position, token in enumerate(tokens):
        if token[0].isdigit() or (position > 0 and token[0].isupper()):
            folded = _fold(token)
            if folded not in _STOP:
                found.add(_stem(folded))
    return found


@dataclass(frozen=True)
class QuestionProfile:
    """What the scorer needs to know of a question."""

    text: str
    terms: frozenset[str]
    names: frozenset[str]
    numbers: frozenset[str]
    kind: str
    """quantity, time, person, place, reason, manner or other."""
    negated: bool


def question_kind(question: str) -> str:
    for kind, pattern in (
        ("quantity", _QUANTITY),
        ("time", _TIME),
        ("person", _PERSON),
        ("place", _PLACE),
        ("reason", _REASON),
        ("manner", _MANNER),
    ):
        if pattern.search(question):
            return kind
    return "other"


_QUOTED = re.compile(r'"[^"]*"|\u201c[^\u201d]*\u201d|`[^`]*`')


def profile_question(question: str) -> QuestionProfile:
    tokens = words(question)
    return QuestionProfile(
        text=question,
        terms=frozenset(terms(question)),
        names=frozenset(_names(tokens)),
        numbers=frozenset(t for t in tokens if t[0].isdigit()),
        kind=question_kind(question),
        # A quoted message ("What does 'the text is not valid' mean?") is asked about,
        # not denied.
        negated=bool(_NEGATION.search(_QUOTED.sub(" ", question))),
    )


# -- candidates and their features -----------------------------------------------------


@dataclass(frozen=True)
class SentenceCandidate:
    """A sentence of passage ``passage`` (0-based, in fused order), ``position`` of
    ``count`` in it."""

    passage: int
    position: int
    count: int
    text: str
    lead: str = ""
    """The bold opening of the list item or paragraph that the sentence opens, if any."""


_OPENS = re.compile(r"^[\"'\u201c\u2018(\[`*]?[A-Z0-9]")
_ENDS = re.compile(r"[.!?:;\"'\u201d\u2019)\]`*]$")


def _cut(sentences: list[str], position: int, *, after_heading: bool = False) -> bool:
    """A sentence a chunk boundary cut: the passage's first, starting in lower case, or
    its last, ending without punctuation (the neighbouring chunk, which overlaps this one,
    holds it whole). A shell block's explained command ("make run # install, serve") is a
    line of its own, whole however it begins and ends, and so is a first sentence under
    the passage's opening heading (one that opens with a name written in lower case,
    "ragops is ...")."""
    sentence = sentences[position]
    if _EXPLAINED_COMMAND.match(sentence):
        return False
    if position == 0 and not after_heading and not _OPENS.match(sentence):
        return True
    return position == len(sentences) - 1 and not _ENDS.search(sentence)


MIN_HEADER_TITLE_WORDS = 3
"""A title this long opening a sentence, and not as its subject, is a page's header."""
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DATELINE = re.compile(
    # A page's date, with the few words of chrome a page puts before it ("Back to
    # location") and the kind of page after it ("| Report").
    rf"^(?:[A-Z][a-z]+(?: [a-z]+){{0,3}} )?(?:(?:{_MONTHS}) \d{{1,2}}, \d{{4}}"
    rf"|\d{{1,2}} (?:{_MONTHS}) \d{{4}}|\d{{4}}-\d{{2}}-\d{{2}})(?:\s*\|\s*[A-Z][\w-]*)?\s+"
)
_NAME = r"[A-Z][^\s,]* (?:[A-Z]\. )?[A-Z][^\s,]*"  # a first name and a last
_BYLINE = re.compile(rf"^By {_NAME}(?:\s*(?:,|and)\s*{_NAME})*\s+")
_TITLE_GLUE = " |:-\u2013\u2014"
MIN_PROSE_SHARE = 0.5
"""Of a header's remainder's content words, the share in lower case for it to be prose."""


def without_header(sentence: str, title: str | None) -> str | None:
    """``sentence`` less a web page's header pasted before it: the document's title (once
    or twice over, as a saved page repeats it), the date line after it ("October 23, 2025
    | Report", what came before the title too) and a byline. The title counts as a header
    where it opens the sentence with something capitalised after it (followed by lower
    case it is the sentence's subject, and stays) or where a date line follows it. None
    when no prose is left (the title alone, or a title and the page's buttons: "Save It
    For Later ... Subscribe"): a header answers nothing, and the title is indexed already."""
    if not title:
        return sentence
    head = " ".join(title.split())
    if len(words(head)) < MIN_HEADER_TITLE_WORDS:
        return sentence
    named = re.compile(re.escape(head), re.IGNORECASE)

    def whole(m: re.Match[str], text: str) -> bool:  # the title, not part of a longer word
        before = text[m.start() - 1 : m.start()]
        return not before.isalnum() and not text[m.end() : m.end() + 1].isalnum()

    places = [m for m in named.finditer(sentence) if whole(m, sentence)]
    rests = [sentence[m.end() :].lstrip(_TITLE_GLUE) for m in places]
    dated = [(rest, found) for rest in rests if (found := _DATELINE.match(rest))]
    if dated:  # the last title before a date line ends the header
        rest, line = dated[-1]
        rest = _BYLINE.sub("", rest[line.end() :], count=1)
    elif places and places[0].start() == 0:
        rest = sentence
        while (opening := named.match(rest)) and whole(opening, rest):
            rest = rest[opening.end() :].lstrip(_TITLE_GLUE)
        if not (rest == "" or rest[:1].isupper() or rest[:1].isdigit()):
            return sentence  # the title is the sentence's subject
    else:
        return sentence  # no title, or one quoted in the sentence
    initials = [
        m.group(0) for w in rest.split() if w.lower() not in _STOP and (m := _LETTER.search(w))
    ]
    if len(words(rest)) < MIN_SENTENCE_WORDS or not initials:
        return None
    lower = sum(1 for initial in initials if initial.islower())
    return rest if lower >= MIN_PROSE_SHARE * len(initials) else None


_CHROME = (
    # A saved web page's buttons and boxes, as its text keeps them between sentences.
    r"Save It For Later|Saved To My Saved Content|Download Article|Link copied|"
    r"Manage Subscriptions|Sign up for our newsletter|Subscribe to (?:our )?newsletter|"
    r"Subscribe to our (?:(?:[A-Z][\w&'-]*|and|&),? )+E-Alert\.?|Back to location|"
    r"Explore a career with us|Share|Subscribe|Print|Save"
)
_CHROME_RUN = re.compile(rf"^(?:(?:{_CHROME})\s+)+")
_CHROME_TAIL = re.compile(r"\s(?:Explore a career with us|Related Articles)\s")


def without_page_chrome(sentence: str) -> str | None:
    """``sentence`` less a web page's buttons pasted before it ("Manage Subscriptions
    Subscribe Durable carbon removal is ...") and the list of links after it ("... Related
    Articles Report ..."); None when nothing of it is left to read. A lone "Share" or
    "Print" opening a sentence stays: it may be the sentence's own word."""
    if _CHROME_RUN.fullmatch(sentence + " "):
        return None
    rest = sentence
    if tail := _CHROME_TAIL.search(rest):
        rest = rest[: tail.start()].rstrip()
    run = _CHROME_RUN.match(rest)
    if run and len(run.group(0).split()) > 1 and rest[run.end() :][:1].isupper():
        rest = rest[run.end() :]
    if rest == sentence:
        return sentence
    return rest if len(words(rest)) >= MIN_SENTENCE_WORDS else None


def sentence_candidates(
    passages: Sequence[str], titles: Sequence[str | None] | None = None
) -> list[SentenceCandidate]:
    """Every sentence of ``passages`` long enough to answer something, but questions
    (a question answers nothing) and those a chunk boundary cut (unless a passage has
    nothing else). With the passages' document ``titles``, a web page's header pasted
    before a sentence is left out of it (``without_header``)."""
    found = []
    for number, passage in enumerate(passages):
        led = [
            (sentence, lead)
            for text, lead in led_sentences(passage)
            if (sentence := without_page_chrome(text)) is not None
        ]
        if titles is not None and titles[number]:
            title = titles[number]
            kept = [(without_header(sentence, title), lead) for sentence, lead in led]
            led = [(sentence, lead) for sentence, lead in kept if sentence is not None]
        sentences = [sentence for sentence, _ in led]
        long_enough = [
            position
            for position, sentence in enumerate(sentences)
            if len(words(sentence)) >= MIN_SENTENCE_WORDS
            and not sentence.rstrip("\"')]\u201d\u2019*`").endswith("?")
        ]
        after_heading = passage.lstrip().startswith("#")
        whole = [
            p for p in long_enough if not _cut(sentences, p, after_heading=after_heading)
        ] or long_enough
        found.extend(
            SentenceCandidate(number, position, len(sentences), *led[position])
            for position in whole
        )
    return found


SENTENCE_FEATURES = (
    "cosine",
    "passage_cosine",
    "passage_rank",
    "fused_z",
    "weighted_overlap",
    "overlap",
    "name_coverage",
    "number_coverage",
    "answer_type",
    "length",
    "position",
    "first",
    "negation_mismatch",
    "matched_terms",
    "window_overlap",
    "passage_overlap",
    "cosine_x_overlap",
)

_LONG_SENTENCE_WORDS = 80


@dataclass(frozen=True)
class Evidence:
    """A candidate with its features (``SENTENCE_FEATURES`` order) and, once scored, its
    score (the sentence model's log-odds that it answers the question)."""

    candidate: SentenceCandidate
    features: tuple[float, ...]
    score: float = 0.0
    missing_terms: tuple[str, ...] = ()
    """Question terms found in neither this sentence's passage nor its neighbours."""
    lead_match: bool = False
    """The sentence's lead (``SentenceCandidate.lead``) names one of the question's terms,
    or the sentence is the definition a "What is X?" question asks for (``_definition_of``)."""


def _has_answer_type(kind: str, sentence: str, tokens: list[str], asked: frozenset[str]) -> float:
    if kind == "quantity":
        return float(bool(_DIGIT.search(sentence) or _NUMBER_WORD.search(sentence)))
    if kind == "time":
        return float(bool(_YEAR.search(sentence) or _MONTH.search(sentence)))
    if kind in ("person", "place"):
        fresh = [t for t in tokens[1:] if t[0].isupper() and _stem(_fold(t)) not in asked]
        return float(bool(fresh))
    return 0.5


def sentence_evidence(
    profile: QuestionProfile,
    candidates: Sequence[SentenceCandidate],
    cosines: Sequence[float],
    passage_scores: Sequence[float],
    passage_cosines: Sequence[float | None],
) -> list[Evidence]:
    """Features of every candidate. ``cosines`` are the candidates' cosine similarities
    to the question; ``passage_scores`` and ``passage_cosines`` the passages' fused
    scores and vector similarities (None where the vector retriever did not find it).

    Term weights are BM25's inverse document frequency over the candidate sentences
    themselves: a word every retrieved sentence shares (the topic) tells them apart less
    than one only a few hold."""
    sentence_terms = [set(terms(c.text)) for c in candidates]
    frequency: Counter[str] = Counter()
    for found in sentence_terms:
        frequency.update(found)
    total = max(len(candidates), 1)

    def idf(term: str) -> float:
        df = frequency[term]
        return math.log(1.0 + (total - df + 0.5) / (df + 0.5))

    asked = profile.terms
    weight = {t: idf(t) * (2.0 if t in profile.names else 1.0) for t in asked}
    weight_total = sum(weight.values()) or 1.0
    definition = _definition_of(profile.text)
    by_passage: dict[int, list[int]] = {}
    for index, candidate in enumerate(candidates):
        by_passage.setdefault(candidate.passage, []).append(index)
    passage_terms = {
        p: set().union(*(sentence_terms[i] for i in members)) for p, members in by_passage.items()
    }
    mean = sum(passage_scores) / len(passage_scores) if passage_scores else 0.0
    spread = (
        math.sqrt(sum((s - mean) ** 2 for s in passage_scores) / len(passage_scores))
        if passage_scores
        else 0.0
    ) or 1.0

    evidence = []
    for index, candidate in enumerate(candidates):
        held = sentence_terms[index]
        members = by_passage[candidate.passage]
        at = members.index(index)
        window = set(held)
        for neighbour in members[max(at - 1, 0) : at + 2]:
            window |= sentence_terms[neighbour]
        matched = asked & held
        tokens = words(candidate.text)
        in_sentence = {_stem(_fold(t)) for t in tokens}
        overlap = sum(weight[t] for t in matched) / weight_total
        passage_cosine = passage_cosines[candidate.passage]
        features = (
            float(cosines[index]),
            float(passage_cosine) if passage_cosine is not None else 0.0,
            1.0 / (1.0 + candidate.passage),
            (passage_scores[candidate.passage] - mean) / spread,
            overlap,
            len(matched) / len(asked) if asked else 0.0,
            len(profile.names & in_sentence) / len(profile.names) if profile.names else 1.0,
            len(profile.numbers & set(tokens)) / len(profile.numbers) if profile.numbers else 1.0,
            _has_answer_type(profile.kind, candidate.text, tokens, asked),
            min(len(tokens), _LONG_SENTENCE_WORDS) / _LONG_SENTENCE_WORDS,
            candidate.position / max(candidate.count - 1, 1),
            float(candidate.position == 0),
            float(profile.negated != bool(_NEGATION.search(candidate.text))),
            float(len(matched)),
            sum(weight[t] for t in asked & window) / weight_total,
            sum(weight[t] for t in asked & passage_terms[candidate.passage]) / weight_total,
            float(cosines[index]) * overlap,
        )
        missing = tuple(sorted(asked - passage_terms[candidate.passage]))
        # A lead that is the whole sentence ("**Embedding the title with each chunk.**")
        # is a heading of what follows, not an item that explains its subject.
        lead_match = (
            bool(candidate.lead)
            and bool(asked & set(terms(candidate.lead)))
            and len(words(candidate.text)) > len(words(candidate.lead))
        ) or _defines(definition, candidate.text)
        evidence.append(Evidence(candidate, features, missing_terms=missing, lead_match=lead_match))
    return evidence


_DEFINITION_QUESTION = re.compile(
    r"^\s*(?:what|who)\s+(?:is|are)\s+(?:(?:an?|the)\s+)?(?P<subject>[^?]{1,60}?)\s*\?*\s*$",
    re.I,
)
_MARKUP = re.compile(r"[`*_]")


def _definition_of(question: str) -> re.Pattern[str] | None:
    """The opening of the sentence that defines what "What is X?" asks about: X and "is"
    or "are" ("ragops is a document question-answering platform ..."); None for any other
    question. A document defines its subject once, where the word it is named by opens
    the sentence; other sentences only mention it."""
    asked = _DEFINITION_QUESTION.match(question)
    if asked is None:
        return None
    subject = re.escape(_fold(asked["subject"]))
    return re.compile(rf"(?:(?:an?|the)\s+)?{subject}\s+(?:is|are)\s")


def _defines(definition: re.Pattern[str] | None, sentence: str) -> bool:
    """Whether ``sentence`` opens as ``definition`` (``_definition_of``) says."""
    return definition is not None and bool(definition.match(_fold(_MARKUP.sub("", sentence))))


ANSWERABILITY_FEATURES = (
    "best_score",
    "margin",
    "cosine",
    "weighted_overlap",
    "overlap",
    "window_overlap",
    "passage_overlap",
    "name_coverage",
    "number_coverage",
    "answer_type",
    "passage_cosine",
    "negation_mismatch",
    "question_negated",
    "question_terms",
    "missing_names",
    "fused_z",
    "antonym_mismatch",
)


_NEGATED_WORD = re.compile(r"\b(?:not|no|never|without|cannot)\s+([^\W_]+)", re.I)


def _echoes_negation(question: str, sentence: str) -> bool:
    """Whether ``sentence`` denies every word ``question`` denies, in its own words or
    others ("no extractable text" and "a PDF without extractable text"): the question then
    asks about what the sentence denies, and its negation is not the twist of a question
    the passage cannot answer."""
    asked = {m.group(1).lower() for m in _NEGATED_WORD.finditer(question)}
    denied = {m.group(1).lower() for m in _NEGATED_WORD.finditer(sentence)}
    return bool(asked) and asked <= denied


_OPPOSITES = (
    "large small, largest smallest, larger smaller, big small, biggest smallest, high low, "
    "highest lowest, higher lower, long short, longest shortest, longer shorter, first last, "
    "early late, earliest latest, earlier later, before after, most least, more less, "
    "best worst, better worse, increase decrease, increased decreased, rise fall, rose fell, "
    "gain loss, win lose, won lost, major minor, maximum minimum, positive negative, "
    "north south, east west, northern southern, eastern western, inside outside, "
    "begin end, start end, open close, opened closed, accept reject, accepted rejected, "
    "allow forbid, allowed forbidden, legal illegal, public private, old new, oldest newest, "
    "older younger, strong weak, strongest weakest, success failure, successful unsuccessful, "
    "support oppose, supported opposed, agree disagree, true false, upper lower, "
    "above below, import export, imports exports, birth death, born died, heavy light, "
    "fast slow, fastest slowest, rich poor, richest poorest, wide narrow, hot cold, "
    "common rare, same different, internal external, include exclude, included excluded, "
    "give take, gave took, given taken, lose won, lost win, few many, fewest most, "
    "fewer more, always never, ally enemy, allies enemies, friend enemy, victory defeat, "
    "buy sell, bought sold, add remove, added removed, similar different, ancient modern, "
    "male female, men women, permanent temporary, full empty, cheap expensive, top bottom, "
    "inner outer, attack defend, attacked defended, enter leave, entered left, "
    "arrive depart, arrived departed, refuse agree, refused agreed"
)


@lru_cache(maxsize=1)
def _opposite_stems() -> dict[str, frozenset[str]]:
    """``_OPPOSITES`` by stem, both ways; built on first use, as stemming imports the
    stemmer (nothing heavier than the module itself at import time)."""
    found: dict[str, set[str]] = {}
    for pair in _OPPOSITES.split(", "):
        one, other = (_stem(w) for w in pair.split())
        found.setdefault(one, set()).add(other)
        found.setdefault(other, set()).add(one)
    return {word: frozenset(others) for word, others in found.items()}


_NEGATING_PREFIX = re.compile(r"^(?:non|un|dis|in|im|ir|il)(?=[a-z]{4})")
_NEGATING_SUFFIX = "less"


def _plain_and_negated(text: str) -> tuple[set[str], set[str]]:
    """The stems of ``text``'s words, and of the words it negates by an affix: "unimportant",
    "non-zero" and "non shared" negate "important", "zero" and "shared", "motionless"
    negates "motion"."""
    tokens = [_fold(w) for w in words(text)]
    plain, negated = set(), set()
    skip = False
    for at, token in enumerate(tokens):
        if skip:
            skip = False
            continue
        if token == "non" and at + 1 < len(tokens):
            negated.add(_stem(tokens[at + 1]))
            skip = True
            continue
        plain.add(_stem(token))
        if prefix := _NEGATING_PREFIX.match(token):
            negated.add(_stem(token[prefix.end() :]))
        elif token.endswith(_NEGATING_SUFFIX) and len(token) >= len(_NEGATING_SUFFIX) + 4:
            negated.add(_stem(token[: -len(_NEGATING_SUFFIX)]))
    return plain, negated


def _says_the_opposite(profile: QuestionProfile, sentence: str) -> bool:
    """Whether ``sentence`` says the opposite of one of the question's words and not the
    word itself: "the smallest" for "What is the largest ...?", "important" for "an
    unimportant role", "non-zero" for "zero", "motionless" for "in motion". The twist of a
    question written to look answerable."""
    asked, asked_negated = _plain_and_negated(profile.text)
    held, held_negated = _plain_and_negated(sentence)
    opposites = _opposite_stems()
    opposite_word = any(
        word not in held and held & opposites.get(word, frozenset()) for word in asked
    )
    # A word the question negates that the sentence states plainly, or the other way.
    flipped = ((asked_negated & held) - held_negated) or ((held_negated & asked) - asked_negated)
    return opposite_word or bool(flipped)


def answerability_features(profile: QuestionProfile, ranked: Sequence[Evidence]) -> list[float]:
    """The evidence that the best sentence answers the question (``ranked`` best first)."""
    best = ranked[0]
    f = dict(zip(SENTENCE_FEATURES, best.features, strict=True))
    margin = best.score - ranked[1].score if len(ranked) > 1 else 5.0
    missing_names = len(profile.names & set(best.missing_terms))
    return [
        best.score,
        margin,
        f["cosine"],
        f["weighted_overlap"],
        f["overlap"],
        f["window_overlap"],
        f["passage_overlap"],
        f["name_coverage"],
        f["number_coverage"],
        f["answer_type"],
        f["passage_cosine"],
        f["negation_mismatch"],
        float(profile.negated and not _echoes_negation(profile.text, best.candidate.text)),
        float(len(profile.terms)),
        float(missing_names),
        f["fused_z"],
        float(_says_the_opposite(profile, best.candidate.text)),
    ]


# -- the model -------------------------------------------------------------------------


@dataclass(frozen=True)
class LogisticModel:
    """``sigmoid(bias + sum(w * (x - mean) / scale))`` over named features."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()

    def logit(self, row: Sequence[float]) -> float:
        mean = self.mean or (0.0,) * len(row)
        scale = self.scale or (1.0,) * len(row)
        return self.bias + sum(
            w * (x - m) / (s or 1.0)
            for w, x, m, s in zip(self.weights, row, mean, scale, strict=True)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "weights": [round(w, 6) for w in self.weights],
            "bias": round(self.bias, 6),
            "mean": [round(m, 6) for m in self.mean],
            "scale": [round(s, 6) for s in self.scale],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], expected: tuple[str, ...]) -> LogisticModel:
        if tuple(data["features"]) != expected:
            raise ValueError("the answer model was fitted on other features than this version's")
        model = cls(
            features=expected,
            weights=tuple(float(w) for w in data["weights"]),
            bias=float(data["bias"]),
            mean=tuple(float(m) for m in data.get("mean", ())),
            scale=tuple(float(s) for s in data.get("scale", ())),
        )
        if len(model.weights) != len(expected) or (model.mean and len(model.mean) != len(expected)):
            raise ValueError("the answer model's weights do not match its features")
        return model


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


@dataclass(frozen=True)
class AnswerModel:
    """The sentence scorer and the answerability decision, with the threshold the
    probability of "the best sentence answers" must reach to answer at all, and the score
    a second sentence needs to join the first."""

    sentences: LogisticModel
    answerability: LogisticModel
    threshold: float = 0.5
    second_sentence_min_score: float = -1.0
    trained_on: str | None = None
    embedding_model: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    def with_threshold(self, threshold: float) -> AnswerModel:
        return replace(self, threshold=threshold)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "sentences": self.sentences.to_dict(),
            "answerability": self.answerability.to_dict(),
            "threshold": self.threshold,
            "second_sentence_min_score": self.second_sentence_min_score,
            "trained_on": self.trained_on,
            "embedding_model": self.embedding_model,
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnswerModel:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a ragops answer model (format {FORMAT})")
        return cls(
            sentences=LogisticModel.from_dict(data["sentences"], SENTENCE_FEATURES),
            answerability=LogisticModel.from_dict(data["answerability"], ANSWERABILITY_FEATURES),
            threshold=float(data["threshold"]),
            second_sentence_min_score=float(data.get("second_sentence_min_score", -1.0)),
            trained_on=data.get("trained_on"),
            embedding_model=data.get("embedding_model"),
            notes=dict(data.get("notes") or {}),
        )

    @classmethod
    def packaged(cls) -> AnswerModel:
        """The model shipped with ragops (fitted on SQuAD 2.0 with all-MiniLM-L6-v2)."""
        text = resources.files("ragops.data").joinpath("answer_model.json").read_text("utf-8")
        return cls.from_dict(json.loads(text))


# -- deciding and composing ------------------------------------------------------------

LEAD_MATCH_BONUS = 3.0
"""Log-odds added, in both models, for a sentence that opens with a lead naming one of the
question's terms ("**Fusion**: z-score ..." for "How is hybrid fusion done?"): in technical
Markdown the answer to "what is X" or "how is X done" is often the item that X leads, whose
words the question does not otherwise share. The same for the sentence that defines what
"What is X?" asks about ("X is ..."). Set by hand, not fitted: SQuAD, which fitted the rest,
has no leads and few definitions (its figures moved by 0.2 point at most); docs/evaluation.md
shows the effect on the product's own docs, with questions it was not set on."""


@dataclass(frozen=True)
class Extraction:
    """The extractive reading of a question's passages: the candidates best first, the
    probability that the best one answers, and whether that clears the threshold."""

    ranked: list[Evidence]
    answerable_probability: float
    threshold: float

    @property
    def answerable(self) -> bool:
        return bool(self.ranked) and self.answerable_probability >= self.threshold


def extract(
    model: AnswerModel,
    profile: QuestionProfile,
    candidates: Sequence[SentenceCandidate],
    cosines: Sequence[float],
    passage_scores: Sequence[float],
    passage_cosines: Sequence[float | None],
) -> Extraction:
    """Score every candidate and decide answerability."""
    if not candidates:
        return Extraction([], 0.0, model.threshold)
    evidence = sentence_evidence(profile, candidates, cosines, passage_scores, passage_cosines)
    scored = [
        replace(e, score=model.sentences.logit(e.features) + LEAD_MATCH_BONUS * e.lead_match)
        for e in evidence
    ]
    # Ties (the same sentence twice, from overlapping chunks) go to the better passage.
    scored.sort(key=lambda e: (-e.score, e.candidate.passage, e.candidate.position))
    logit = model.answerability.logit(answerability_features(profile, scored))
    if scored and scored[0].lead_match:
        logit += LEAD_MATCH_BONUS
    probability = sigmoid(logit)
    return Extraction(scored, round(probability, 4), model.threshold)


@dataclass(frozen=True)
class ExtractedSentence:
    text: str
    passage: int
    """0-based index of the passage (in fused order) the sentence is from."""


_SOURCE_MARKERS = re.compile(r"\s*\[\d{1,3}(?:\s*[,\u2013-]\s*\d{1,3})*\](?!\()")
"""Reference markers in the source's own text ("[1]", "[2, 3]"): in the answer they would
read as the answer's citations, so they are dropped (a Markdown link "[1](...)" stays)."""


def _clip(text: str, profile: QuestionProfile, limit: int) -> str:
    """A sentence over ``limit`` words cut to the ``limit``-word window holding most of
    the question's terms, with an ellipsis where it was cut."""
    tokens = text.split()
    if len(tokens) <= limit:
        return text
    asked = profile.terms
    hits = [1 if (set(terms(t)) & asked) else 0 for t in tokens]
    best_start, best = 0, -1
    running = sum(hits[:limit])
    for start in range(0, len(tokens) - limit + 1):
        if start:
            running += hits[start + limit - 1] - hits[start - 1]
        if running > best:
            best_start, best = start, running
    # The answer usually follows the words the question shares with it: start shortly
    # before the first of them (the window keeps every match it had).
    first = next((i for i in range(best_start, best_start + limit) if hits[i]), best_start)
    best_start = min(max(best_start, first - limit // 4), len(tokens) - limit)
    clipped = " ".join(tokens[best_start : best_start + limit])
    prefix = "… " if best_start > 0 else ""
    suffix = " …" if best_start + limit < len(tokens) else ""
    return f"{prefix}{clipped}{suffix}"


def compose(
    model: AnswerModel,
    profile: QuestionProfile,
    extraction: Extraction,
    *,
    max_sentences: int = MAX_ANSWER_SENTENCES,
    max_words: int = MAX_ANSWER_WORDS,
) -> list[ExtractedSentence]:
    """The answer's sentences: the best one, then the next best if it scores at least
    ``second_sentence_min_score`` and both fit in ``max_words``. Two sentences of one
    passage keep their reading order; otherwise the best comes first."""
    ranked = extraction.ranked
    if not ranked:
        return []
    best = ranked[0]
    # Each chosen sentence with the words it may show.
    chosen: list[tuple[Evidence, int]] = [(best, max_words)]
    used = len(best.candidate.text.split())
    follower = _follower(best, ranked) if _is_lead_in(best.candidate.text) else None
    if follower is not None and max_sentences > 1:
        # A lead-in ("There are two ways to pause the tier:") says what the answer is
        # about, not what it is: what it introduces comes with it, clipped to the words
        # left, whatever it scored.
        chosen.append((follower, max(max_words - min(used, max_words), MIN_FOLLOWER_WORDS)))
        used += len(follower.candidate.text.split())
    for other in ranked[1:]:
        if len(chosen) >= max_sentences or other.score < model.second_sentence_min_score:
            break
        text = other.candidate.text
        # Overlapping chunks hold a sentence twice, one copy perhaps cut by the boundary;
        # a lead-in without what it introduces answers nothing.
        if _is_lead_in(text) or any(
            text in c.candidate.text or c.candidate.text in text for c, _ in chosen
        ):
            continue
        length = len(text.split())
        if used + length > max_words:
            continue
        chosen.append((other, max_words))
        used += length
    if len(chosen) == 2 and chosen[0][0].candidate.passage == chosen[1][0].candidate.passage:
        chosen.sort(key=lambda c: c[0].candidate.position)
    # Only a lone sentence (or a lead-in's follower) can be over the limit: a second joins
    # only within it.
    return [
        ExtractedSentence(
            _clip(_SOURCE_MARKERS.sub("", e.candidate.text), profile, limit),
            e.candidate.passage,
        )
        for e, limit in chosen
    ]


MIN_FOLLOWER_WORDS = 12
"""The fewest words of what a lead-in introduces that an answer shows (clipped to them)."""


def _is_lead_in(sentence: str) -> bool:
    return sentence.rstrip(" *`").endswith(":")


def _follower(lead_in: Evidence, ranked: Sequence[Evidence]) -> Evidence | None:
    """The candidate right after ``lead_in`` in its passage, if it is one."""
    place = (lead_in.candidate.passage, lead_in.candidate.position + 1)
    return next((e for e in ranked if (e.candidate.passage, e.candidate.position) == place), None)
