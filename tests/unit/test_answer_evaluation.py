"""ragops eval answers: fitting the reader and measuring answers on a SQuAD 2.0 file
(fake embedder, real Chroma, the answering code the API runs)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ragops.domain.extractive import AnswerModel
from ragops.errors import InvalidInput
from ragops.services.answer_evaluation import (
    contains_gold,
    evaluate_answers,
    fit_answer_model,
    index_paragraphs,
    read_questions,
    save_answer_model,
    tradeoff_curve,
)

ARTICLES = {
    "Glaciers": [
        (
            "The Aletsch Glacier is the largest glacier in the Alps. It is about 23 "
            "kilometres long. Glaciers carve U-shaped valleys as they slide downhill.",
            [
                ("How long is the Aletsch Glacier?", "23 kilometres"),
                ("What do glaciers carve?", "U-shaped valleys"),
                ("How long is the Rhone Glacier?", None),
            ],
        ),
        (
            "Ice ages came and went many times. The last glacial maximum was about 20,000 "
            "years ago, when ice sheets covered much of North America.",
            [
                ("When was the last glacial maximum?", "about 20,000 years ago"),
                ("What covered much of North America?", "ice sheets"),
                ("When was the first glacial maximum?", None),
            ],
        ),
    ],
    "Tides": [
        (
            "Tides are caused by the gravity of the Moon and the Sun. Spring tides happen "
            "when the Sun and the Moon are aligned.",
            [
                ("What causes tides?", "the gravity of the Moon and the Sun"),
                ("When do spring tides happen?", "when the Sun and the Moon are aligned"),
                ("When do autumn tides happen?", None),
            ],
        ),
        (
            "The Bay of Fundy has the highest tides in the world, up to 16 metres. Its "
            "shape makes the water resonate.",
            [
                ("Where are the highest tides in the world?", "The Bay of Fundy"),
                ("How high are the tides in the Bay of Fundy?", "up to 16 metres"),
                ("How high are the tides in the Bay of Biscay?", None),
            ],
        ),
    ],
}


@pytest.fixture
def squad(tmp_path):
    data = {"version": "v2.0", "data": []}
    for title, paragraphs in ARTICLES.items():
        article = {"title": title, "paragraphs": []}
        for context, questions in paragraphs:
            qas = []
            for n, (question, answer) in enumerate(questions):
                qa = {"id": f"{title}-{len(article['paragraphs'])}-{n}", "question": question}
                if answer is None:
                    qa.update(is_impossible=True, answers=[])
                else:
                    start = context.index(answer)
                    qa.update(
                        is_impossible=False, answers=[{"text": answer, "answer_start": start}]
                    )
                qas.append(qa)
            article["paragraphs"].append({"context": context, "qas": qas})
        data["data"].append(article)
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def reader(tmp_path, embedder, chroma_client, chat_model):
    from ragops.bootstrap import build_container
    from ragops.settings import Settings

    return build_container(
        Settings(data_dir=tmp_path / "data", min_relevance=0.05, cache="off"),
        embedder=embedder,
        chroma_client=chroma_client,
        chat_model=chat_model,
    )


def test_the_gold_check_ignores_case() -> None:
    assert contains_gold("It is about 23 Kilometres long.", ["23 kilometres"])
    assert not contains_gold("It is long.", ["23 kilometres"])


def test_every_question_is_asked_and_counted(reader, squad) -> None:
    report = evaluate_answers(reader.ingest_context(), reader.answer_context(), squad)
    assert (report.overall["answerable"], report.overall["unanswerable"]) == (8, 4)
    assert report.questions == 12 and set(report.by_article) == {"Glaciers", "Tides"}
    o = report.overall
    for share in (
        "answer_contains_gold",
        "first_citation_gold",
        "answerable_declined",
        "unanswerable_answered",
    ):
        assert 0.0 <= o[share] <= 1.0
    assert o["latency_ms_p95"] >= o["latency_ms_p50"] > 0
    # Every answered answerable question shows an extractive answer: passages' own text.
    for example in report.examples:
        assert "[1]" in example["answer"]
    limited = evaluate_answers(
        reader.ingest_context(), reader.answer_context(), squad, limit=3, mode="auto"
    )
    assert limited.questions == 3 and "extractive" in limited.by_tier


def test_a_declining_reader_declines_every_answerable_question(reader, squad) -> None:
    ctx = replace(reader.answer_context(), answer_model=reader.answer_model.with_threshold(1.0))
    report = evaluate_answers(reader.ingest_context(), ctx, squad)
    assert report.overall["answerable_declined"] == 1.0
    assert report.overall["unanswerable_answered"] == 0.0
    assert report.overall["answer_contains_gold"] == 0.0


def test_fitting_learns_from_the_readings_and_round_trips(reader, squad, tmp_path) -> None:
    tenant, questions = index_paragraphs(reader.ingest_context(), squad)
    readings = read_questions(reader.answer_context(), tenant, questions)
    assert len(readings) == 12
    labelled = [r for r in readings if any(r.labels)]
    assert labelled, "some answerable question has its gold sentence among the candidates"
    model = fit_answer_model(readings, decline_rate=0.25)
    path = tmp_path / "model.json"
    save_answer_model(model, path)
    assert AnswerModel.from_dict(json.loads(path.read_text())).to_dict() == model.to_dict()
    # The fitted sentence scorer ranks a gold sentence first more often than not.
    firsts = 0
    for r in labelled:
        ranked = sorted(r.evidence, key=lambda e: -model.sentences.logit(e.features))
        firsts += r.labels[r.evidence.index(ranked[0])]
    assert firsts / len(labelled) > 0.5
    curve = tradeoff_curve(model, readings, [0.0, 0.5, 1.01])
    declined = [point["answerable_declined"] for point in curve]
    answered = [point["unanswerable_answered"] for point in curve]
    assert declined == sorted(declined) and answered == sorted(answered, reverse=True)
    assert curve[0]["answerable_declined"] == 0.0 and curve[-1]["unanswerable_answered"] == 0.0


def test_article_out_fits_on_the_other_articles(reader, squad) -> None:
    report = evaluate_answers(
        reader.ingest_context(), reader.answer_context(), squad, article_out=True
    )
    assert report.article_out and report.questions == 12
    declined = [point["answerable_declined"] for point in report.curve]
    assert len(declined) == 19 and declined == sorted(declined)


def test_article_out_needs_another_article(reader, squad, tmp_path) -> None:
    one = json.loads(squad.read_text())
    one["data"] = one["data"][:1]
    single = tmp_path / "single.json"
    single.write_text(json.dumps(one))
    with pytest.raises(InvalidInput, match="two articles or more"):
        evaluate_answers(reader.ingest_context(), reader.answer_context(), single, article_out=True)
    # ...unless it fits on another file's articles.
    report = evaluate_answers(
        reader.ingest_context(), reader.answer_context(), single, article_out=True, fit_on=squad
    )
    assert report.questions == 6


@pytest.mark.parametrize(("mode", "limit"), [("creative", None), ("extractive", 0)])
def test_bad_options_are_refused(reader, squad, mode, limit) -> None:
    with pytest.raises(InvalidInput):
        evaluate_answers(
            reader.ingest_context(), reader.answer_context(), squad, mode=mode, limit=limit
        )
