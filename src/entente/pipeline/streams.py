"""The pipeline scaled out over Redis Streams: producers queue parsed batches, any number of
`entente worker` processes on any number of machines run the stages and store them.

    entente ingest FILE --stream     parse; XADD each batch (Arrow IPC, zstd or lz4) with
      -> <prefix>:batches            its feed, file, run and seq; consumer group `pipeline`
    entente worker (xN)              XREADGROUP; normalise -> enrich -> route -> match ->
                                     dedup -> store -> alerts (`ingest.process_batch`);
                                     XACK only once stored and its alerts committed

What holds, and why:

- Nothing is lost: an entry stays in the group's pending list until acknowledged; a worker
  that dies leaves it there and, once it has been idle `min_idle_ms`, another worker takes
  it over (XAUTOCLAIM). An entry that keeps failing (`max_deliveries`) or holds bad data
  goes to the dead-letter stream `<prefix>:dead` with the reason, payload included.
- Nothing is stored twice: a batch is named by its run and its sequence number in the file.
  Its store parts are named after it (`part-<run>-<seq>.parquet`), and a re-delivered
  batch first deletes any parts an earlier attempt left, then writes them again: a re-run
  replaces, never adds. Its alert upsert is committed in one transaction with a
  `pipeline_stream_batch` row; a re-delivered batch that finds its row is only
  acknowledged. (Keyed by run and seq, not the entry id: the pair names the content, and
  entry ids repeat if Redis is emptied and refilled.)
- De-duplication holds across workers: keys are read back from what is stored, so the
  read-keys-then-write step runs under a Redis lock per feed partition
  (`<prefix>:store-lock:<feed>`; keys of different feeds never collide); the stages
  before it, and batches of other feeds, run in parallel.
- Memory is bounded: XADD never trims (MAXLEN would drop batches nobody processed). A
  producer adds only while the stream holds fewer than `max_entries` entries (checked and
  added in one Lua script, so several producers keep the bound) and otherwise waits;
  acknowledged entries are trimmed (XTRIM MINID, the oldest entry some group still needs).

See docs/pipeline.md ("Scaling out with Redis Streams") and docs/scaling.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]
import redis
from redis.lock import Lock
from sqlalchemy.orm import Session

from entente.core.clock import utcnow
from entente.core.config import Settings
from entente.core.errors import AppError, BadValue, ServiceUnavailable
from entente.pipeline.batches import empty_quarantine
from entente.pipeline.choices import RunStatus
from entente.pipeline.metrics import StreamCollector, StreamCounters, WorkerCounters
from entente.pipeline.models import Feed, FeedRun
from entente.pipeline.parsers import parser

CODEC = next((name for name in ("zstd", "lz4") if pa.Codec.is_available(name)), None)
"""Arrow IPC buffer compression: zstd makes Shadowserver batches ~15x smaller at about
lz4's speed, and Redis holds every queued batch in memory."""
_ADD_IF_ROOM = """
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return false end
return redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
"""
_DEAD_LETTERS_KEPT = 10_000
_TRIM_EVERY_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class StreamConfig:
    """The Redis keys and the bounds of one pipeline stream.

    Tests give each stream its own `prefix`. `max_entries` bounds the stream (the producers
    wait): 32 entries of 25,000 rows is about 50 MB of Redis memory (zstd; docs/scaling.md).
    Why 25,000 rows: the alert upsert and the Parquet part cost per batch, so much smaller
    batches halve a worker's speed, and much larger ones spread worse over workers.
    `min_idle_ms` is how long a delivered batch may go unacknowledged before another worker
    takes it over: keep it well above the slowest batch's processing time.
    """

    prefix: str = "entente:pipeline"
    group: str = "pipeline"
    max_entries: int = 32
    rows_per_entry: int = 25_000
    min_idle_ms: int = 60_000
    block_ms: int = 2_000
    lock_seconds: float = 60.0
    reload_seconds: float = 300.0
    max_deliveries: int = 5

    def __post_init__(self) -> None:
        for name in ("max_entries", "rows_per_entry", "min_idle_ms", "block_ms", "max_deliveries"):
            if getattr(self, name) < 1:
                raise BadValue(f"{name} must be 1 or more", field=name, value=getattr(self, name))

    @property
    def stream(self) -> str:
        return f"{self.prefix}:batches"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}:dead"

    @property
    def store_lock(self) -> str:
        """The prefix of the store locks, one per feed partition (`<this>:<feed>`)."""
        return f"{self.prefix}:store-lock"

    @property
    def workers(self) -> str:
        """A set of the names of every worker that ever started on the stream."""
        return f"{self.prefix}:workers"

    def worker_counters(self, worker: str) -> str:
        return f"{self.prefix}:worker:{worker}"


