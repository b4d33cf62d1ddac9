"""Ingest: a feed file through every stage, batch by batch, into the store and the alerts.

    parse -> normalise -> enrich -> route -> de-duplicate -> match -> store -> alerts

Each parsed batch goes through all stages before the next is read, so memory is bounded by
the batch size whatever the file's size. Rows a stage refuses go to quarantine with their
reason; a bad row never stops the batch. The run's counts are committed with each batch's
alert updates, so the feed page shows a long ingest progressing.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
from sqlalchemy.orm import Session

from entente.alerts.service import add_findings
from entente.core.clock import utcnow
from entente.core.config import Settings
from entente.core.errors import AppError
from entente.members.constituencies import all_constituencies
from entente.pipeline.batches import MATCHED_INDICATORS, ORGANISATION
from entente.pipeline.choices import RunStatus
from entente.pipeline.dedup import DEFAULT_KEY_FIELDS, Deduplicator
from entente.pipeline.enrich.data import EnrichmentData
from entente.pipeline.enrich.service import sample_data
from entente.pipeline.enrich.stage import enrich
from entente.pipeline.matching import (
    IndicatorIndex,
    RecipientCache,
    match,
    restrict_to_recipients,
)
from entente.pipeline.models import Feed, FeedRun
from entente.pipeline.normalise import normalise
from entente.pipeline.parsers import parser
from entente.pipeline.quarantine import QuarantineStore
from entente.pipeline.routing import ConstituencyIndex, route
from entente.pipeline.store import EventStore

SOURCE_IP = "source.ip"
T = TypeVar("T")


@dataclass(slots=True)
class Pipeline:
    """What the stages read, loaded once per ingest (or per worker): stores, enrichment
    tables, the routing index and the indicator index."""

    store: EventStore
    quarantine: QuarantineStore
    enrichment: EnrichmentData
    routing: ConstituencyIndex
    indicators: IndicatorIndex
    recipients: RecipientCache = field(default_factory=RecipientCache)

    @classmethod
    def load(cls, session: Session, settings: Settings) -> Pipeline:
        return cls(
            store=EventStore(settings.store_dir),
            quarantine=QuarantineStore(settings.store_dir),
            enrichment=load_enrichment(settings),
            routing=ConstituencyIndex.build(all_constituencies(session)),
            indicators=IndicatorIndex.load(session, utcnow()),
        )


def load_enrichment(settings: Settings) -> EnrichmentData:
    """The prepared data of `entente enrich update`, else the small sample Entente ships
    (enough for the demo; an operator loads the full files, see docs/enrichment.md)."""
    if (settings.enrichment_dir / "manifest.json").exists():
        return EnrichmentData.load(settings.enrichment_dir)
    return sample_data()


@dataclass(slots=True)
class IngestCounts:
    """Rows through each stage of one run (or one batch)."""

    rows_in: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    unrouted: int = 0
    matched: int = 0
    alerts: int = 0
    seconds: float = 0.0
    by_reason: dict[str, int] = field(default_factory=dict)

    def add(self, other: IngestCounts) -> None:
        for name in ("rows_in", "stored", "duplicates", "quarantined", "unrouted", "matched"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.alerts += other.alerts
        for reason, count in other.by_reason.items():
            self.by_reason[reason] = self.by_reason.get(reason, 0) + count


BatchCallback = Callable[[IngestCounts], None]


def ingest_file(
    session: Session,
    pipeline: Pipeline,
    feed: Feed,
    path: Path,
    on_batch: BatchCallback | None = None,
) -> FeedRun:
    """Run one file of `feed` through the pipeline; returns the finished run.

    A file its parser cannot read at all (wrong format, missing columns) fails the run with
    the parser's error, which is re-raised after the run is recorded as failed.
    """
    run = FeedRun(feed_id=feed.id, file=str(path), status=RunStatus.RUNNING, started_at=utcnow())
    session.add(run)
    session.commit()
    dedup = feed_deduplicator(pipeline, feed)
    started = time.perf_counter()
    try:
        parsed_batches = parser(feed.parser).parse(path, feed.options.get("parser", {}))
        for parsed in read_ahead(parsed_batches):
            counts = process_batch(session, pipeline, dedup, feed, parsed.kept)
            counts.quarantined += pipeline.quarantine.add(feed.name, parsed.quarantined)
            counts.rows_in += parsed.quarantined.height
            _record(run, counts, time.perf_counter() - started)
            session.commit()
            if on_batch is not None:
                on_batch(counts)
    except AppError as exc:
        session.rollback()
        run.status, run.error = RunStatus.FAILED, exc.message
        _finish(session, run, time.perf_counter() - started)
        raise
    run.status = RunStatus.SUCCEEDED
    _finish(session, run, time.perf_counter() - started)
    return run


def read_ahead(batches: Iterator[T], depth: int = 2) -> Iterator[T]:
    """The same items, produced by a thread that keeps up to `depth` ready.

    Parsing (pyarrow's CSV reader) and the later stages (polars, numpy, SQL) both release
    the GIL for their heavy work, so reading the next batch while this one is processed puts
    the second core to work; `depth` bounds the memory that costs. An error of the reader
    is raised here, in the consumer, where the run records it.
    """
    ready: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(message: tuple[str, Any]) -> bool:
        """Queue a message unless the consumer has gone; False once it has."""
        while not stop.is_set():
            try:
                ready.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in batches:
                if not offer(("item", item)):
                    return
            offer(("end", None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            offer(("error", exc))

    worker = threading.Thread(target=produce, name="entente-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = ready.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        worker.join(timeout=5)


def feed_deduplicator(pipeline: Pipeline, feed: Feed) -> Deduplicator:
    """The feed's de-duplication: its `dedup_key` fields and `dedup_days` window (options),
    else the defaults (ip, port, classification, feed; one day)."""
    return Deduplicator(
        pipeline.store,
        key_fields=feed.options.get("dedup_key", DEFAULT_KEY_FIELDS),
        window=timedelta(days=int(feed.options.get("dedup_days", 1))),
    )


def process_batch(
    session: Session, pipeline: Pipeline, dedup: Deduplicator, feed: Feed, batch: pl.DataFrame
) -> IngestCounts:
    """Normalise, enrich, route, de-duplicate, match, store and count one parsed batch."""
    counts = IngestCounts(rows_in=batch.height)
    # A parser may name the report (Shadowserver's scan_http, ...); else the feed names it.
    given = pl.col("feed.name") if "feed.name" in batch.columns else pl.lit(None, dtype=pl.String)
    batch = batch.with_columns(pl.coalesce(given, pl.lit(feed.name)).alias("feed.name"))
    normalised = normalise(batch)
    counts.quarantined += pipeline.quarantine.add(feed.name, normalised.quarantined)
    kept = normalised.kept
    # Parsed once (by the normaliser's check) for enrichment, routing and matching.
    parsed = {SOURCE_IP: normalised.addresses[SOURCE_IP]} if SOURCE_IP in kept.columns else {}
    enriched = enrich(kept, pipeline.enrichment, parsed)
    routed = route(enriched, pipeline.routing, parsed.get(SOURCE_IP))
    fresh, counts.duplicates = dedup.drop_seen(match(routed, pipeline.indicators, parsed))
    matched = restrict_to_recipients(session, fresh, pipeline.recipients)
    # The Parquet write (GIL released) runs beside the alert grouping and upsert; the caller
    # commits the alerts only after this returns, so only once the rows are stored.
    writing = _STORE_WRITER.submit(pipeline.store.write, matched)
    counts.unrouted = int(matched[ORGANISATION].is_null().sum()) if matched.height else 0
    if matched.height and MATCHED_INDICATORS in matched.columns:
        counts.matched = int((matched[MATCHED_INDICATORS].list.len() > 0).sum())
    counts.alerts = add_findings(session, matched)
    counts.stored = writing.result()
    return counts


# Shared by the ingests of the process; each batch awaits its own write before returning.
_STORE_WRITER = ThreadPoolExecutor(max_workers=2, thread_name_prefix="entente-store")


def _record(run: FeedRun, counts: IngestCounts, seconds: float) -> None:
    run.rows_in += counts.rows_in
    run.rows_stored += counts.stored
    run.duplicates += counts.duplicates
    run.quarantined += counts.quarantined
    run.unrouted += counts.unrouted
    run.matched += counts.matched
    run.seconds = seconds


def _finish(session: Session, run: FeedRun, seconds: float) -> None:
    run.seconds = seconds
    run.finished_at = utcnow()
    session.add(run)
    session.commit()
