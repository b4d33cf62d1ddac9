"""The stream worker: takes queued batches, runs the stages, stores each batch exactly once.

How a batch is stored once although it may be delivered again (see `pipeline/streams.py`
for the whole design):

1. Under the store locks of its feed partitions, a re-delivered batch first deletes the
   event parts an earlier attempt wrote (`part-<run>-<seq>.parquet`); then the stored keys
   are read (through a per-file cache), the batch de-duplicated against them and its parts
   written under that name; the locks are released (`BatchScope`, `StreamDeduplicator`,
   `BatchEventStore`).
2. Its quarantined rows go to parts named after it too (`BatchQuarantine`): a re-run
   replaces them.
3. Its alert upsert, its run's counts and its `pipeline_stream_batch` row are committed in
   one transaction; a re-delivered batch that finds the row is only acknowledged.
4. Only then is the entry acknowledged (XACK).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl
import redis
import structlog
from redis.exceptions import LockError
from redis.lock import Lock
from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from entente.core.clock import utcnow
from entente.core.config import Settings
from entente.core.errors import AppError, BadValue, ServiceUnavailable
from entente.pipeline import feeds
from entente.pipeline.choices import RunStatus
from entente.pipeline.dedup import DEFAULT_KEY_FIELDS, Deduplicator
from entente.pipeline.ingest import IngestCounts, Pipeline, process_batch
from entente.pipeline.metrics import PipelineMetrics, batch_tally
from entente.pipeline.models import Feed, FeedRun, StreamBatch
from entente.pipeline.quarantine import QuarantineStore
from entente.pipeline.store import FEED_NAME, PART_GLOB, EventStore, escape_partition_value
from entente.pipeline.streams import (
    PipelineStream,
    RawEntry,
    StreamEntry,
    decode_entry,
    redis_errors,
)

_log = structlog.get_logger("entente.pipeline.worker")
_STAGING = ".stream-staging"

Keys = npt.NDArray[np.uint64]

# ---- one batch's writes ----------------------------------------------------------------


class StoredKeys:
    """The `_dedup_key` column of stored part files, cached per file version.

    Each batch starts a fresh `Deduplicator` (it must see the parts other workers wrote
    since the last one); re-reading every part of the window would cost more than the batch.
    """

    def __init__(self, limit: int = 50_000) -> None:
        self.limit = limit
        self._keys: dict[tuple[str, int, int, int], Keys] = {}

    def get(self, path: Path, read: Callable[[Path], Keys]) -> Keys:
        stat = path.stat()
        version = (str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size)
        found = self._keys.get(version)
        if found is None:
            if len(self._keys) >= self.limit:
                self._keys.clear()
            found = self._keys[version] = read(path)
        return found


class BatchScope:
    """One batch's hold on the store: the locks of the feed partitions it writes, taken
    before its keys are compared and released once its parts are written, and the names
    of its parts."""

    def __init__(
        self, root: Path, entry: StreamEntry, locks: Callable[[str], Lock], keys: StoredKeys
    ) -> None:
        self.root, self.entry, self.locks, self.keys = root, entry, locks, keys
        self.part = f"part-{entry.part_stem}.parquet"
        self.held: list[Lock] = []
        self.entered = False

    def enter(self, partitions: Iterable[str]) -> None:
        """Take the partitions' locks; on a re-delivery, delete the parts an earlier attempt
        wrote (they lie in the same partitions: the same rows go to the same places)."""
        if self.entered:
            return
        self.entered = True
        # Always in the same order, so two workers wanting the same two cannot deadlock.
        for partition in sorted(set(partitions)):
            lock = self.locks(partition)
            lock.acquire()
            self.held.append(lock)
        if self.entry.redelivered:
            # Only the event parts: the quarantine parts are replaced by name, and this
            # attempt has already written its first (the normaliser's) before de-duplication.
            remove_event_parts(self.root, self.entry.part_stem)

    def release(self) -> None:
        while self.held:
            lock = self.held.pop()
            try:
                lock.release()
            except LockError:
                # Held past `lock_seconds`: another worker may have compared keys meanwhile.
                _log.warning("store lock expired before release", entry=self.entry.id)


def feed_partitions(batch: pl.DataFrame) -> list[str]:
    """The `feed=` partitions (escaped) a batch's rows are stored under: a lock each."""
    if FEED_NAME not in batch.columns:
        return [escape_partition_value(None)]
    names = batch.get_column(FEED_NAME).cast(pl.String).unique().to_list()
    return [escape_partition_value(name) for name in names]


