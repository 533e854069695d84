"""Prometheus metrics of one server: requests, latencies, and memories per namespace.

Each app has its own registry (no process-global state, so tests can build
many apps). Request metrics are labelled by route template
(``/v1/namespaces/{namespace}/search``), never by the raw path, so the
number of series stays bounded. Memory counts are read from the store when
``/metrics`` is scraped, and so is the background consolidation's state
(``server.schedule``) and of the purge of expired memories (``server.purging``),
when the app runs them.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from engramdb import Memory
from engramdb.server.purging import PurgeSchedule
from engramdb.server.schedule import ConsolidationSchedule

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


class _ScheduleCounts(Collector):
    def __init__(self, schedule: ConsolidationSchedule) -> None:
        self.schedule = schedule

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        state = self.schedule.state()
        yield GaugeMetricFamily(
            "engramdb_consolidation_interval_seconds",
            "Seconds between background consolidation passes",
            value=state.every_s,
        )
        counters = (
            ("passes", "Background consolidation passes over the namespaces", state.passes),
            ("runs", "Background consolidation runs (one namespace each) completed", state.runs),
            ("failures", "Background consolidation runs that failed", state.failures),
            ("episodes", "Episodes consolidated in the background", state.episodes),
            ("facts", "New facts written by background consolidation", state.facts),
            ("summaries", "Summaries written by background consolidation", state.summaries),
        )
        for name, text, value in counters:
            yield CounterMetricFamily(f"engramdb_consolidation_{name}", text, value=value)
        last = state.last_run_at
        yield GaugeMetricFamily(
            "engramdb_consolidation_last_run_timestamp_seconds",
            "Unix time the latest successful background run ended (0: none yet)",
            value=0.0 if last is None else last.timestamp(),
        )


class _PurgeCounts(Collector):
    def __init__(self, purging: PurgeSchedule) -> None:
        self.purging = purging

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        purging = self.purging
        yield GaugeMetricFamily(
            "engramdb_purge_interval_seconds",
            "Seconds between background purges of expired memories",
            value=purging.every_s,
        )
        counters = (
            ("passes", "Background purge passes over the namespaces", purging.passes),
            (
                "memories",
                "Memories erased by background purges, derived ones included",
                purging.purged,
            ),
            ("failures", "Background purge passes that failed", purging.failures),
        )
        for name, text, value in counters:
            yield CounterMetricFamily(f"engramdb_purge_{name}", text, value=value)


class Metrics:
    """The registry of one app and the instruments the middleware feeds.

    With a ``schedule``, its counters are exported too (``engramdb_consolidation_*``);
    with ``purging``, the background purge's (``engramdb_purge_*``, docs/expiry.md).
    """

    def __init__(
        self,
        memory: Memory,
        schedule: ConsolidationSchedule | None = None,
        purging: PurgeSchedule | None = None,
    ) -> None:
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
        if schedule is not None:
            self.registry.register(_ScheduleCounts(schedule))
        if purging is not None:
            self.registry.register(_PurgeCounts(purging))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
