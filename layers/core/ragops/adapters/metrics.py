"""``MetricsSink`` adapters: Prometheus (the embedded default, served at ``/metrics``) and
CloudWatch through Powertools' EMF metrics (Lambda), plus one that drops everything."""

from __future__ import annotations

import threading
from typing import Any

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class NullMetrics:
    def count(self, name: str, value: float = 1.0, **labels: str) -> None:
        return None

    def observe(self, name: str, value: float, **labels: str) -> None:
        return None

    def gauge(self, name: str, value: float, **labels: str) -> None:
        return None


class PrometheusMetrics:
    """Counters (``ragops_<name>_total``), histograms and gauges (``ragops_<name>``)
    created on first use in a registry of this instance's own. A name keeps the label
    names it was first used with."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry

        self.registry = CollectorRegistry()
        self._metrics: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _metric(self, kind: str, name: str, labels: dict[str, str]) -> Any:
        from prometheus_client import Counter, Gauge, Histogram

        with self._lock:
            metric = self._metrics.get(name)
            if metric is None:
                label_names = sorted(labels)
                if kind == "counter":
                    metric = Counter(f"ragops_{name}", name, label_names, registry=self.registry)
                elif kind == "gauge":
                    metric = Gauge(f"ragops_{name}", name, label_names, registry=self.registry)
                else:
                    metric = Histogram(
                        f"ragops_{name}",
                        name,
                        label_names,
                        buckets=LATENCY_BUCKETS,
                        registry=self.registry,
                    )
                self._metrics[name] = metric
        return metric.labels(**labels) if labels else metric

    def count(self, name: str, value: float = 1.0, **labels: str) -> None:
        self._metric("counter", name, labels).inc(value)

    def observe(self, name: str, value: float, **labels: str) -> None:
        self._metric("histogram", name, labels).observe(value)

    def gauge(self, name: str, value: float, **labels: str) -> None:
        self._metric("gauge", name, labels).set(value)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


_ACRONYMS = {"usd": "USD"}


def _camel(name: str, labels: dict[str, str]) -> str:
    """``query_cost_usd`` -> ``QueryCostUSD``; label values are appended the same way."""
    parts = [name, *(labels[k] for k in sorted(labels))]
    return "".join(
        _ACRONYMS.get(word, word.capitalize()) for part in parts for word in part.split("_")
    )


class CloudWatchMetrics:
    """Powertools metrics (CloudWatch EMF, flushed by the handler's ``log_metrics``). EMF
    dimensions cost a metric each, so label values become part of the metric name
    (``queries`` with ``tier=pro`` -> ``QueriesPro``)."""

    def __init__(self, namespace: str = "ragops") -> None:
        from aws_lambda_powertools import Metrics

        self._metrics = Metrics(namespace=namespace)

    def count(self, name: str, value: float = 1.0, **labels: str) -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        unit = MetricUnit.NoUnit if name.endswith("usd") else MetricUnit.Count
        self._metrics.add_metric(name=_camel(name, labels), unit=unit, value=value)

    def observe(self, name: str, value: float, **labels: str) -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        unit = MetricUnit.Seconds if name.endswith("seconds") else MetricUnit.NoUnit
        self._metrics.add_metric(name=_camel(name, labels), unit=unit, value=value)

    def gauge(self, name: str, value: float, **labels: str) -> None:
        """EMF has no gauges: the value is published with the invocation's metrics (chart
        its Maximum or latest value)."""
        from aws_lambda_powertools.metrics import MetricUnit

        self._metrics.add_metric(name=_camel(name, labels), unit=MetricUnit.NoUnit, value=value)
