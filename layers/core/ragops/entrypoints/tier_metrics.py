"""The tier service's Prometheus metrics: request latency and counts by operation, and
the chunks an instance holds; served on the API port, or on a port of their own
(``RAGOPS_TIER_METRICS_PORT``) that the load balancer does not forward."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class TierMetrics:
    """Prometheus metrics of one service instance, in a registry of its own (so several
    instances in one process, as in tests, do not collide)."""

    def __init__(self, chunks_held: Callable[[], float]) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "ragops_tier_request_seconds",
            "Time to serve a tier request, by operation.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "ragops_tier_requests",
            "Tier requests served, by operation and HTTP status.",
            ["operation", "status"],
            registry=self.registry,
        )
        gauge = Gauge(
            "ragops_tier_chunks",
            "Chunks held in memory for the tenants this instance has loaded.",
            registry=self.registry,
        )
        gauge.set_function(chunks_held)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    @contextmanager
    def served_on(self, port: int | None) -> Iterator[None]:
        """While inside: the metrics on ``port`` alone (``GET /metrics``), if one is given."""
        if port is None:
            yield
            return
        from prometheus_client import start_http_server

        server, _thread = start_http_server(port, registry=self.registry)
        logger.info("metrics on port %d", port)
        try:
            yield
        finally:
            server.shutdown()
            server.server_close()
