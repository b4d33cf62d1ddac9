"""Ingest: a feed file through every stage, batch by batch, into the store and the alerts.

    parse -> normalise -> enrich -> route -> de-duplicate -> match -> store -> alerts

Each parsed batch goes through all stages before the next is read, so memory is bounded by
the batch size whatever the file's size. Rows a stage refuses go to quarantine with their
reason; a bad row never stops the batch. The run's counts are committed with each batch's
alert updates, so the feed page shows a long ingest progressing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

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
from entente.pipeline.overlap import in_order_map, read_ahead
from entente.pipeline.parsers import parser
from entente.pipeline.quarantine import QuarantineStore
from entente.pipeline.routing import ConstituencyIndex, route
from entente.pipeline.store import EventStore

SOURCE_IP = "source.ip"


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
        prepared_batches = in_order_map(
            lambda parsed: (prepare_batch(pipeline, feed, parsed.kept), parsed.quarantined),
            read_ahead(parsed_batches, depth=1),
            workers=PREPARING_WORKERS,
        )
        for prepared, put_aside in prepared_batches:
            counts = finish_batch(session, pipeline, dedup, feed, prepared)
            counts.quarantined += pipeline.quarantine.add(feed.name, put_aside)
            counts.rows_in += put_aside.height
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


def feed_deduplicator(pipeline: Pipeline, feed: Feed) -> Deduplicator:
    """The feed's de-duplication: its `dedup_key` fields and `dedup_days` window (options),
    else the defaults (ip, port, classification, feed; one day)."""
    return Deduplicator(
        pipeline.store,
        key_fields=feed.options.get("dedup_key", DEFAULT_KEY_FIELDS),
        window=timedelta(days=int(feed.options.get("dedup_days", 1))),
    )


PREPARING_WORKERS = 2
"""Batches prepared at once. Why more than one: the preparing stages are polars and numpy
calls that release the GIL, so two batches go through them on two cores while this thread
de-duplicates, stores and counts the one before; order is kept (`in_order_map`)."""


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """A batch through the stages that need no database and no state of the run:
    normalised, enriched, routed and matched (rows put aside by the normaliser apart)."""

    rows_in: int
    rows: pl.DataFrame
    quarantined: pl.DataFrame


def prepare_batch(pipeline: Pipeline, feed: Feed, batch: pl.DataFrame) -> PreparedBatch:
    """Normalise, enrich, route and match one parsed batch (safe to run on any thread)."""
    # A parser may name the report (Shadowserver's scan_http, ...); else the feed names it.
    given = pl.col("feed.name") if "feed.name" in batch.columns else pl.lit(None, dtype=pl.String)
    batch = batch.with_columns(pl.coalesce(given, pl.lit(feed.name)).alias("feed.name"))
    normalised = normalise(batch)
    kept = normalised.kept
    # Parsed once (by the normaliser's check) for enrichment, routing and matching.
    parsed = {SOURCE_IP: normalised.addresses[SOURCE_IP]} if SOURCE_IP in kept.columns else {}
    enriched = enrich(kept, pipeline.enrichment, parsed)
    routed = route(enriched, pipeline.routing, parsed.get(SOURCE_IP))
    matched = match(routed, pipeline.indicators, parsed)
    return PreparedBatch(batch.height, matched, normalised.quarantined)


def finish_batch(
    session: Session, pipeline: Pipeline, dedup: Deduplicator, feed: Feed, prepared: PreparedBatch
) -> IngestCounts:
    """De-duplicate, restrict, store and count a prepared batch, in the run's order; the
    caller commits."""
    counts = IngestCounts(rows_in=prepared.rows_in)
    counts.quarantined += pipeline.quarantine.add(feed.name, prepared.quarantined)
    fresh, counts.duplicates = dedup.drop_seen(prepared.rows)
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


def process_batch(
    session: Session, pipeline: Pipeline, dedup: Deduplicator, feed: Feed, batch: pl.DataFrame
) -> IngestCounts:
    """Normalise, enrich, route, de-duplicate, match, store and count one parsed batch."""
    return finish_batch(session, pipeline, dedup, feed, prepare_batch(pipeline, feed, batch))


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
