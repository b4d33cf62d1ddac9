"""The pipeline over Redis Streams, against a real Redis and real databases (SQLite and
PostgreSQL, each run in scratch databases of its own): workers store a file exactly as the
in-process ingest does, also when one is SIGKILLed mid-batch; producers wait at the bound;
counters move; bad entries go to the dead letters with their reason and leave nothing stored.

The `pipeline_stream_batch` table has no migration yet: these tests create it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from entente.alerts.models import Alert
from entente.cli import app
from entente.core.audit import SYSTEM
from entente.core.cli import CliState
from entente.core.config import Settings
from entente.core.db import create_db_engine, make_session_factory
from entente.core.errors import BadValue
from entente.core.migrate import upgrade
from entente.members.accounts import Principal, load_viewer
from entente.members.choices import ConstituencyKind
from entente.members.constituencies import add_constituency
from entente.members.constituency_schemas import ConstituencyCreate
from entente.members.models import Organisation
from entente.pipeline import feeds
from entente.pipeline.choices import RunStatus
from entente.pipeline.ingest import Pipeline, ingest_file
from entente.pipeline.metrics import PipelineMetrics, StreamCollector, StreamCounters
from entente.pipeline.models import Feed, FeedRun, StreamBatch
from entente.pipeline.quarantine import QuarantineStore
from entente.pipeline.store import EventFilters, EventStore
from entente.pipeline.stream_worker import StreamWorker, remove_stale_staging
from entente.pipeline.streams import (
    PipelineStream,
    RawEntry,
    StreamConfig,
    StreamEntry,
    connect,
    decode_entry,
    decode_frame,
    encode_frame,
    entry_fields,
    produce_file,
    stream_collector,
    stream_counters,
)
from entente.pipeline.worker_cli import queue_file, run_worker
from entente.sharing import indicator_service, service
from entente.sharing.indicators import IndicatorType
from entente.sharing.schemas import EventCreate, IndicatorBatch, IndicatorCreate
from entente.vocabulary.markings import TLP, Distribution
from entente.web.app import create_app
from tests.conftest import BACKENDS, REDIS_URL, make_settings
from tests.factories import make_organisation, make_user
from tests.test_cli import ENV, runner

SAMPLES = Path(__file__).parent.parent / "data" / "shadowserver"
FEED = "stream-feed"
MATCHED_IP = "192.0.2.142"


# ---- set-up ----------------------------------------------------------------------------


@dataclass
class Hub:
    """One hub: its own scratch database and data directory."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def store_dir(self) -> Path:
        return self.settings.store_dir

    def feed(self) -> Feed:
        with self.sessions() as session:
            return feeds.get_feed(session, FEED)


@pytest.fixture
def make_hub(
    scratch_database: Callable[[str], str], tmp_path: Path
) -> Iterator[Callable[[str], Hub]]:
    """Builds hubs with the same members, constituencies and indicator, so their runs compare."""
    engines: list[Engine] = []

    def make(backend: str) -> Hub:
        url = scratch_database(backend)
        data_dir = tmp_path / f"hub-{len(engines)}"
        settings = make_settings(url, data_dir=data_dir, redis_url=REDIS_URL)
        engine = create_db_engine(settings)
        engines.append(engine)
        upgrade(engine)
        StreamBatch.__table__.create(engine, checkfirst=True)  # until its migration lands
        hub = Hub(settings, engine, make_session_factory(engine, settings))
        with hub.sessions() as session:
            populate(session)
        return hub

    yield make
    for engine in engines:
        engine.dispose()


def populate(session: Session) -> None:
    """Two members with a prefix each, a RED indicator of one, and the feed."""
    nl = make_organisation(session, "NL", name="Stream CERT NL")
    ke = make_organisation(session, "KE", name="Stream CERT KE")
    for organisation, prefix in ((nl, "192.0.2.0/24"), (ke, "198.51.100.0/24")):
        data = ConstituencyCreate(
            organisation_id=organisation.id, kind=ConstituencyKind.PREFIX, value=prefix
        )
        add_constituency(session, SYSTEM, None, data)
    owner = make_user(session, nl, username="stream-analyst")
    principal = Principal(user=owner, viewer=load_viewer(session, owner), via="api")
    event = service.create_event(
        session,
        principal,
        EventCreate(
            title="C2 servers",
            event_date=date(2026, 11, 20),
            tlp=TLP.RED,
            distribution=Distribution.ORGANISATION,
        ),
    )
    indicator = IndicatorCreate(type=IndicatorType.IPV4, value=MATCHED_IP, to_ids=True)
    indicator_service.add_indicators(
        session, principal, event, IndicatorBatch(indicators=[indicator])
    )
    feeds.feed_for_ingest(session, SYSTEM, FEED, "shadowserver")


