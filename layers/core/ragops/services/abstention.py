"""Does the system decline what it cannot answer? SQuAD 2.0 mixes answerable questions with
unanswerable ones written to look answerable from the same paragraphs.

The paragraphs are indexed as documents of a tenant of their own; each question then goes
through ``prepare_question``, the same code that decides, before any model call, whether
``answer_question`` answers or says nothing was found. So the figures are the system's
decisions, without spending a generation on each question: what the model would write is
another measurement (groundedness).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ragops.errors import InvalidInput, RequestBlocked
from ragops.services.answering import AnswerContext, prepare_question
from ragops.services.ingestion import IngestContext, UploadedFile, ingest_files


@dataclass(frozen=True)
class SquadQuestion:
    question: str
    answerable: bool
    answers: tuple[str, ...] = ()
    """The gold answer strings (distinct, in file order); none for an unanswerable one."""
    paragraph: int = -1
    """Index of the paragraph it was asked about, in file order."""
    article: str = ""


@dataclass(frozen=True)
class AbstentionReport:
    answerable: int
    unanswerable: int
    answerable_declined: int
    unanswerable_answered: int
    answerable_declined_rate: float
    unanswerable_answered_rate: float
    min_relevance: float
    tenant: str


def load_squad(path: Path) -> tuple[list[tuple[str, str]], list[SquadQuestion]]:
    """(paragraphs as (title, text), questions) from a SQuAD 2.0 JSON file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        paragraphs, questions = [], []
        for article in data["data"]:
            for paragraph in article["paragraphs"]:
                paragraphs.append((article.get("title", ""), paragraph["context"]))
                for qa in paragraph["qas"]:
                    answerable = not qa.get("is_impossible", False) and bool(qa.get("answers"))
                    gold = dict.fromkeys(t for a in qa.get("answers") or [] if (t := a.get("text")))
                    questions.append(
                        SquadQuestion(
                            qa["question"],
                            answerable,
                            tuple(gold) if answerable else (),
                            paragraph=len(paragraphs) - 1,
                            article=str(article.get("title", "")),
                        )
                    )
    except FileNotFoundError as exc:
        raise InvalidInput(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InvalidInput(f"{path}: not a SQuAD 2.0 JSON file ({exc})") from exc
    if not paragraphs or not questions:
        raise InvalidInput(f"{path}: no paragraphs or no questions")
    return paragraphs, questions


def squad_tenant(path: Path, ingest: IngestContext) -> str:
    """The tenant the paragraphs of ``path`` are indexed into: one per file, embedder and
    chunking, so a pipeline with other chunking never reads another's chunks."""
    digest = hashlib.sha256(Path(path).read_bytes())
    chunker = ingest.chunker
    digest.update(
        f"|{ingest.embedder.model_id}|{chunker.chunk_tokens}/{chunker.overlap_tokens}".encode()
    )
    return f"eval-squad-{digest.hexdigest()[:12]}"


def evaluate_abstention(
    ingest: IngestContext, answer: AnswerContext, path: Path
) -> AbstentionReport:
    paragraphs, questions = load_squad(path)
    tenant = squad_tenant(path, ingest)
    files = [
        UploadedFile(f"p{i:04d}.txt", text.encode("utf-8"), title=title or None)
        for i, (title, text) in enumerate(paragraphs)
    ]
    ingest_files(ingest, tenant=tenant, files=files)  # unchanged paragraphs are skipped
    declined_answerable = answered_unanswerable = 0
    for item in questions:
        try:
            declines = prepare_question(answer, tenant=tenant, question=item.question).declined
        except RequestBlocked:
            declines = True
        if item.answerable and declines:
            declined_answerable += 1
        if not item.answerable and not declines:
            answered_unanswerable += 1
    answerable = sum(q.answerable for q in questions)
    unanswerable = len(questions) - answerable
    return AbstentionReport(
        answerable=answerable,
        unanswerable=unanswerable,
        answerable_declined=declined_answerable,
        unanswerable_answered=answered_unanswerable,
        answerable_declined_rate=round(declined_answerable / answerable, 4) if answerable else 0.0,
        unanswerable_answered_rate=(
            round(answered_unanswerable / unanswerable, 4) if unanswerable else 0.0
        ),
        min_relevance=answer.min_relevance,
        tenant=tenant,
    )
