"""Prometheus metrics: decisions by outcome, decision latency, queue size and oldest age.

Each app has its own registry (so tests can run several apps in one process). Queue figures are
read from the store when scraped, so they are right after a restart and across workers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from medpolicy.store import CaseStore

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0, 2.5)


class _QueueCollector(Collector):
    def __init__(self, store: CaseStore, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        size, oldest = self._store.queue_stats()
        yield GaugeMetricFamily(
            "medpolicy_queue_size", "Open cases (pending information or in review).", value=size
        )
        age = (self._clock() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "medpolicy_queue_oldest_age_seconds",
            "Age of the oldest open case since receipt (0 when the queue is empty).",
            value=max(age, 0.0),
        )
        yield GaugeMetricFamily(
            "medpolicy_store_writes_held_back",
            "Submissions waiting because the store cannot take writes now (e.g. another process "
            "holds SQLite's write lock); each is answered 503 once it has waited --lock-timeout.",
            value=self._store.writes_held_back(),
        )


class Metrics:
    def __init__(self, store: CaseStore) -> None:
        self.registry = CollectorRegistry()
        self.decisions = Counter(
            "medpolicy_decisions",
            "Engine decisions recorded, by outcome and kind (submission, resubmission).",
            ["outcome", "kind"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "medpolicy_decision_latency_seconds",
            "Time from a request body received to its decision committed.",
            ["kind"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.reviewer_actions = Counter(
            "medpolicy_reviewer_actions",
            "Reviewer actions recorded, by action.",
            ["action"],
            registry=self.registry,
        )
        self.registry.register(_QueueCollector(store, lambda: datetime.now(UTC)))

    def render(self) -> bytes:
        return generate_latest(self.registry)