@pytest.fixture
def feed_file(tmp_path: Path) -> Path:
    """scan_http with 3 rows with bad IPs (quarantined by the normaliser) in its third batch
    of 7, its first 10 rows repeated at the end (dropped as duplicates of earlier batches)
    and a cut-short line (quarantined by the parser)."""
    lines = (SAMPLES / "scan_http.csv").read_text().splitlines()
    junk = (SAMPLES / "scan_http-junk-ips.csv").read_text().splitlines()[1:4]
    cut_short = '"2026-11-20 05:00:00","192.0.2.9","tcp"'
    body = [*lines[:15], *junk, *lines[15:], *lines[1:11], cut_short]
    path = tmp_path / "scan_http-stream.csv"
    path.write_text("\n".join(body) + "\n")
    return path


@pytest.fixture
def config(redis_client: redis.Redis) -> Iterator[StreamConfig]:
    """A stream of its own (small entries, short waits), deleted afterwards."""
    prefix = f"entente-test:{uuid.uuid4().hex[:12]}"
    yield StreamConfig(prefix=prefix, rows_per_entry=7, max_entries=3, block_ms=100)
    keys = list(redis_client.scan_iter(match=f"{prefix}:*"))
    if keys:
        redis_client.delete(*keys)


def stream_of(config: StreamConfig) -> PipelineStream:
    return PipelineStream(connect(REDIS_URL, config), config)


def produce(hub: Hub, config: StreamConfig, path: Path) -> FeedRun:
    with hub.sessions() as session:
        feed = feeds.get_feed(session, FEED)
        return produce_file(session, stream_of(config), feed, path)


def new_worker(hub: Hub, config: StreamConfig, name: str, metrics: Any = None) -> StreamWorker:
    return StreamWorker(stream_of(config), hub.sessions, hub.settings, name, metrics)


def start(worker: StreamWorker, idle_exit: float) -> threading.Thread:
    thread = threading.Thread(target=worker.run, kwargs={"idle_exit": idle_exit}, daemon=True)
    thread.start()
    return thread


def clean_run(hub: Hub, path: Path) -> dict[str, Any]:
    """The in-process ingest of `path`: what every streamed run must end in."""
    with hub.sessions() as session:
        feed = feeds.get_feed(session, FEED)
        ingest_file(session, Pipeline.load(session, hub.settings), feed, path)
    return snapshot(hub)


def snapshot(hub: Hub) -> dict[str, Any]:
    """Stored rows (a repeated row's line number aside: which copy is kept depends on
    which batch a worker finished first), alerts, quarantined rows and the run's counts."""
    stored = EventStore(hub.store_dir).rows(EventFilters(), limit=10_000).drop("_line")
    stored = stored.select(sorted(stored.columns)).sort("source.ip", "source.port")
    quarantined, _ = QuarantineStore(hub.store_dir).list(limit=1_000)
    with hub.sessions() as session:
        alerts = session.execute(
            select(
                Organisation.name,
                Alert.day,
                Alert.feed_name,
                Alert.taxonomy,
                Alert.type,
                Alert.identifier,
                Alert.rows,
                Alert.matched_rows,
                Alert.first_seen,
                Alert.last_seen,
            )
            .join(Organisation, Organisation.id == Alert.organisation_id)
            .order_by(Organisation.name, Alert.identifier)
        ).all()
        run = session.scalars(select(FeedRun).order_by(FeedRun.id.desc())).first()
    assert run is not None
    return {
        "stored": stored,
        "alerts": [tuple(alert) for alert in alerts],
        "quarantined": sorted(quarantined.select("_line", "_field", "_reason").rows()),
        "run": (
            run.status,
            run.rows_in,
            run.rows_stored,
            run.duplicates,
            run.quarantined,
            run.unrouted,
            run.matched,
        ),
    }


def assert_same(streamed: dict[str, Any], clean: dict[str, Any]) -> None:
    assert streamed["stored"].height == clean["stored"].height
    assert streamed["stored"].equals(clean["stored"])
    assert streamed["alerts"] == clean["alerts"]
    assert streamed["quarantined"] == clean["quarantined"]
    assert streamed["run"] == clean["run"]


