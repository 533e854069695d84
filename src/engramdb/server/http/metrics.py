"""Prometheus metrics of one server: requests, latencies, and memories per namespace.

Each app has its own registry (no process-global state, so tests can build
many apps). Request metrics are labelled by route template
(``/v1/namespaces/{namespace}/search``), never by the raw path, so the
number of series stays bounded. Memory counts are read from the store when
``/metrics`` is scraped.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from engramdb import Memory

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _MemoryCounts(Collector):
    def __init__(self, memory: Memory) -> None:
        self.memory = memory

    def collect(self) -> Iterator[GaugeMetricFamily]:
        engrams = GaugeMetricFamily(
            "engramdb_memories", "Memories (current versions) per namespace", labels=["namespace"]
        )
        versions = GaugeMetricFamily(
            "engramdb_memory_versions", "Versions kept per namespace", labels=["namespace"]
        )
        for name in self.memory.namespaces():
            stats = self.memory.stats(namespace=name)
            engrams.add_metric([name], stats.engrams)
            versions.add_metric([name], stats.versions)
        yield engrams
        yield versions


class Metrics:
    """The registry of one app and the instruments the middleware feeds."""

    def __init__(self, memory: Memory) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "engramdb_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "engramdb_http_request_duration_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            buckets=_BUCKETS_S,
            registry=self.registry,
        )
        self.registry.register(_MemoryCounts(memory))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
