"""A behaviour suite for the ``MetricsSink`` port, run against every sink: the calls the
services make (``services/observability.py``: counts with labels, money, latencies, a
gauge) are accepted, repeated, and come out where each sink publishes them."""

from __future__ import annotations

import pytest

from ragops.adapters.metrics import CloudWatchMetrics, NullMetrics, PrometheusMetrics
from ragops.ports import RendersMetrics
from tests.fakes import RecordingMetrics


def report(sink) -> None:
    for _ in range(2):
        sink.count("queries", tier="lite", variant="answer-v1")
        sink.count("query_cost_usd", 0.0025)
        sink.observe("query_latency_seconds", 0.8, variant="answer-v1")
        sink.gauge("tier_chunks_held", 1200.0)
    sink.gauge("tier_chunks_held", 1500.0)  # a level: the last value wins


@pytest.fixture(params=["null", "prometheus", "cloudwatch", "recording"])
def any_sink(request, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ragops")
    sink = {
        "null": NullMetrics,
        "prometheus": PrometheusMetrics,
        "cloudwatch": CloudWatchMetrics,
        "recording": RecordingMetrics,
    }[request.param]()
    yield sink
    if isinstance(sink, CloudWatchMetrics):
        sink._metrics.clear_metrics()  # Powertools shares one metric set between instances


def test_every_sink_takes_what_the_services_report(any_sink):
    report(any_sink)  # nothing raises, repeated names and labels included
    assert isinstance(any_sink, RendersMetrics) == isinstance(any_sink, PrometheusMetrics)


def test_prometheus_exposes_counters_histograms_and_the_last_gauge():
    sink = PrometheusMetrics()
    report(sink)
    body, content_type = sink.render()
    text = body.decode()
    assert content_type.startswith("text/plain")
    assert 'ragops_queries_total{tier="lite",variant="answer-v1"} 2.0' in text
    assert "ragops_query_cost_usd_total 0.005" in text
    assert 'ragops_query_latency_seconds_count{variant="answer-v1"} 2.0' in text
    assert "ragops_tier_chunks_held 1500.0" in text


def test_cloudwatch_puts_label_values_into_metric_names():
    sink = CloudWatchMetrics()
    sink._metrics.clear_metrics()  # Powertools shares one metric set between instances
    report(sink)
    blob = sink._metrics.serialize_metric_set()
    sink._metrics.clear_metrics()
    names = {m["Name"] for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"QueriesLiteAnswer-v1", "QueryCostUSD", "QueryLatencySecondsAnswer-v1"} <= names
    assert blob["QueriesLiteAnswer-v1"] == [1.0, 1.0]


def test_the_recording_fake_keeps_what_it_was_told():
    sink = RecordingMetrics()
    report(sink)
    assert sink.total("queries") == 2 and sink.total("query_cost_usd") == 0.005
    assert sink.gauges[-1] == ("tier_chunks_held", 1500.0)