def done_batches(hub: Hub) -> int:
    with hub.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(StreamBatch)) or 0)


# ---- the tests -------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_workers_store_a_file_exactly_as_the_in_process_ingest(
    backend: str, make_hub: Callable[[str], Hub], feed_file: Path, config: StreamConfig
) -> None:
    clean = clean_run(make_hub(backend), feed_file)
    assert clean["run"][3] == 10  # the repeated rows really are dropped as duplicates
    hub = make_hub(backend)
    registry = CollectorRegistry()
    metrics = PipelineMetrics(registry)
    workers = [new_worker(hub, config, name, metrics) for name in ("w1", "w2")]
    threads = [start(worker, idle_exit=2.0) for worker in workers]

    run = produce(hub, config, feed_file)  # waits on the workers: at most 3 entries queued

    for thread in threads:
        thread.join(timeout=60)
    entries = done_batches(hub)
    assert entries == 7  # 46 parsed rows in slices of 7 (the cut-short line rides with the first)
    assert all(worker.handled > 0 for worker in workers)  # both really worked
    assert sum(worker.handled for worker in workers) == entries
    assert_same(snapshot(hub), clean)
    with hub.sessions() as session:
        finished = session.get(FeedRun, run.id)
        assert finished is not None and finished.finished_at is not None


def test_workers_processing_the_same_findings_at_once_store_them_once(
    make_hub: Callable[[str], Hub], config: StreamConfig, tmp_path: Path
) -> None:
    lines = (SAMPLES / "scan_http.csv").read_text().splitlines()
    path = tmp_path / "scan_http-resent.csv"
    path.write_text("\n".join([lines[0], *lines[1:] * 4]) + "\n")  # the report sent 4 times
    hub = make_hub("sqlite")
    run = produce(hub, replace(config, max_entries=64, rows_per_entry=33), path)
    workers = [new_worker(hub, config, name) for name in ("w1", "w2")]
    # Both take a copy at once: only the store lock keeps them from both finding it new.
    for thread in [start(worker, idle_exit=1.0) for worker in workers]:
        thread.join(timeout=60)

    assert all(worker.handled > 0 for worker in workers)
    assert EventStore(hub.store_dir).total(EventFilters()) == 33
    with hub.sessions() as session:
        finished = session.get(FeedRun, run.id)
        assert finished is not None
        assert (finished.rows_stored, finished.duplicates) == (33, 99)
        routed = finished.rows_stored - finished.unrouted
        assert session.scalar(select(func.sum(Alert.rows))) == routed


def crashing_worker(
    database_url: str, data_dir: str, config: StreamConfig, point: str, seq: int
) -> None:
    """A worker process that SIGKILLs itself when batch `seq` reaches `point`."""
    settings = make_settings(database_url, data_dir=Path(data_dir), redis_url=REDIS_URL)
    engine = create_db_engine(settings)
    worker = StreamWorker(
        stream_of(config), make_session_factory(engine, settings), settings, "doomed"
    )

    def crash(reached: str, entry: StreamEntry) -> None:
        if reached == point and entry.seq == seq:
            os.kill(os.getpid(), signal.SIGKILL)

    worker.checkpoint = crash
    worker.run(idle_exit=10.0)


@pytest.mark.slow  # a spawned worker process per backend: about 15 s each
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_worker_killed_after_storing_a_batch_leaves_it_to_another_and_it_is_stored_once(
    backend: str,
    make_hub: Callable[[str], Hub],
    feed_file: Path,
    config: StreamConfig,
    redis_client: redis.Redis,
) -> None:
    clean = clean_run(make_hub(backend), feed_file)
    hub = make_hub(backend)
    config = replace(config, max_entries=64)
    run = produce(hub, config, feed_file)

    assert kill_worker_at(hub, config, "stored", seq=2) == -signal.SIGKILL

    assert pending_of(redis_client, config) == [{"name": b"doomed", "pending": 1}]
    assert list(hub.store_dir.glob(f"events/*/*/part-{run.id}-2.parquet"))  # rows on disk
    assert list(hub.store_dir.glob(f"quarantine/*/part-{run.id}-2-q1.parquet"))
    assert done_batches(hub) == 2  # but not committed
    survivor = new_worker(hub, replace(config, min_idle_ms=200), "survivor")
    start(survivor, idle_exit=1.5).join(timeout=60)

    assert redis_client.xpending(config.stream, config.group)["pending"] == 0
    assert done_batches(hub) == 7
    assert_same(snapshot(hub), clean)


