"""ragops eval followups: the follow-up set built from SQuAD paragraphs, and the
measurement through the conversation code the API runs (fake embedder, real Chroma)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ragops.errors import InvalidInput
from ragops.services.abstention import load_squad
from ragops.services.followup_evaluation import (
    build_followups,
    evaluate_followups,
    lean_on,
    load_followups,
    save_followups,
)

PARAGRAPHS = [
    (
        "Normans",
        "The Normans were the people who gave their name to Normandy, a region in France. "
        "The Normans spoke Norman, a langue d'oil. Rollo founded the duchy of Normandy "
        "in 911.",
        [
            ("Who were the Normans?", "the people who gave their name to Normandy"),
            ("What language did the Normans speak?", "Norman"),
            ("Who founded the duchy of Normandy?", "Rollo"),
            ("When was the duchy of Normandy founded?", "911"),
        ],
    ),
    (
        "Glaciers",
        "The Aletsch Glacier is the largest glacier in the Alps. The Aletsch Glacier is "
        "about 23 kilometres long and is melting quickly.",
        [
            ("Where is the Aletsch Glacier?", "the Alps"),
            ("How long is the Aletsch Glacier?", "about 23 kilometres"),
        ],
    ),
]


@pytest.fixture
def squad(tmp_path):
    data = {"version": "v2.0", "data": []}
    for title, context, questions in PARAGRAPHS:
        qas = [
            {
                "id": f"{title}-{n}",
                "question": question,
                "is_impossible": False,
                "answers": [{"text": answer, "answer_start": context.index(answer)}],
            }
            for n, (question, answer) in enumerate(questions)
        ]
        data["data"].append({"title": title, "paragraphs": [{"context": context, "qas": qas}]})
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def reader(tmp_path, embedder, chroma_client, chat_model):
    from ragops.bootstrap import build_container
    from ragops.settings import Settings

    return build_container(
        Settings(
            data_dir=tmp_path / "data",
            min_relevance=0.0,
            answerability_threshold=0.0,
            cache="off",
        ),
        embedder=embedder,
        chroma_client=chroma_client,
        chat_model=chat_model,
    )


@pytest.mark.parametrize(
    ("first", "second", "leaning", "replaced"),
    [
        (
            "In what country is Normandy located?",
            "When were the Normans in Normandy?",
            "When were the Normans in it?",
            "Normandy",
        ),
        (
            "Who were the Normans?",
            "What language did the Normans speak?",
            "What language did they speak?",
            "the Normans",
        ),
        (
            "Who was Margaret's brother?",
            "Who was Margaret's husband?",
            "Who was its husband?",
            "Margaret",
        ),
        (
            "Where is the Aletsch Glacier?",
            "How long is the Aletsch Glacier?",
            "How long is it?",
            "the Aletsch Glacier",
        ),
    ],
)
def test_the_second_question_leans_on_the_first(first, second, leaning, replaced):
    assert lean_on(first, second) == (leaning, replaced)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("What causes tides?", "When was the last glacial maximum?"),  # nothing shared
        ("What do glaciers carve?", "How fast do glaciers carve?"),  # a verb is no subject
        ("Who invented the steam engine?", "How hot is the steam boiler?"),  # a modifier
    ],
)
def test_no_follow_up_is_made_without_a_shared_subject(first, second):
    assert lean_on(first, second) is None


def test_the_set_pairs_questions_of_one_paragraph_and_round_trips(squad, tmp_path):
    _, questions = load_squad(squad)
    cases = build_followups(questions)
    assert [c.follow_up for c in cases] == [
        "What language did they speak?",
        "When was it founded?",
        "How long is it?",
    ]
    assert [c.paragraph for c in cases] == [0, 0, 1]
    path = tmp_path / "set.json"
    save_followups(cases, squad, path)
    assert load_followups(path) == cases
    (tmp_path / "bad.json").write_text('{"cases": []}')
    with pytest.raises(InvalidInput, match="not a follow-up set"):
        load_followups(tmp_path / "bad.json")
    with pytest.raises(InvalidInput, match="no such file"):
        load_followups(tmp_path / "missing.json")


def test_follow_ups_are_asked_in_their_conversation_and_alone(reader, squad, tmp_path):
    from ragops.bootstrap import scratch_store

    scratch = scratch_store(tmp_path / "scratch")
    report = evaluate_followups(
        reader.ingest_context(),
        reader.query_context(),
        reader.question_rewriter,
        scratch,
        squad,
    )
    assert report.cases == 3
    assert report.restored == 1.0  # each made back into the original question
    assert report.in_conversation["first_citation_gold"] == 1.0
    assert report.original["first_citation_gold"] == 1.0
    assert report.alone["first_citation_gold"] <= report.in_conversation["first_citation_gold"]
    assert report.examples[0]["standalone"] == "What language did the Normans speak?"
    # nothing was kept in the deployment's store: conversations and records went to scratch
    assert not list(reader.store.list("conversations/"))
    assert not list(reader.store.list("usage/"))
    assert list(scratch.list("conversations/"))


def test_the_cli_reports_and_records_the_run(reader, squad, tmp_path, monkeypatch):
    from ragops.entrypoints.cli import app

    monkeypatch.setattr("ragops.bootstrap.build_container", lambda *a, **k: reader)
    written = tmp_path / "followups.json"
    result = CliRunner().invoke(
        app,
        ["eval", "followups", "--dataset", str(squad), "--write-set", str(written), "--json"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["cases"] == 3 and report["first_citation_gold"] == 1.0
    assert report["mlflow_run_id"]
    assert len(load_followups(written)) == 3
    missing = CliRunner().invoke(app, ["eval", "followups", "--dataset", str(tmp_path / "no.json")])
    assert missing.exit_code == 1 and "no such file" in missing.output