# ---- entries ---------------------------------------------------------------------------


def encode_frame(frame: pl.DataFrame) -> bytes:
    """A frame as one Arrow IPC stream (compressed with `CODEC`)."""
    table = frame.to_arrow()
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression=CODEC)
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def decode_frame(data: bytes, name: str) -> pl.DataFrame:
    """The frame `encode_frame` made; `BadValue` naming the entry field if it is not one."""
    try:
        with pa.ipc.open_stream(data) as reader:
            frame = pl.from_arrow(reader.read_all())
    except (pa.ArrowException, OSError) as exc:
        raise BadValue(f"entry field {name} is not an Arrow IPC stream: {exc}", field=name) from exc
    if not isinstance(frame, pl.DataFrame):
        raise BadValue(f"entry field {name} holds no table", field=name)
    return frame


class RawEntry(NamedTuple):
    """An entry as Redis returned it; `redelivered`: a worker may have begun it before."""

    id: str
    fields: dict[bytes, bytes]
    redelivered: bool


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """One queued batch: parsed rows (`batch`) and the parser's rejects (`quarantined`)."""

    id: str
    feed: str
    file: str
    run_id: int
    seq: int
    last: bool
    batch: pl.DataFrame
    quarantined: pl.DataFrame
    redelivered: bool = False

    @property
    def part_stem(self) -> str:
        """What the batch's store parts are named after (see the module docstring)."""
        return f"{self.run_id}-{self.seq}"

    @property
    def queued_at(self) -> float:
        """When Redis added the entry (Unix seconds): entry ids start with it, in ms."""
        return int(self.id.split("-", 1)[0]) / 1000


def entry_fields(entry: StreamEntry) -> dict[str, bytes]:
    """An entry's Redis fields; the parser's rejects only when there are some."""
    fields = {
        "feed": entry.feed.encode(),
        "file": entry.file.encode(),
        "run": str(entry.run_id).encode(),
        "seq": str(entry.seq).encode(),
        "last": b"1" if entry.last else b"0",
        "batch": encode_frame(entry.batch),
    }
    if entry.quarantined.height:
        fields["quarantined"] = encode_frame(entry.quarantined)
    return fields


def decode_entry(raw: RawEntry) -> StreamEntry:
    """The batch in a Redis entry; `BadValue` naming the field that is missing or wrong."""
    fields = raw.fields

    def text(name: str) -> str:
        value = fields.get(name.encode())
        if value is None:
            raise BadValue(f"entry {raw.id} has no field {name}", field=name)
        return value.decode("utf-8", errors="replace")

    def number(name: str) -> int:
        value = text(name)
        if not value.isdigit():
            raise BadValue(f"entry field {name} must be a number", field=name, value=value)
        return int(value)

    quarantined = fields.get(b"quarantined")
    return StreamEntry(
        id=raw.id,
        feed=text("feed"),
        file=text("file"),
        run_id=number("run"),
        seq=number("seq"),
        last=text("last") == "1",
        batch=decode_frame(fields.get(b"batch", b""), "batch"),
        quarantined=empty_quarantine()
        if quarantined is None
        else decode_frame(quarantined, "quarantined"),
        redelivered=raw.redelivered,
    )


# ---- the stream ------------------------------------------------------------------------