@pytest.mark.slow  # a spawned worker process per backend: about 15 s each
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_worker_killed_after_committing_the_last_batch_leaves_it_acknowledged_once(
    backend: str,
    make_hub: Callable[[str], Hub],
    feed_file: Path,
    config: StreamConfig,
    redis_client: redis.Redis,
) -> None:
    clean = clean_run(make_hub(backend), feed_file)
    hub = make_hub(backend)
    config = replace(config, max_entries=64)
    run = produce(hub, config, feed_file)

    assert kill_worker_at(hub, config, "committed", seq=6) == -signal.SIGKILL

    assert pending_of(redis_client, config) == [{"name": b"doomed", "pending": 1}]
    assert done_batches(hub) == 7
    with hub.sessions() as session:
        unfinished = session.get(FeedRun, run.id)
        assert unfinished is not None and unfinished.status is RunStatus.RUNNING
    survivor = new_worker(hub, replace(config, min_idle_ms=200), "survivor")
    start(survivor, idle_exit=1.0).join(timeout=60)

    assert redis_client.xpending(config.stream, config.group)["pending"] == 0
    assert_same(snapshot(hub), clean)  # the run finished too: its status is compared
    assert survivor.stream.counters().totals["batches.skipped"] == 1


def kill_worker_at(hub: Hub, config: StreamConfig, point: str, seq: int) -> int | None:
    """Run `crashing_worker` in a process of its own; its exit code."""
    process = multiprocessing.get_context("spawn").Process(
        target=crashing_worker,
        args=(hub.settings.database_url, str(hub.settings.data_dir), config, point, seq),
    )
    process.start()
    process.join(timeout=120)
    return process.exitcode


def pending_of(client: redis.Redis, config: StreamConfig) -> Any:
    return client.xpending(config.stream, config.group)["consumers"]


def test_a_producer_waits_at_the_bound_until_workers_make_room(
    make_hub: Callable[[str], Hub], feed_file: Path, config: StreamConfig, redis_client: redis.Redis
) -> None:
    hub = make_hub("sqlite")
    config = replace(config, rows_per_entry=2, max_entries=3)
    produced: list[FeedRun] = []
    producer = threading.Thread(
        target=lambda: produced.append(produce(hub, config, feed_file)), daemon=True
    )
    producer.start()
    lengths = []
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        lengths.append(redis_client.xlen(config.stream))
        time.sleep(0.01)

    assert producer.is_alive()  # 23 entries to queue, room for 3, nobody reading
    assert max(lengths) == 3

    worker = new_worker(hub, config, "drain")
    worker_thread = start(worker, idle_exit=1.5)
    while producer.is_alive():
        assert redis_client.xlen(config.stream) <= 3
        time.sleep(0.005)
    worker_thread.join(timeout=60)

    assert produced and worker.handled == 23
    worker.stream.trim()
    assert redis_client.xlen(config.stream) == 0  # acknowledged entries are trimmed
    with hub.sessions() as session:
        run = session.get(FeedRun, produced[0].id)
        assert run is not None
        assert run.status is RunStatus.SUCCEEDED
        assert run.rows_in == 47


def test_counters_move_and_the_api_metrics_show_every_worker(
    make_hub: Callable[[str], Hub], feed_file: Path, config: StreamConfig
) -> None:
    hub = make_hub("sqlite")
    produce(hub, replace(config, max_entries=64), feed_file)
    metrics = PipelineMetrics(CollectorRegistry())
    worker = new_worker(hub, config, "counted", metrics)
    worker.run(idle_exit=0.5)

    with hub.sessions() as session:
        run = session.scalars(select(FeedRun)).one()
    labels = {"worker": "counted"}
    rows = "entente_pipeline_rows_total"
    assert metrics.value(rows, {**labels, "stage": "parse", "outcome": "in"}) == run.rows_in
    assert metrics.value(rows, {**labels, "stage": "store", "outcome": "out"}) == run.rows_stored
    assert metrics.value(rows, {**labels, "stage": "dedup", "outcome": "dropped"}) == 10
    quarantined = sum(
        metrics.value(rows, {**labels, "stage": stage, "outcome": "quarantined"})
        for stage in ("parse", "normalise")
    )
    assert quarantined == run.quarantined == 4
    assert metrics.value("entente_pipeline_batches_total", {**labels, "outcome": "stored"}) == 7
    totals = worker.stream.counters().totals
    assert (totals["store.out"], totals["batches.stored"]) == (run.rows_stored, 7)

    app = create_app(hub.settings)
    app.state.metrics_registry.register(StreamCollector(worker.stream.counters))
    with TestClient(app) as client:
        text = client.get("/metrics").text
    assert "entente_pipeline_stream_up 1.0" in text
    line = 'entente_pipeline_rows_total{outcome="out",stage="store",worker="counted"}'
    assert f"{line} {float(run.rows_stored)}" in text