def remove_event_parts(root: Path, stem: str) -> int:
    """Delete a batch's event parts (a crashed or abandoned attempt's); how many went."""
    return _remove(root.glob(f"events/day=*/feed=*/part-{stem}.parquet"))


def remove_quarantine_parts(root: Path, stem: str) -> int:
    """Delete a batch's quarantine parts (an abandoned batch's); how many went."""
    return _remove(root.glob(f"quarantine/feed=*/part-{stem}-q*.parquet"))


def _remove(parts: Iterator[Path]) -> int:
    removed = 0
    for part in parts:
        part.unlink(missing_ok=True)
        removed += 1
    return removed


class BatchEventStore(EventStore):
    """The event store, writing a batch's parts under its scope's name and then letting go
    of the store lock (the keys it compared against are now on disk for the others)."""

    def __init__(self, root: Path, scope: BatchScope) -> None:
        super().__init__(root)
        self.scope = scope

    def write(self, batch: pl.DataFrame, part: str | None = None) -> int:
        try:
            return super().write(batch, part or self.scope.part)
        finally:
            self.scope.release()


class BatchQuarantine(QuarantineStore):
    """The quarantine, writing the n-th add of a batch as `part-<run>-<seq>-q<n>.parquet`,
    so a re-run replaces it.

    `QuarantineStore.add` names parts itself, so each add goes to the worker's own staging
    store (`staging`, which nobody else writes) and the one file it wrote is renamed into
    place: the same filesystem, so the rename is atomic.
    """

    def __init__(self, root: Path, scope: BatchScope, staging: Path) -> None:
        super().__init__(root)
        self.scope = scope
        self.staging = QuarantineStore(staging)
        self.adds = 0

    def add(self, feed: str, rows: pl.DataFrame) -> int:
        self.adds += 1
        if rows.height == 0:  # a re-run of the batch has none either: nothing to replace
            return super().add(feed, rows)
        name = f"part-{self.scope.entry.part_stem}-q{self.adds}.parquet"
        _remove(self._staged())  # an earlier add that failed half-way must not be moved
        added = self.staging.add(feed, rows)
        for written in self._staged():
            target = self.quarantine / written.parent.name / name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(written, target)
            _fsync_directory(target.parent)
        return added

    def _staged(self) -> Iterator[Path]:
        return self.staging.quarantine.glob(f"feed=*/{PART_GLOB}")


def remove_stale_staging(root: Path, older_than: timedelta) -> int:
    """Delete the staging directories of workers that died (a live one's is younger)."""
    removed = 0
    for directory in (root / _STAGING).glob("*"):
        if time.time() - directory.stat().st_mtime > older_than.total_seconds():
            shutil.rmtree(directory, ignore_errors=True)
            removed += 1
    return removed


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class StreamDeduplicator(Deduplicator):
    """A `Deduplicator` for one batch of a stream worker: it takes the store lock before
    reading the stored keys, and reads them through the worker's per-file cache."""

    def __init__(self, store: EventStore, scope: BatchScope, feed: Feed) -> None:
        super().__init__(
            store,
            key_fields=feed.options.get("dedup_key", DEFAULT_KEY_FIELDS),
            window=timedelta(days=int(feed.options.get("dedup_days", 1))),
        )
        self.scope = scope

    def drop_seen(self, batch: pl.DataFrame) -> tuple[pl.DataFrame, int]:
        self.scope.enter(feed_partitions(batch))
        return super().drop_seen(batch)

    def _file_keys(self, path: Path) -> Keys:
        return self.scope.keys.get(path, super()._file_keys)


# ---- the worker ------------------------------------------------------------------------

Checkpoint = Callable[[str, StreamEntry], None]
"""Called with "stored" (parts written, alerts not yet committed) and "committed" (not yet
acknowledged): tests kill the worker there to check what a crash leaves."""


def _no_checkpoint(point: str, entry: StreamEntry) -> None:
    return None


