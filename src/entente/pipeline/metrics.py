"""Counters of the stream workers: Prometheus metrics per process, and totals over every
worker kept in Redis for the API process, its `/metrics` and the UI.

Why two places: each `entente worker` is its own process (often on its own machine), so its
`prometheus_client` counters live in that process. What the API shows must be the sum over
all of them, so each worker also adds every batch's numbers to a Redis hash of its own, in
the same transaction as the batch's XACK: a batch is counted once it is acknowledged, and a
worker killed before its XACK leaves its batch to be counted by whoever reclaims it. (A
worker killed after its commit but before its XACK leaves that one batch uncounted in
Redis; the run's counts in SQL stay exact.)

Metric names (`stage`, `outcome` label the rows through each stage):

    entente_pipeline_rows_total{worker, stage, outcome}
        parse/in, parse/quarantined, normalise/quarantined, route/unrouted,
        dedup/dropped, match/matched, store/out
    entente_pipeline_batches_total{worker, outcome}    stored, skipped, dead
    entente_pipeline_alert_updates_total{worker}
    entente_pipeline_batch_latency_seconds{worker}     XADD to XACK, a histogram
    entente_pipeline_stream_length / _lag / _pending   the input stream, at scrape time
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import redis
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from entente.pipeline.ingest import IngestCounts

ROWS = "entente_pipeline_rows"
BATCHES = "entente_pipeline_batches"
ALERT_UPDATES = "entente_pipeline_alert_updates"
LATENCY = "entente_pipeline_batch_latency_seconds"
STAGE_OUTCOMES = (
    ("parse", "in"),
    ("parse", "quarantined"),
    ("normalise", "quarantined"),
    ("route", "unrouted"),
    ("dedup", "dropped"),
    ("match", "matched"),
    ("store", "out"),
)
"""Every (stage, outcome) pair a batch's rows are counted under, in pipeline order."""
BATCH_OUTCOMES = ("stored", "skipped", "dead")
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)


def batch_tally(counts: IngestCounts, parse_quarantined: int) -> dict[str, int]:
    """One stored batch's rows per `stage.outcome`, plus `alerts` (alert rows touched).

    `counts` is `process_batch`'s (its `quarantined` are the normaliser's); the parser's
    rejects ride with the batch and are quarantined by the worker, so they come apart.
    """
    return {
        "parse.in": counts.rows_in + parse_quarantined,
        "parse.quarantined": parse_quarantined,
        "normalise.quarantined": counts.quarantined,
        "route.unrouted": counts.unrouted,
        "dedup.dropped": counts.duplicates,
        "match.matched": counts.matched,
        "store.out": counts.stored,
        "alerts": counts.alerts,
    }


class PipelineMetrics:
    """The workers' Prometheus counters in one registry; any number of workers of the process
    share it, each under its own `worker` label."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.rows = Counter(
            ROWS,
            "Rows through each pipeline stage, by outcome.",
            ["worker", "stage", "outcome"],
            registry=registry,
        )
        self.batches = Counter(
            BATCHES, "Stream batches handled, by outcome.", ["worker", "outcome"], registry=registry
        )
        self.alert_updates = Counter(
            ALERT_UPDATES, "Alert rows added to by stored batches.", ["worker"], registry=registry
        )
        self.latency = Histogram(
            LATENCY,
            "Seconds from a batch's XADD to its XACK (stored, alerts committed).",
            ["worker"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def record(self, worker: str, tally: Mapping[str, int], latency: float) -> None:
        """Count one stored batch."""
        for stage, outcome in STAGE_OUTCOMES:
            self.rows.labels(worker, stage, outcome).inc(tally.get(f"{stage}.{outcome}", 0))
        self.alert_updates.labels(worker).inc(tally.get("alerts", 0))
        self.batches.labels(worker, "stored").inc()
        self.latency.labels(worker).observe(latency)

    def record_outcome(self, worker: str, outcome: str) -> None:
        """Count a batch that was not stored by this worker (`skipped`: already done; `dead`)."""
        self.batches.labels(worker, outcome).inc()

    def value(self, name: str, labels: Mapping[str, str]) -> float:
        """One sample's current value (0 when never counted): for tests and the CLI."""
        found = self.registry.get_sample_value(name, dict(labels))
        return 0.0 if found is None else found


@dataclass(frozen=True, slots=True)
class WorkerCounters:
    """One worker's totals as kept in Redis (`stage.outcome` -> rows, `batches.<outcome>`,
    `alerts`), and when it last acknowledged a batch (Unix seconds; 0: never)."""

    name: str
    counters: dict[str, int]
    seen_at: float = 0.0


@dataclass(frozen=True, slots=True)
class StreamCounters:
    """What the UI shows of the streaming pipeline: the input stream and every worker.

    `length` is entries in the stream (bounded by the producers' back-pressure), `lag` those
    not yet delivered to a worker (None when Redis cannot tell), `pending` those delivered
    but not yet acknowledged; `totals` sums the workers' counters.
    """

    length: int
    lag: int | None
    pending: int
    workers: list[WorkerCounters] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        summed: dict[str, int] = {}
        for worker in self.workers:
            for name, value in worker.counters.items():
                summed[name] = summed.get(name, 0) + value
        return summed


StreamReader = Callable[[], StreamCounters]
"""Reads the stream's state and the workers' totals (`entente.pipeline.streams.stream_counters`
bound to a client and a config): the collector takes a function so this module needs no
Redis key names."""


class StreamCollector(Collector):
    """The workers' totals and the stream's state, read from Redis at each scrape.

    Register it in the API's registry (`app.state.metrics_registry`) when Redis is
    configured. Redis being down does not fail the scrape: `entente_pipeline_stream_up`
    says 0 and the other families are left out.
    """

    def __init__(self, read: StreamReader) -> None:
        self.read = read

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("entente_pipeline_stream_up", "Whether Redis answered the scrape.")
        try:
            state = self.read()
        except redis.RedisError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _stream_families(state)
        yield from _worker_families(state.workers)


def _stream_families(state: StreamCounters) -> Iterable[Metric]:
    yield GaugeMetricFamily(
        "entente_pipeline_stream_length", "Entries in the input stream.", value=state.length
    )
    yield GaugeMetricFamily(
        "entente_pipeline_stream_pending",
        "Entries delivered to a worker and not yet acknowledged.",
        value=state.pending,
    )
    if state.lag is not None:
        yield GaugeMetricFamily(
            "entente_pipeline_stream_lag",
            "Entries not yet delivered to any worker.",
            value=state.lag,
        )


def _worker_families(workers: list[WorkerCounters]) -> Iterable[Metric]:
    rows = CounterMetricFamily(
        ROWS, "Rows through each pipeline stage, by outcome.", labels=["worker", "stage", "outcome"]
    )
    batches = CounterMetricFamily(
        BATCHES, "Stream batches handled, by outcome.", labels=["worker", "outcome"]
    )
    alerts = CounterMetricFamily(
        ALERT_UPDATES, "Alert rows added to by stored batches.", labels=["worker"]
    )
    for worker in workers:
        for stage, outcome in STAGE_OUTCOMES:
            value = worker.counters.get(f"{stage}.{outcome}", 0)
            rows.add_metric([worker.name, stage, outcome], value)
        for outcome in BATCH_OUTCOMES:
            batches.add_metric([worker.name, outcome], worker.counters.get(f"batches.{outcome}", 0))
        alerts.add_metric([worker.name], worker.counters.get("alerts", 0))
    yield from (rows, batches, alerts)