def test_the_ui_counters_read_every_worker_and_are_none_without_redis(
    make_hub: Callable[[str], Hub], feed_file: Path, config: StreamConfig
) -> None:
    hub = make_hub("sqlite")
    produce(hub, replace(config, max_entries=64), feed_file)
    for name in ("a", "b"):  # one after the other: a takes every batch
        new_worker(hub, config, name).run(idle_exit=0.3)

    counters = stream_counters(hub.settings, config)

    assert counters is not None
    assert [worker.name for worker in counters.workers] == ["a", "b"]
    assert counters.workers[0].counters["batches.stored"] == 7
    assert counters.workers[0].seen_at > 0
    assert "batches.stored" not in counters.workers[1].counters
    assert (counters.length, counters.pending, counters.lag) == (0, 0, 0)
    assert stream_counters(replace_settings(hub.settings, redis_url=None), config) is None
    assert stream_collector(replace_settings(hub.settings, redis_url=None), config) is None


def replace_settings(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update=changes)


def test_the_metrics_say_so_when_redis_is_down() -> None:
    def down() -> StreamCounters:
        raise redis.ConnectionError("refused")

    registry = CollectorRegistry()
    registry.register(StreamCollector(down))
    text = generate_latest(registry).decode()
    assert "entente_pipeline_stream_up 0.0" in text
    assert "entente_pipeline_rows_total" not in text


def test_entries_that_cannot_be_processed_go_to_the_dead_letters_with_their_reason(
    make_hub: Callable[[str], Hub], config: StreamConfig, redis_client: redis.Redis
) -> None:
    hub = make_hub("sqlite")
    stream = stream_of(config)
    stream.ensure_group()
    with hub.sessions() as session:
        run = FeedRun(feed_id=hub.feed().id, file="x.csv", status=RunStatus.RUNNING)
        session.add(run)
        session.commit()
    rows = pl.DataFrame({"source.ip": ["192.0.2.1"]})
    unknown = StreamEntry("", "no-such-feed", "x.csv", run.id, 0, True, rows, rows.clear())
    stream.add(entry_fields(unknown))
    stream.add({"feed": FEED.encode(), "run": b"1"})

    worker = new_worker(hub, config, "careful")
    worker.run(idle_exit=0.5)

    dead = redis_client.xrange(config.dead_letters)
    reasons = sorted(fields[b"error"].decode() for _, fields in dead)
    assert len(reasons) == 2
    assert reasons[0].endswith("has no field file")
    assert reasons[1] == "no feed 'no-such-feed'"
    assert redis_client.xpending(config.stream, config.group)["pending"] == 0
    with hub.sessions() as session:
        failed = session.get(FeedRun, run.id)
        assert failed is not None
        assert (failed.status, failed.error) == (RunStatus.FAILED, "no feed 'no-such-feed'")
    assert worker.stream.counters().totals["batches.dead"] == 2


def test_a_batch_that_keeps_failing_is_dead_lettered_and_leaves_nothing_stored(
    make_hub: Callable[[str], Hub], feed_file: Path, config: StreamConfig, redis_client: redis.Redis
) -> None:
    hub = make_hub("sqlite")
    config = replace(config, max_entries=64, min_idle_ms=100, max_deliveries=2)
    run = produce(hub, config, feed_file)
    worker = new_worker(hub, config, "unlucky")

    def fail_batch_zero(point: str, entry: StreamEntry) -> None:
        if point == "stored" and entry.seq == 0:
            raise RuntimeError("disk on fire")

    worker.checkpoint = fail_batch_zero
    worker.run(idle_exit=2.5)

    dead = redis_client.xrange(config.dead_letters)
    assert len(dead) == 1
    entry = decode_entry(RawEntry("0-1", dead[0][1], True))
    assert entry.seq == 0
    assert "failed 2 times" in dead[0][1][b"error"].decode()
    assert not list(hub.store_dir.glob(f"**/part-{run.id}-0*.parquet"))
    with hub.sessions() as session:
        finished = session.get(FeedRun, run.id)
        assert finished is not None
        assert finished.status is RunStatus.FAILED
        assert finished.rows_in == 47 - 8  # all but the dead batch: 7 rows and the cut-short line