class StreamWorker:
    """Takes batches from the stream and runs them through the pipeline until stopped.

    Set `stop` (from a signal handler or another thread) to finish the current batch and
    leave. One worker handles one batch at a time: run several processes to use more cores.
    """

    def __init__(
        self,
        stream: PipelineStream,
        sessions: sessionmaker[Session],
        settings: Settings,
        name: str,
        metrics: PipelineMetrics | None = None,
    ) -> None:
        self.stream, self.sessions, self.settings, self.name = stream, sessions, settings, name
        self.metrics = metrics
        self.stop = threading.Event()
        self.checkpoint: Checkpoint = _no_checkpoint
        self.handled = 0
        self._keys = StoredKeys()
        self._pipeline: Pipeline | None = None
        self._loaded_at = 0.0
        self._staging = settings.store_dir / _STAGING / uuid.uuid4().hex

    def prepare(self) -> None:
        """Join the group and load the stages' data now rather than with the first batch
        (`run` does it too): a broken database or Redis shows at once."""
        with redis_errors():
            self.stream.ensure_group()
            self.stream.announce(self.name)
        with self.sessions() as session:
            self._current_pipeline(session)
        remove_stale_staging(self.settings.store_dir, timedelta(hours=1))

    def run(self, idle_exit: float | None = None) -> int:
        """Handle batches until stopped, or until none came for `idle_exit` seconds;
        returns how many this worker handled."""
        self.prepare()
        for raw in self.stream.read_own_pending(self.name):
            self.handle_safely(raw)
        idle_since = time.monotonic()
        while not self.stop.is_set():
            try:
                found = self.stream.reclaim(self.name) or self.stream.read_new(self.name)
            except redis.RedisError as exc:
                _log.warning("redis unavailable; retrying", worker=self.name, error=str(exc))
                self.stop.wait(1.0)
                continue
            for raw in found:
                self.handle_safely(raw)
            if found:
                idle_since = time.monotonic()
                continue
            self._trim()  # nothing to do: a good time to drop what is acknowledged
            if idle_exit is not None and time.monotonic() - idle_since >= idle_exit:
                break
        shutil.rmtree(self._staging, ignore_errors=True)
        with redis_errors():
            self.stream.retire(self.name)
        return self.handled

    def _trim(self) -> None:
        try:
            self.stream.trim()
        except redis.RedisError as exc:
            _log.warning("could not trim the stream", worker=self.name, error=str(exc))

    def handle_safely(self, raw: RawEntry) -> None:
        """Handle one entry; an unexpected failure leaves it pending, to be retried."""
        try:
            self.handle(raw)
        except Exception:
            # Database or Redis down, disk full, a bug: the entry stays pending and is
            # reclaimed after `min_idle_ms`, at most `max_deliveries` times.
            _log.exception("batch failed; left pending", worker=self.name, entry=raw.id)
            self.stop.wait(1.0)

    def handle(self, raw: RawEntry) -> None:
        """Store one entry's batch and commit its alerts, then acknowledge it."""
        try:
            entry = decode_entry(raw)
        except BadValue as exc:
            self._give_up(raw, None, exc.message)
            return
        deliveries = self.stream.deliveries(raw.id) if raw.redelivered else 1
        if deliveries > self.stream.config.max_deliveries:
            self._give_up(raw, entry, f"failed {deliveries - 1} times; see the workers' logs")
            return
        with self.sessions() as session:
            if session.get(StreamBatch, (entry.run_id, entry.seq)) is not None:
                # Committed by a worker that died before its XACK (and maybe before it
                # could finish the run).
                self._finish_run(entry.run_id)
                self._skip(raw)
                return
            try:
                tally = self._store(session, entry)
            except IntegrityError:  # another worker committed it first (or the run is gone)
                session.rollback()
                self._skip(raw)
                return
            except AppError as exc:
                if isinstance(exc, ServiceUnavailable):
                    raise
                session.rollback()
                self._give_up(raw, entry, exc.message)
                return
        self.checkpoint("committed", entry)
        self._finish_run(entry.run_id)
        self.stream.acknowledge(raw.id, self.name, {**tally, "batches.stored": 1})
        if self.metrics is not None:
            self.metrics.record(self.name, tally, time.time() - entry.queued_at)
        self.handled += 1

    def _store(self, session: Session, entry: StreamEntry) -> dict[str, int]:
        """Run the stages and store the batch; commit its alerts, counts and done-row."""
        feed = feeds.get_feed(session, entry.feed)
        pipeline = self._current_pipeline(session)
        scope = BatchScope(self.settings.store_dir, entry, self.stream.store_lock, self._keys)
        root = self.settings.store_dir
        scoped = replace(
            pipeline,
            store=BatchEventStore(root, scope),
            quarantine=BatchQuarantine(root, scope, self._staging),
        )
        try:
            counts = process_batch(
                session, scoped, StreamDeduplicator(scoped.store, scope, feed), feed, entry.batch
            )
        finally:
            scope.release()
        rejected = scoped.quarantine.add(feed.name, entry.quarantined)
        self.checkpoint("stored", entry)
        session.add(
            StreamBatch(
                run_id=entry.run_id,
                seq=entry.seq,
                last=entry.last,
                entry_id=entry.id,
                worker=self.name[:200],
            )
        )
        _add_to_run(session, entry.run_id, counts, rejected)
        session.commit()
        return batch_tally(counts, rejected)

    def _current_pipeline(self, session: Session) -> Pipeline:
        """The stages' data, reloaded every `reload_seconds` (new constituencies, indicators)."""
        stale = time.monotonic() - self._loaded_at > self.stream.config.reload_seconds
        if self._pipeline is None or stale:
            self._pipeline = Pipeline.load(session, self.settings)
            self._loaded_at = time.monotonic()
        return self._pipeline

    def _skip(self, raw: RawEntry) -> None:
        self.stream.acknowledge(raw.id, self.name, {"batches.skipped": 1})
        if self.metrics is not None:
            self.metrics.record_outcome(self.name, "skipped")

    def _give_up(self, raw: RawEntry, entry: StreamEntry | None, reason: str) -> None:
        """Dead-letter the entry, leaving none of its rows stored; the run records why."""
        _log.error("batch dead-lettered", worker=self.name, entry=raw.id, reason=reason)
        if entry is not None:
            self._remove_stored(entry)
            with self.sessions() as session:
                session.add(
                    StreamBatch(
                        run_id=entry.run_id,
                        seq=entry.seq,
                        last=entry.last,
                        entry_id=entry.id,
                        worker=self.name[:200],
                        error=reason,
                    )
                )
                try:
                    session.commit()
                except IntegrityError:  # already recorded, or its run was deleted
                    session.rollback()
            self._finish_run(entry.run_id)
        self.stream.dead_letter(raw, self.name, reason)
        if self.metrics is not None:
            self.metrics.record_outcome(self.name, "dead")

    def _remove_stored(self, entry: StreamEntry) -> None:
        """Delete what an abandoned batch stored, holding the locks of its partitions."""
        root = self.settings.store_dir
        parts = root.glob(f"events/day=*/feed=*/part-{entry.part_stem}.parquet")
        partitions = [part.parent.name.removeprefix("feed=") for part in parts]
        scope = BatchScope(
            root, replace(entry, redelivered=True), self.stream.store_lock, self._keys
        )
        try:
            scope.enter(partitions)
        finally:
            scope.release()
        remove_quarantine_parts(root, entry.part_stem)

    def _finish_run(self, run_id: int) -> None:
        with self.sessions() as session:
            finish_run_if_done(session, run_id)


