"""Model routing: the score, the switch, the answering path and the cost report."""

from __future__ import annotations

import dataclasses
import json

import pytest
from fastapi.testclient import TestClient

from ragops.domain.costs import DEFAULT_PRICES
from ragops.domain.routing import ModelTier, QueryRouter, complexity_score, question_features
from ragops.entrypoints.api import create_app
from ragops.errors import InvalidInput
from ragops.services.answering import answer_question
from ragops.services.ingestion import UploadedFile, ingest_files
from ragops.services.routing_report import load_questions, routing_report
from tests.fakes import ScriptedChatModel

SIMPLE = "Who ruled Normandy in 1066?"
COMPLEX = (
    "Why did the Normans adopt Christianity, and how did it change their relationship "
    "with the Franks?"
)


def test_demanding_questions_score_higher_than_factual_ones():
    simple, complex_ = (complexity_score(question_features(q)) for q in (SIMPLE, COMPLEX))
    assert simple < 0.2 < 0.8 < complex_
    features = question_features(COMPLEX)
    assert features["reasoning_cues"] >= 2 and features["fact_opening"] == 0.0


def test_router_threshold_and_switch():
    router = QueryRouter("lite-m", "pro-m", threshold=0.5)
    assert router.route(SIMPLE).tier is ModelTier.LITE
    decision = router.route(COMPLEX)
    assert (decision.tier, decision.model, decision.forced) == (ModelTier.PRO, "pro-m", False)
    assert QueryRouter("l", "p", threshold=1.0).route(COMPLEX).tier is ModelTier.LITE
    forced = QueryRouter("l", "p", force="pro").route(SIMPLE)
    assert forced.tier is ModelTier.PRO and forced.forced
    with pytest.raises(ValueError):
        QueryRouter("l", "p", threshold=1.5)
    with pytest.raises(ValueError):
        QueryRouter("l", "p", force="maybe")


def test_answering_sends_demanding_questions_to_the_pro_model(container):
    ingest_files(
        container.ingest_context(),
        tenant="default",
        files=[
            UploadedFile("normans.txt", b"The Normans adopted Christianity and ruled Normandy.")
        ],
    )
    lite = ScriptedChatModel(responses=["The Normans ruled Normandy [1]."], model_id="lite-m")
    pro = ScriptedChatModel(responses=["The Normans adopted Christianity [1]."], model_id="pro-m")
    ctx = dataclasses.replace(
        container.answer_context(),
        chat_model=lite,
        router=QueryRouter("lite-m", "pro-m"),
        pro_chat_model_factory=lambda: pro,
    )
    simple = answer_question(ctx, tenant="default", question=SIMPLE)
    complex_ = answer_question(ctx, tenant="default", question=COMPLEX)
    assert (simple.route.tier, simple.model) == (ModelTier.LITE, "lite-m")
    assert (complex_.route.tier, complex_.model) == (ModelTier.PRO, "pro-m")
    assert len(lite.seen) == len(pro.seen) == 1


def test_the_response_shows_the_route(container):
    with TestClient(create_app(container)) as client:
        client.post("/v1/documents", files={"file": ("n.txt", b"Normans ruled Normandy.")})
        body = client.post("/v1/query", json={"question": SIMPLE}).json()
    assert body["route"]["tier"] == "lite" and 0.0 <= body["route"]["score"] <= 1.0
    assert set(body["route"]["features"]) >= {"words", "reasoning_cues"}


def test_routing_report_prices_routed_against_always_pro(tmp_path):
    router = QueryRouter("us.amazon.nova-2-lite-v1:0", "us.amazon.nova-pro-v1:0")
    report = routing_report([SIMPLE, COMPLEX], router, DEFAULT_PRICES)
    assert (report.questions, report.lite, report.pro, report.lite_share) == (2, 1, 1, 0.5)
    assert 0 < report.cost_routed_usd < report.cost_always_pro_usd
    assert report.saving == pytest.approx(
        1 - report.cost_routed_usd / report.cost_always_pro_usd, abs=1e-4
    )

    beir = tmp_path / "queries.jsonl"
    beir.write_text(
        "\n".join(json.dumps({"_id": str(i), "text": q}) for i, q in enumerate([SIMPLE, COMPLEX]))
    )
    squad = tmp_path / "squad.json"
    squad.write_text(json.dumps({"data": [{"paragraphs": [{"qas": [{"question": SIMPLE}]}]}]}))
    assert load_questions(beir) == [SIMPLE, COMPLEX]
    assert load_questions(squad) == [SIMPLE]
    (tmp_path / "empty.jsonl").write_text("")
    for bad, message in (
        (tmp_path / "none.json", "no such file"),
        (tmp_path / "empty.jsonl", "no questions"),
    ):
        with pytest.raises(InvalidInput, match=message):
            load_questions(bad)
