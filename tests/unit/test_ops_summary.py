"""The operations page's figures: documents by status, and per-day queries, cache hits,
grounded answers and cost from the answer records."""

from __future__ import annotations

import json
from datetime import date

from fastapi.testclient import TestClient

from ragops.adapters.localfs import LocalFsObjectStore
from ragops.entrypoints.api import create_app
from ragops.services.ops_summary import ops_summary


def _record(store, tenant, day, n, *, cache_hit=None, grounded=True, cost=0.001):
    key = f"usage/{tenant}/{day}/{day.replace('-', '')}000000000000{n:08x}.json"
    body = {"cache_hit": cache_hit, "grounded": grounded, "total_usd": cost}
    store.put(key, json.dumps(body).encode())


def test_days_are_counted_per_tenant_oldest_first(tmp_path):
    store = LocalFsObjectStore(tmp_path)
    _record(store, "acme", "2026-11-26", 1)
    _record(store, "acme", "2026-11-26", 2, cache_hit="exact", cost=0.0)
    _record(store, "acme", "2026-11-24", 3, grounded=False)
    _record(store, "acme", "2026-11-10", 4)  # older than the window
    _record(store, "globex", "2026-11-26", 5)
    summary = ops_summary(store, "acme", today=date(2026, 11, 26))
    assert summary.days[0].day == "2026-11-20"
    assert summary.today.queries == 2 and summary.today.cache_hits == 1
    assert summary.to_dict()["today"]["cache_hit_rate"] == 0.5
    assert summary.today.cost_usd == 0.001
    two_days_ago = summary.days[-3]
    assert (two_days_ago.queries, two_days_ago.grounded) == (1, 0)
    assert sum(d.queries for d in summary.days) == 3
    assert summary.documents == 0


def test_the_endpoint_reports_documents_and_tier(container):
    client = TestClient(create_app(container))
    client.post("/v1/documents", files={"file": ("g.txt", b"Glaciers carve valleys slowly.")})
    data = client.get("/v1/ops/summary").json()
    assert data["tenant"] == "default" and data["tier"]["state"] == "active"
    assert (data["documents"], data["indexed"]) == (1, 1) and data["chunks"] >= 1
    assert len(data["days"]) == 7 and data["today"]["cache_hit_rate"] is None
    other = client.get("/v1/ops/summary", headers={"X-Tenant-Id": "globex"}).json()
    assert other["documents"] == 0
