"""The answer log over the object store: records round-trip in the JSON written before the
repository existed, older shapes read, listings stay inside their tenant and days, and a
malformed answer id never becomes a key."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from ragops.domain.models import (
    Answer,
    AnswerMode,
    CacheInfo,
    Fallback,
    PromptInfo,
    QueryCost,
    Usage,
)
from ragops.domain.routing import ModelTier, RouteDecision
from ragops.errors import ObjectNotFound
from ragops.repositories.answer_log import AnswerLog, AnswerRecord
from ragops.services.costs import (
    cost_report,
    record_answer_cost,
    record_query_cost,
)
from tests.fakes import MemoryObjectStore

ID = "20250301120000123456abcdef01"
"""An answer id of 2025-03-01."""

ANSWER_JSON = {
    "tenant": "acme",
    "answer_id": ID,
    "at": "2025-03-01T12:00:00.200000+00:00",
    "model": "m-pro",
    "prompt_version": "v2",
    "experiment": "speed",
    "latency_ms": 41.5,
    "cache_hit": None,
    "abstained": False,
    "grounded": True,
    "route": "pro",
    "mode": "generative",
    "fallback": None,
    "embedding_tokens": 12,
    "input_tokens": 900,
    "output_tokens": 80,
    "embedding_usd": 0.00001,
    "generation_usd": 0.002,
    "total_usd": 0.00201,
    "rerank_usd": 0.0,
    "rewrite_usd": 0.0,
}
"""An answer record as the repository writes it, in order (``services/costs.py`` wrote the
same before the repository, without ``rewrite_usd``)."""

COST_JSON = {
    "tenant": "acme",
    "at": "2026-11-03T09:15:00.000001+00:00",
    "model": "m",
    "embedding_tokens": 3,
    "input_tokens": 10,
    "output_tokens": 5,
    "embedding_usd": 0.0,
    "generation_usd": 0.5,
    "total_usd": 0.5,
}
"""A cost record of ``record_query_cost`` from before ``rerank_usd`` existed."""


def answer_id(day: str, n: int) -> str:
    return f"{day.replace('-', '')}120000{n:06d}{n:08x}"


def put(store: MemoryObjectStore, key: str, data: dict) -> None:
    store.put(key, json.dumps(data).encode())


def test_an_answer_record_round_trips_in_the_json_it_was_written_in():
    store = MemoryObjectStore()
    record = AnswerRecord.from_dict(ANSWER_JSON)
    assert record.day == "2025-03-01" and record.cost.input_tokens == 900
    key = AnswerLog(store).append(record)
    assert key == f"usage/acme/2025-03-01/{ID}.json"
    stored = store.objects[key].decode()
    assert list(json.loads(stored)) == list(ANSWER_JSON)  # same fields, same order
    assert json.loads(stored) == ANSWER_JSON
    assert AnswerLog(store).get("acme", ID) == record


def test_record_answer_cost_writes_what_it_wrote_before():
    store = MemoryObjectStore()
    cost = QueryCost(12, 900, 80, 0.00001, 0.002, 0.00201, 0.0)
    answer = Answer(
        answer="Pausing destroys the tier [1].",
        citations=[],
        model="m-pro",
        usage=Usage(900, 80),
        latency_ms=41.5,
        cost=cost,
        route=RouteDecision(ModelTier.PRO, "m-pro", 0.8, 0.5),
        cache=CacheInfo(hit="semantic", similarity=0.97),
        answer_id=ID,
        prompt=PromptInfo("v2", "speed"),
        mode=AnswerMode.EXTRACTIVE,
        fallback=Fallback.UNGROUNDED_GENERATION,
    )
    record_answer_cost(store, "acme", answer)
    (key,) = store.objects
    stored = json.loads(store.objects[key])
    expected = {
        **ANSWER_JSON,
        "at": stored["at"],
        "cache_hit": "semantic",
        "grounded": False,  # the fallback served: not grounded as made
        "mode": "extractive",
        "fallback": "ungrounded_generation",
    }
    assert key == f"usage/acme/2025-03-01/{ID}.json"
    assert list(stored) == list(expected) and stored == expected
    assert datetime.fromisoformat(stored["at"]).tzinfo is not None


def test_a_cost_record_keeps_its_old_shape_and_name():
    store = MemoryObjectStore()
    at = datetime(2026, 11, 3, 9, 15, 0, 1, tzinfo=UTC)
    key = record_query_cost(store, "acme", "m", QueryCost(3, 10, 5, 0.0, 0.5, 0.5), at=at)
    assert re.fullmatch(r"usage/acme/2026-11-03/091500000001-[0-9a-f]{8}\.json", key)
    stored = json.loads(store.objects[key])
    assert stored == {**COST_JSON, "rerank_usd": 0.0, "rewrite_usd": 0.0}
    assert list(stored) == [*COST_JSON, "rerank_usd", "rewrite_usd"]
    # An answer without an id is recorded as a cost record too.
    record_answer_cost(
        store,
        "acme",
        Answer("a", [], "m", Usage(), 3.0, prompt=PromptInfo("v1"), cost=QueryCost(1)),
    )
    newest = next(k for k in store.objects if k != key)
    assert set(json.loads(store.objects[newest])) == {*COST_JSON, "rerank_usd", "rewrite_usd"}


def test_records_of_older_shapes_read_with_defaults():
    store = MemoryObjectStore()
    put(store, "usage/acme/2026-11-03/091500000001-0a1b2c3d.json", COST_JSON)
    older = {
        k: v
        for k, v in ANSWER_JSON.items()
        if k not in ("route", "mode", "fallback", "rewrite_usd")
    }
    older["answer_id"] = other = answer_id("2025-03-02", 7)
    put(store, f"usage/acme/2025-03-02/{other}.json", older)
    # Hand-written, as some tests do: no tenant, no time, no answer id in the JSON.
    put(store, "usage/acme/2025-03-04/x.json", {"cache_hit": True, "input_tokens": 4})
    records = {r.day: r for r in AnswerLog(store).records(tenant="acme")}
    assert set(records) == {"2026-11-03", "2025-03-02", "2025-03-04"}
    cost = records["2026-11-03"]
    assert cost.answer_id is None and cost.prompt_version is None and cost.model == "m"
    assert cost.cost == QueryCost(3, 10, 5, 0.0, 0.5, 0.5, rerank_usd=0.0)
    assert not cost.abstained and not cost.grounded and cost.cache_hit is None
    assert cost.to_dict() == {**COST_JSON, "rerank_usd": 0.0, "rewrite_usd": 0.0}
    answer = records["2025-03-02"]
    assert answer.answer_id == other and answer.route is None and answer.mode is None
    assert answer.grounded and answer.latency_ms == 41.5
    bare = records["2025-03-04"]
    assert bare.tenant == "acme" and bare.cache_hit == "True" and bare.cost.input_tokens == 4


@pytest.mark.parametrize(
    "record",
    [
        AnswerRecord.from_dict(ANSWER_JSON),
        AnswerRecord.from_dict(COST_JSON),
        # No answer id, but answer fields (hand-written records have this shape).
        AnswerRecord(tenant="acme", at=COST_JSON["at"], cache_hit="exact", grounded=True),
        AnswerRecord(tenant="acme", answer_id=ID, abstained=True, cost=QueryCost(rerank_usd=1)),
    ],
)
def test_to_dict_loses_nothing(record):
    assert AnswerRecord.from_dict(record.to_dict()) == record
    assert AnswerRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record


def test_hand_written_records_read_with_their_fields():
    store = MemoryObjectStore()
    name = "usage/acme/2026-11-26/20261126000000000000000000{:02x}.json"
    put(store, name.format(1), {"cache_hit": "exact", "grounded": True, "total_usd": 0.5})
    put(store, name.format(2), {"cache_hit": None, "grounded": False, "total_usd": 0.25})
    rows = sorted(
        (r.cost.total_usd, r.cache_hit, r.grounded)
        for r in AnswerLog(store).records(tenant="acme", day="2026-11-26")
    )
    assert rows == [(0.25, None, False), (0.5, "exact", True)]


def test_listing_by_tenant_day_and_since():
    store = MemoryObjectStore()
    log = AnswerLog(store)
    days = ["2025-03-01", "2025-03-02", "2025-03-03"]
    for n, day in enumerate(days):
        for tenant in ("t1", "t10", "t2"):
            log.append(AnswerRecord(tenant=tenant, answer_id=answer_id(day, n), model=tenant))
    assert [(r.tenant, r.day) for r in log.records(tenant="t1")] == [("t1", d) for d in days]
    assert {r.model for r in log.records(tenant="t1")} == {"t1"}
    assert [r.day for r in log.records(tenant="t10", since="2025-03-02")] == days[1:]
    assert [r.tenant for r in log.records(tenant="t1", day="2025-03-02")] == ["t1"]
    everyone = list(log.records(since="2025-03-03"))
    assert sorted(r.tenant for r in everyone) == ["t1", "t10", "t2"]
    assert {r.day for r in log.records(day="2025-03-01")} == {"2025-03-01"}
    assert len(list(log.records())) == 9
    assert list(log.records(tenant="t3")) == []


def test_a_tenant_never_gets_another_tenants_record():
    store = MemoryObjectStore()
    log = AnswerLog(store)
    theirs = answer_id("2025-03-01", 1)
    log.append(AnswerRecord(tenant="t10", answer_id=theirs))
    with pytest.raises(ObjectNotFound):
        log.get("t1", theirs)
    # A record whose JSON names another tenant is the tenant's of its key.
    put(store, f"usage/t1/2025-03-01/{answer_id('2025-03-01', 2)}.json", {"tenant": "t10"})
    assert [r.tenant for r in log.records(tenant="t1")] == ["t1"]
    assert log.get("t1", answer_id("2025-03-01", 2)).tenant == "t1"
    assert [r.tenant for r in log.records(tenant="t10")] == ["t10"]


@pytest.mark.parametrize(
    "bad",
    [
        "nope",
        "",
        ID + "\n",  # a match of ^...$ that is not the whole id
        ID[:-1],
        ID + "0",
        ID[:-1] + "G",
        "../../../../etc/passwd",
        "\u0660" * 20 + "abcdef01",  # Arabic-Indic digits: \d, but not 0-9
    ],
)
def test_a_malformed_answer_id_is_refused_before_the_store(bad):
    class NoReads(MemoryObjectStore):
        def get(self, key):
            raise AssertionError(f"read {key!r}")

    store = NoReads()
    log = AnswerLog(store)
    with pytest.raises(ValueError, match="not an answer id"):
        log.get("acme", bad)
    with pytest.raises(ValueError, match="not an answer id"):
        log.append(AnswerRecord(tenant="acme", answer_id=bad, day="2025-03-01"))
    assert store.objects == {}


def test_an_invalid_tenant_is_refused():
    log = AnswerLog(MemoryObjectStore())
    for bad in ("../acme", "a/b", ""):
        with pytest.raises(ValueError):
            log.append(AnswerRecord(tenant=bad, answer_id=ID))
        with pytest.raises(ValueError):
            log.get(bad, ID)
    with pytest.raises(ValueError):
        list(log.records(tenant="a/b"))


def test_keys_outside_the_layout_are_skipped_and_bad_json_is_an_error():
    store = MemoryObjectStore()
    put(store, "usage/acme/stray.json", ANSWER_JSON)
    put(store, "usage/acme/2025-03-01/deeper/x.json", ANSWER_JSON)
    put(store, "usage/acme/2025-03-01/notes.txt", ANSWER_JSON)
    assert list(AnswerLog(store).records(tenant="acme")) == []
    put(store, "usage/acme/2025-03-01/broken.json", [1, 2])
    with pytest.raises(ValueError):
        list(AnswerLog(store).records(tenant="acme"))


def test_the_cost_report_sums_the_typed_records_by_tenant_and_day():
    store = MemoryObjectStore()
    put(store, "usage/t1/2026-11-03/091500000001-0a1b2c3d.json", COST_JSON)
    AnswerLog(store).append(AnswerRecord.from_dict({**ANSWER_JSON, "tenant": "t10"}))
    AnswerLog(store).append(
        AnswerRecord(tenant="t1", answer_id=answer_id("2026-11-03", 3), cost=QueryCost(1, 2, 3))
    )
    report = cost_report(store)
    assert [(t.day, t.tenant, t.queries, t.input_tokens, t.total_usd) for t in report] == [
        ("2025-03-01", "t10", 1, 900, 0.00201),
        ("2026-11-03", "t1", 2, 12, 0.5),
    ]
    assert [t.tenant for t in cost_report(store, tenant="t1")] == ["t1"]


@pytest.mark.parametrize(
    "data",
    [[1, 2], {}, {"tenant": "acme", "input_tokens": "many"}, {"tenant": "a", "total_usd": {}}],
)
def test_what_is_not_a_record_is_a_value_error(data):
    with pytest.raises(ValueError):
        AnswerRecord.from_dict(data)