def test_run_worker_handles_the_queue_and_stops_when_idle(
    make_hub: Callable[[str], Hub], feed_file: Path, config: StreamConfig
) -> None:
    hub = make_hub("sqlite")
    produce(hub, replace(config, max_entries=64), feed_file)
    before = signal.getsignal(signal.SIGTERM)

    handled = run_worker(hub.settings, "cli-worker", config, 0.5, None)

    assert handled == 7
    assert signal.getsignal(signal.SIGTERM) is before  # the CLI's handlers are put back


def test_the_worker_command_without_redis_exits_2_naming_the_setting(tmp_path: Path) -> None:
    env = {**ENV, "ENTENTE_REDIS_URL": None, "ENTENTE_DATA_DIR": str(tmp_path)}
    database = f"sqlite:///{tmp_path / 'entente.db'}"
    result = runner.invoke(app, ["--database-url", database, "worker"], env=env)
    assert result.exit_code == 2, result.output
    assert "ENTENTE_REDIS_URL is not set" in result.output


def test_a_batch_round_trips_through_arrow_ipc_and_garbage_is_refused_by_name() -> None:
    batch = pl.DataFrame(
        {"source.ip": ["192.0.2.1", None], "_line": [2, 3]}, schema_overrides={"_line": pl.Int64}
    )
    assert decode_frame(encode_frame(batch), "batch").equals(batch)
    with pytest.raises(BadValue, match="entry field batch is not an Arrow IPC stream") as caught:
        decode_frame(b"not arrow", "batch")
    assert caught.value.field == "batch"


@pytest.mark.parametrize("name", ["max_entries", "rows_per_entry", "min_idle_ms", "block_ms"])
def test_a_stream_config_refuses_a_bound_below_1(name: str) -> None:
    with pytest.raises(BadValue, match=f"{name} must be 1 or more"):
        StreamConfig(**{name: 0})


@pytest.mark.parametrize("part", ["../part-x.parquet", "part-x.csv", "events.parquet"])
def test_the_store_refuses_a_part_name_outside_its_partition_or_pattern(
    tmp_path: Path, part: str
) -> None:
    batch = pl.DataFrame({"feed.name": ["f"], "source.ip": ["192.0.2.1"]})
    with pytest.raises(BadValue, match="a part name must match"):
        EventStore(tmp_path).write(batch, part)
    assert EventStore(tmp_path).write(batch, "part-1-0.parquet") == 1
    assert EventStore(tmp_path).write(batch, "part-1-0.parquet") == 1  # replaced, not added
    assert EventStore(tmp_path).total(EventFilters()) == 1


def test_staging_left_by_dead_workers_is_removed_and_a_live_ones_kept(tmp_path: Path) -> None:
    old, young = tmp_path / ".stream-staging" / "old", tmp_path / ".stream-staging" / "young"
    for directory in (old, young):
        directory.mkdir(parents=True)
    an_hour_ago = time.time() - 3700
    os.utime(old, (an_hour_ago, an_hour_ago))
    assert remove_stale_staging(tmp_path, timedelta(hours=1)) == 1
    assert not old.exists() and young.exists()


def test_queue_file_queues_a_file_and_says_how_much(
    make_hub: Callable[[str], Hub],
    feed_file: Path,
    config: StreamConfig,
    redis_client: redis.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hub = make_hub("sqlite")
    state = CliState(settings=hub.settings)
    with hub.sessions() as session:
        feed = feeds.get_feed(session, FEED)
        run = queue_file(state, session, feed, feed_file, replace(config, max_entries=64))
    assert run.status is RunStatus.RUNNING  # the workers finish it
    assert redis_client.xlen(config.stream) == 7
    assert "47 rows queued in 7 batches as run" in capsys.readouterr().out
