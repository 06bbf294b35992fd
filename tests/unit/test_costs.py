"""Cost per query: prices, the arithmetic, the response field and the per-day records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from ragops.bootstrap import build_container
from ragops.domain.costs import DEFAULT_PRICES, FREE, ModelPrice, price_of, query_cost
from ragops.domain.models import QueryCost, Usage
from ragops.entrypoints.api import create_app
from ragops.services.costs import cost_report, record_query_cost
from ragops.settings import Settings
from tests.fakes import GENERATIVE, ScriptedChatModel

DOC = b"Glaciers carve deep valleys over thousands of years of slow movement."


def test_prices_follow_inference_profiles_and_local_models_are_free():
    assert price_of("us.amazon.nova-pro-v1:0", DEFAULT_PRICES) == ModelPrice(0.80, 3.20)
    assert price_of("global.amazon.nova-2-lite-v1:0", DEFAULT_PRICES) == ModelPrice(0.33, 2.75)
    assert price_of("HuggingFaceTB/SmolLM2-135M-Instruct", DEFAULT_PRICES) is FREE


def test_query_cost_multiplies_tokens_by_prices():
    cost = query_cost(
        chat_model="us.amazon.nova-pro-v1:0",
        usage=Usage(input_tokens=1000, output_tokens=200),
        embedding_model="amazon.titan-embed-text-v2:0",
        embedding_tokens=12,
        prices=DEFAULT_PRICES,
    )
    assert cost.generation_usd == pytest.approx((1000 * 0.80 + 200 * 3.20) / 1e6)
    assert cost.embedding_usd == pytest.approx(12 * 0.02 / 1e6)
    assert cost.total_usd == pytest.approx(cost.generation_usd + cost.embedding_usd)


@pytest.fixture
def client(tmp_path, embedder, chroma_client):
    settings = Settings(
        data_dir=tmp_path / "data",
        min_relevance=0.1,
        **GENERATIVE,
        prices={"fake-chat": (100.0, 300.0), "fake/hashing-256": (50.0, 0.0)},
    )
    container = build_container(
        settings,
        embedder=embedder,
        chroma_client=chroma_client,
        chat_model=ScriptedChatModel(responses=["Glaciers carve deep valleys [1]."]),
    )
    with TestClient(create_app(container)) as test_client:
        yield test_client, container


def test_each_answer_reports_and_records_its_cost(client):
    http, container = client
    assert http.post("/v1/documents", files={"file": ("g.txt", DOC)}).status_code == 201
    answers = [
        http.post("/v1/query", json={"question": q}, headers={"X-Tenant-Id": "default"}).json()
        for q in ("How do glaciers carve valleys?", "What carves valleys?")
    ]
    for answer in answers:
        cost, usage = answer["cost"], answer["usage"]
        assert cost["input_tokens"] == usage["input_tokens"] > 0
        assert cost["embedding_tokens"] > 0
        expected = (
            usage["input_tokens"] * 100
            + usage["output_tokens"] * 300
            + cost["embedding_tokens"] * 50
        ) / 1e6
        assert cost["total_usd"] == pytest.approx(expected)
    (total,) = cost_report(container.store)
    assert total.tenant == "default" and total.queries == 2
    assert total.total_usd == pytest.approx(sum(a["cost"]["total_usd"] for a in answers))


def test_report_totals_per_tenant_and_day(tmp_path, container):
    store = container.store
    cost = QueryCost(embedding_tokens=3, input_tokens=10, output_tokens=5, total_usd=0.5)
    for tenant, day in [("acme", 1), ("acme", 1), ("acme", 2), ("globex", 2)]:
        record_query_cost(store, tenant, "m", cost, at=datetime(2026, 11, day, 9, tzinfo=UTC))
    report = cost_report(store)
    assert [(t.day, t.tenant, t.queries, t.total_usd) for t in report] == [
        ("2026-11-01", "acme", 2, 1.0),
        ("2026-11-02", "acme", 1, 0.5),
        ("2026-11-02", "globex", 1, 0.5),
    ]
    assert [t.tenant for t in cost_report(store, tenant="globex")] == ["globex"]
    assert [t.day for t in cost_report(store, since="2026-11-02")] == ["2026-11-02"] * 2
    assert cost_report(store, tenant="nobody") == []