def _add_to_run(session: Session, run_id: int, counts: IngestCounts, rejected: int) -> None:
    """Add a batch's counts to its run in SQL (`x = x + n`: workers add concurrently)."""
    run = session.get(FeedRun, run_id)
    seconds = (utcnow() - run.started_at).total_seconds() if run is not None else 0.0
    session.execute(
        update(FeedRun)
        .where(FeedRun.id == run_id)
        .values(
            rows_in=FeedRun.rows_in + counts.rows_in + rejected,
            rows_stored=FeedRun.rows_stored + counts.stored,
            duplicates=FeedRun.duplicates + counts.duplicates,
            quarantined=FeedRun.quarantined + counts.quarantined + rejected,
            unrouted=FeedRun.unrouted + counts.unrouted,
            matched=FeedRun.matched + counts.matched,
            seconds=seconds,
        )
    )


def finish_run_if_done(session: Session, run_id: int) -> bool:
    """Mark the run finished once every batch up to its last is done; True if it was now.

    Run after the batch's own commit: of two workers finishing a run's last two batches
    at once, the later to commit then sees both.
    """
    done, total, error = session.execute(
        select(
            func.count(),
            func.max(case((StreamBatch.last.is_(True), StreamBatch.seq + 1))),
            func.max(StreamBatch.error),
        ).where(StreamBatch.run_id == run_id)
    ).one()
    if total is None or done < total:
        return False
    run = session.get(FeedRun, run_id)
    if run is None or run.status is not RunStatus.RUNNING:
        return False
    finished = utcnow()
    status, message = (RunStatus.FAILED, error) if error else (RunStatus.SUCCEEDED, "")
    result = session.execute(
        update(FeedRun)
        .where(FeedRun.id == run_id, FeedRun.status == RunStatus.RUNNING)
        .values(
            status=status,
            error=message,
            finished_at=finished,
            seconds=(finished - run.started_at).total_seconds(),
        )
    )
    session.commit()
    return bool(getattr(result, "rowcount", 0))


def default_worker_name() -> str:
    """`<host>-<pid>`: unique per process, and says where to look for a stuck one."""
    return f"{os.uname().nodename}-{os.getpid()}"