def connect(url: str, config: StreamConfig | None = None) -> redis.Redis:
    """A binary Redis client whose reads outlast a blocking XREADGROUP."""
    block = (config or StreamConfig()).block_ms / 1000
    return redis.Redis.from_url(url, socket_timeout=block + 10, health_check_interval=30)


@contextmanager
def redis_errors() -> Iterator[None]:
    """Redis errors (down, refused, timed out) become `ServiceUnavailable`."""
    try:
        yield
    except redis.RedisError as exc:
        raise ServiceUnavailable(f"Redis does not answer: {exc}") from exc


class PipelineStream:
    """One pipeline stream and its consumer group on one Redis (a binary client:
    `decode_responses` off, as batches are bytes)."""

    def __init__(self, client: redis.Redis, config: StreamConfig | None = None) -> None:
        self.client = client
        self.config = config or StreamConfig()
        self._add_if_room = client.register_script(_ADD_IF_ROOM)
        self._trimmed_at = 0.0

    def ensure_group(self) -> None:
        """Create the stream and the group if missing; a new group starts at the oldest entry."""
        try:
            self.client.xgroup_create(self.config.stream, self.config.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def announce(self, worker: str) -> None:
        """List a starting worker among the stream's workers (the UI shows it, idle or not)."""
        self.client.sadd(self.config.workers, worker)

    def add(self, fields: dict[str, bytes]) -> str:
        """XADD `fields`, first waiting while the stream is full (back-pressure); the id."""
        args: list[Any] = [self.config.max_entries]
        for name, value in fields.items():
            args.extend((name, value))
        delay = 0.005
        while True:
            added = self._add_if_room(keys=[self.config.stream], args=args)
            if added is not None:
                return _text(added)
            if self.trim() == 0:
                time.sleep(delay)
                delay = min(delay * 2, 0.25)

    def trim(self) -> int:
        """Drop the entries every group has acknowledged; returns how many went."""
        groups = self.client.xinfo_groups(self.config.stream)
        if not groups:
            return 0
        millis, sequence = min(self._oldest_needed(group) for group in groups)
        self._trimmed_at = time.monotonic()
        trimmed = self.client.xtrim(
            self.config.stream, minid=f"{millis}-{sequence}", approximate=False
        )
        return int(trimmed)

    def _oldest_needed(self, group: dict[str, Any]) -> tuple[int, int]:
        """A group's oldest pending entry, else the one after its last delivered."""
        if group["pending"]:
            oldest = self.client.xpending(self.config.stream, group["name"])["min"]
            # None: acknowledged since; all up to the last delivered seen above are done.
            if oldest is not None:
                return _entry_id(oldest)
        millis, sequence = _entry_id(group["last-delivered-id"])
        return millis, sequence + 1

    def read_new(self, consumer: str) -> list[RawEntry]:
        """At most one entry never delivered before, waiting up to `block_ms` for it."""
        found = self.client.xreadgroup(
            self.config.group,
            consumer,
            {self.config.stream: ">"},
            count=1,
            block=self.config.block_ms,
        )
        return [RawEntry(entry_id, fields, False) for entry_id, fields in _listed(found)]

    def read_own_pending(self, consumer: str) -> list[RawEntry]:
        """Entries delivered to `consumer` (a restarted worker's name) and never acknowledged."""
        found = self.client.xreadgroup(
            self.config.group, consumer, {self.config.stream: "0"}, count=self.config.max_entries
        )
        entries = _listed(found)
        gone = [entry_id for entry_id, fields in entries if not fields]
        if gone:  # trimmed or deleted since: nothing left to process
            self.client.xack(self.config.stream, self.config.group, *gone)
        return [RawEntry(entry_id, fields, True) for entry_id, fields in entries if fields]

    def reclaim(self, consumer: str) -> list[RawEntry]:
        """Take over one entry another worker left idle for `min_idle_ms` (it likely died)."""
        reply = self.client.xautoclaim(
            self.config.stream,
            self.config.group,
            consumer,
            min_idle_time=self.config.min_idle_ms,
            start_id="0-0",
            count=1,
        )
        claimed, deleted = reply[1], reply[2] if len(reply) > 2 else []
        if deleted:  # pending entries trimmed away: nothing left to process
            self.client.xack(self.config.stream, self.config.group, *deleted)
        return [RawEntry(_text(i), f or {}, True) for i, f in claimed]

    def deliveries(self, entry_id: str) -> int:
        """How often the entry was delivered (XAUTOCLAIM counts as one)."""
        found = self.client.xpending_range(
            self.config.stream, self.config.group, min=entry_id, max=entry_id, count=1
        )
        return int(found[0]["times_delivered"]) if found else 0

    def acknowledge(self, entry_id: str, worker: str, tally: dict[str, int]) -> None:
        """XACK the entry and add `tally` to the worker's counters, in one transaction."""
        pipe = self.client.pipeline(transaction=True)
        pipe.xack(self.config.stream, self.config.group, entry_id)
        key = self.config.worker_counters(worker)
        for name, value in tally.items():
            if value:
                pipe.hincrby(key, name, value)
        pipe.hset(key, "seen_at", str(time.time()))
        pipe.sadd(self.config.workers, worker)
        pipe.execute()
        if time.monotonic() - self._trimmed_at > _TRIM_EVERY_SECONDS:
            self.trim()

    def dead_letter(self, raw: RawEntry, worker: str, reason: str) -> None:
        """Move an entry that cannot be processed to `<prefix>:dead`, with its reason."""
        fields: dict[Any, Any] = {
            **raw.fields,
            b"entry": raw.id.encode(),
            b"error": reason.encode(),
        }
        pipe = self.client.pipeline(transaction=True)
        # The dead letters alone may drop old entries: they are for an operator to inspect.
        pipe.xadd(self.config.dead_letters, fields, maxlen=_DEAD_LETTERS_KEPT, approximate=True)
        pipe.xack(self.config.stream, self.config.group, raw.id)
        pipe.hincrby(self.config.worker_counters(worker), "batches.dead", 1)
        pipe.sadd(self.config.workers, worker)
        pipe.execute()

    def retire(self, consumer: str) -> None:
        """Remove a stopping worker's consumer from the group, if it holds no entries."""
        pending = self.client.xpending_range(
            self.config.stream, self.config.group, "-", "+", 1, consumername=consumer
        )
        if not pending:
            self.client.xgroup_delconsumer(self.config.stream, self.config.group, consumer)

    def store_lock(self, partition: str) -> Lock:
        """The lock that serialises de-duplication and the store write of one feed partition
        (`partition`: the `feed=` value as the store escapes it) across workers."""
        # A short poll: contention is for milliseconds, and the default 0.1 s would be latency.
        # Not thread-local: the batch's store write, which releases the lock, runs on the
        # ingest's writer thread; each call makes its own Lock, so no other batch shares it.
        lock: Lock = self.client.lock(
            f"{self.config.store_lock}:{partition}",
            timeout=self.config.lock_seconds,
            sleep=0.002,
            thread_local=False,
        )
        return lock

    def counters(self) -> StreamCounters:
        """The stream's length, lag and pending entries and every worker's counters."""
        config = self.config
        length = int(self.client.xlen(config.stream))
        groups = self.client.xinfo_groups(config.stream) if length else []
        group = next((g for g in groups if _text(g["name"]) == config.group), None)
        names = sorted(_text(name) for name in self.client.smembers(config.workers))
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(config.worker_counters(name))
        workers = [
            _worker_counters(name, found) for name, found in zip(names, pipe.execute(), strict=True)
        ]
        if group is None:
            return StreamCounters(length=length, lag=length, pending=0, workers=workers)
        lag = group.get("lag")
        return StreamCounters(
            length=length,
            lag=None if lag is None else int(lag),
            pending=int(group["pending"]),
            workers=workers,
        )


def stream_counters(
    settings: Settings, config: StreamConfig | None = None
) -> StreamCounters | None:
    """What the UI shows of the streaming pipeline (stream and workers); None when
    `ENTENTE_REDIS_URL` is not set. `ServiceUnavailable` when Redis does not answer."""
    if not settings.redis_url:
        return None
    client = connect(settings.redis_url, config)
    try:
        with redis_errors():
            return PipelineStream(client, config).counters()
    finally:
        client.close()


def stream_collector(
    settings: Settings, config: StreamConfig | None = None
) -> StreamCollector | None:
    """The collector to register in the API's metrics registry (None without Redis)."""
    if not settings.redis_url:
        return None
    return StreamCollector(PipelineStream(connect(settings.redis_url, config), config).counters)


def _listed(found: Any) -> list[tuple[str, dict[bytes, bytes]]]:
    """XREADGROUP's reply (`[[stream, [(id, fields), ...]]]`, or None) as (id, fields)."""
    return [
        (_text(entry_id), fields or {})
        for _, entries in found or []
        for entry_id, fields in entries
    ]


def _worker_counters(name: str, found: dict[bytes, bytes]) -> WorkerCounters:
    values = {_text(key): _text(value) for key, value in found.items()}
    seen_at = float(values.pop("seen_at", "0"))
    return WorkerCounters(name, {key: int(value) for key, value in values.items()}, seen_at)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entry_id(value: bytes | str) -> tuple[int, int]:
    millis, _, sequence = _text(value).partition("-")
    return int(millis), int(sequence or 0)


# ---- the producer ----------------------------------------------------------------------


def produce_file(
    session: Session,
    stream: PipelineStream,
    feed: Feed,
    path: Path,
    on_entry: Callable[[StreamEntry], None] | None = None,
) -> FeedRun:
    """Parse `path` and queue its batches for the workers; returns the run they complete.

    Blocks while the stream is full. A file its parser cannot read fails the run (the
    batches queued before the error are still processed) and re-raises the parser's error.
    """
    run = FeedRun(feed_id=feed.id, file=str(path), status=RunStatus.RUNNING, started_at=utcnow())
    session.add(run)
    session.commit()
    queue = _RunQueue(stream, run, feed, str(path), on_entry)
    with redis_errors():
        stream.ensure_group()
        try:
            for parsed in parser(feed.parser).parse(path, feed.options.get("parser", {})):
                queue.put(parsed.kept, parsed.quarantined)
        except AppError as exc:
            queue.flush(last=False)
            session.rollback()
            run.status, run.error, run.finished_at = RunStatus.FAILED, exc.message, utcnow()
            session.commit()
            raise
        if not queue.flush(last=True):  # an empty file: nothing for a worker to finish
            run.status, run.finished_at = RunStatus.SUCCEEDED, utcnow()
    session.commit()
    return run


class _RunQueue:
    """Queues one run's batches in slices of `rows_per_entry` rows; the newest is held back
    until the next one comes, so the file's last batch goes out flagged as the last."""

    def __init__(
        self,
        stream: PipelineStream,
        run: FeedRun,
        feed: Feed,
        file: str,
        on_entry: Callable[[StreamEntry], None] | None,
    ) -> None:
        self.stream, self.run, self.feed, self.file = stream, run, feed, file
        self.on_entry = on_entry
        self.held: StreamEntry | None = None
        self.seq = 0

    def put(self, kept: pl.DataFrame, quarantined: pl.DataFrame) -> None:
        size = self.stream.config.rows_per_entry
        # A loop over slices of a batch, not rows; the parser's rejects go with the first.
        slices = list(kept.iter_slices(size)) if kept.height else [kept]
        for index, rows in enumerate(slices):
            self._hold(rows, quarantined if index == 0 else empty_quarantine())

    def _hold(self, rows: pl.DataFrame, quarantined: pl.DataFrame) -> None:
        self.flush(last=False)
        self.held = StreamEntry(
            "", self.feed.name, self.file, self.run.id, self.seq, False, rows, quarantined
        )
        self.seq += 1

    def flush(self, last: bool) -> bool:
        """Queue the held batch (flagged last if so); False when nothing was held."""
        if self.held is None:
            return False
        entry = replace(self.held, last=last)
        entry = replace(entry, id=self.stream.add(entry_fields(entry)))
        self.held = None
        if self.on_entry is not None:
            self.on_entry(entry)
        return True
