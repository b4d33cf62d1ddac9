"""Streaming pipeline speed: rows/s with 1 and 2 workers, and the append-to-stored latency
at a steady rate (issue 5, item 9: 2 workers, 50,000 rows/s, p99 under 2 s).

What happens, in one run:
1. `pipeline_dataset` writes a scan_http CSV of `--latency-rows` rows; its first `--rows`
   rows (200,000) are the throughput file.
2. Setup, not measured: a scratch SQLite hub, migrated (plus the `pipeline_stream_batch`
   table until its migration lands), with a national CERT per ITU member state declaring
   its country, and the feed. Every run below gets a copy of this database and an empty
   store. The stages' data is what `Pipeline.load` reads (country routing, the enrichment
   sample, no shared indicators): lighter than `pipeline_bench.py`'s, which measures the
   stages at scale; this one measures what streaming adds and how workers scale.
3. The peer, in the same run: the in-process `ingest_file` of the throughput file
   (`inproc_rows_per_s`).
4. Throughput: the producer alone queues the whole file (`producer_rows_per_s`: parse,
   Arrow IPC with zstd, XADD); then 1, then 2 worker processes, their stages' data loaded,
   start together, and the clock runs until the run is finished (`workers_N_rows_per_s`).
5. Latency: 2 workers run while the producer paces its XADDs at `--rate` rows/s; each
   worker notes, per batch, the time from XADD (the entry id: Redis's clock) to its commit
   (stored, alerts committed). `latency_p50_s`, `latency_p99_s`, `latency_max_s` are over
   batches; `latency_sustained_rows_per_s` is the rate the workers kept up with.

Needs a Redis (`--redis-url`, default db 13 of the local one); its keys are deleted after.
Progress goes to stderr; the figures to stdout, one `name=value` line each.

    .venv/bin/python bench/stream_bench.py
    .venv/bin/python bench/stream_bench.py --rows 200000 --latency-rows 600000 --rate 50000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import redis
from pipeline_dataset import World, copy_head, write_scan_http
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from entente.core.audit import SYSTEM
from entente.core.config import Settings
from entente.core.db import create_db_engine, make_session_factory
from entente.core.migrate import upgrade
from entente.members import service as members_service
from entente.members.choices import ConstituencyKind, OrganisationType
from entente.members.constituencies import add_constituency
from entente.members.constituency_schemas import ConstituencyCreate
from entente.members.reference_data import read_member_states
from entente.members.schemas import OrganisationCreate
from entente.pipeline import feeds
from entente.pipeline.choices import RunStatus
from entente.pipeline.ingest import Pipeline, ingest_file
from entente.pipeline.models import FeedRun, StreamBatch
from entente.pipeline.parsers import parser
from entente.pipeline.stream_worker import BatchScope, StreamWorker
from entente.pipeline.streams import (
    CODEC,
    PipelineStream,
    StreamConfig,
    StreamEntry,
    encode_frame,
    produce_file,
)

FEED = "shadowserver-scan-http"
CSV_NAME = "2026-11-20-scan_http.csv"
STARTED = time.perf_counter()


def say(message: str) -> None:
    print(f"[{time.perf_counter() - STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def figure(name: str, value: float | int | str) -> None:
    shown = f"{value:.3f}" if isinstance(value, float) else str(value)
    print(f"{name}={shown}", flush=True)


# ---- hubs --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hub:
    """One run's hub: a copy of the set-up database and an empty data directory."""

    settings: Settings
    sessions: sessionmaker[Session]


def set_up_database(path: Path) -> None:
    """The database every run copies: member CERTs with their countries, and the feed."""
    settings = Settings(database_url=f"sqlite:///{path}", log_level="WARNING")
    engine = create_db_engine(settings)
    upgrade(engine)
    StreamBatch.__table__.create(engine, checkfirst=True)  # until its migration lands
    with make_session_factory(engine, settings)() as session:
        for state in read_member_states():
            organisation = members_service.create_organisation(
                session,
                SYSTEM,
                OrganisationCreate(
                    name=f"National CERT of {state['name']}",
                    type=OrganisationType.NATIONAL_CERT,
                    member_state=state["alpha2"],
                ),
            )
            data = ConstituencyCreate(
                organisation_id=organisation.id,
                kind=ConstituencyKind.COUNTRY,
                value=state["alpha2"],
            )
            add_constituency(session, SYSTEM, None, data)
        feeds.feed_for_ingest(session, SYSTEM, FEED, "shadowserver")
    engine.dispose()


def new_hub(scratch: Path, name: str, redis_url: str) -> Hub:
    directory = scratch / name
    directory.mkdir()
    shutil.copy(scratch / "hub.db", directory / "hub.db")
    settings = Settings(
        database_url=f"sqlite:///{directory / 'hub.db'}",
        data_dir=directory,
        redis_url=redis_url,
        log_level="WARNING",
    )
    return Hub(settings, make_session_factory(create_db_engine(settings), settings))


# ---- workers in processes of their own ---------------------------------------------------


def bench_worker(
    settings: Settings, name: str, config: StreamConfig, gates: tuple[Event, Event], out: str
) -> None:
    """A worker process: load the stages' data, say so, wait for the start, run until idle;
    writes each batch's append-to-committed latency (seconds) to `out`."""
    ready, go = gates
    client = redis.Redis.from_url(settings.redis_url or "", socket_timeout=30)
    engine = create_db_engine(settings)
    worker = StreamWorker(
        PipelineStream(client, config), make_session_factory(engine, settings), settings, name
    )
    noted: dict[str, list[float]] = {"latency": [], "lock_wait": [], "lock_hold": []}

    def note(point: str, entry: StreamEntry) -> None:
        if point == "committed":
            noted["latency"].append(time.time() - entry.queued_at)

    worker.checkpoint = note
    clock_the_store_lock(noted)
    worker.prepare()
    ready.set()
    go.wait()
    # Long enough for the producer to parse its first block before the workers give up.
    worker.run(idle_exit=5.0)
    Path(out).write_text(json.dumps(noted))
    engine.dispose()


def clock_the_store_lock(noted: dict[str, list[float]]) -> None:
    """Note how long each batch waited for the store lock and held it (the serial part of
    the pipeline, which bounds what more workers can add), by wrapping `BatchScope`."""
    enter, release = BatchScope.enter, BatchScope.release
    taken: dict[int, float] = {}

    def timed_enter(scope: BatchScope, partitions: Iterable[str]) -> None:
        if not scope.entered:
            start = time.perf_counter()
            enter(scope, partitions)
            taken[id(scope)] = time.perf_counter()
            noted["lock_wait"].append(taken[id(scope)] - start)

    def timed_release(scope: BatchScope) -> None:
        if id(scope) in taken:
            noted["lock_hold"].append(time.perf_counter() - taken.pop(id(scope)))
        release(scope)

    BatchScope.enter = timed_enter  # type: ignore[method-assign]
    BatchScope.release = timed_release  # type: ignore[method-assign]


@contextmanager
def workers(hub: Hub, config: StreamConfig, count: int, scratch: Path) -> Iterator[list[Path]]:
    """`count` warmed-up worker processes, started together on entering; their latency files."""
    spawn = multiprocessing.get_context("spawn")
    outs = [scratch / f"latency-{uuid.uuid4().hex}.json" for _ in range(count)]
    go = spawn.Event()
    readies = [spawn.Event() for _ in range(count)]
    processes = [
        spawn.Process(
            target=bench_worker,
            args=(hub.settings, f"bench-{index}", config, (readies[index], go), str(outs[index])),
        )
        for index in range(count)
    ]
    for process in processes:
        process.start()
    for ready in readies:
        ready.wait(timeout=300)
    go.set()
    yield outs
    for process in processes:
        process.join(timeout=600)
        if process.exitcode:
            raise SystemExit(f"a worker failed (exit {process.exitcode})")


def wait_for_run(hub: Hub, run_id: int) -> FeedRun:
    while True:
        with hub.sessions() as session:
            run = session.scalar(select(FeedRun).where(FeedRun.id == run_id))
            if run is not None and run.status is not RunStatus.RUNNING:
                return run
        # Not shorter: the poll takes CPU from the workers on a small machine.
        time.sleep(0.02)


def produce(hub: Hub, stream: PipelineStream, path: Path, pace: Any = None) -> FeedRun:
    with hub.sessions() as session:
        return produce_file(session, stream, feeds.get_feed(session, FEED), path, pace)


# ---- measurements ------------------------------------------------------------------------


def measure_in_process(hub: Hub, path: Path) -> None:
    with hub.sessions() as session:
        pipeline = Pipeline.load(session, hub.settings)
        start = time.perf_counter()
        run = ingest_file(session, pipeline, feeds.get_feed(session, FEED), path)
        seconds = time.perf_counter() - start
    figure("inproc_rows", run.rows_in)
    figure("inproc_stored", run.rows_stored)
    figure("inproc_rows_per_s", run.rows_in / seconds)


def measure_entry_size(path: Path, rows_per_entry: int) -> None:
    """What one queued entry costs Redis: the arithmetic of `max_entries` x this."""
    parsed = next(iter(parser("shadowserver").parse(path, {})))
    rows = parsed.kept.head(rows_per_entry)
    figure("entry_rows", rows.height)
    figure("entry_bytes", len(encode_frame(rows)))
    figure("entry_codec", CODEC or "none")


def measure_workers(hub: Hub, stream: PipelineStream, path: Path, count: int) -> None:
    start = time.perf_counter()
    run = produce(hub, stream, path)
    queued = time.perf_counter() - start
    if count == 1:
        figure("producer_rows_per_s", _rows_of(path) / queued)
    with workers(hub, stream.config, count, hub.settings.data_dir) as outs:
        start = time.perf_counter()
        finished = wait_for_run(hub, run.id)
        seconds = time.perf_counter() - start
    noted = read_noted(outs)
    figure(f"workers_{count}_rows", finished.rows_in)
    figure(f"workers_{count}_stored", finished.rows_stored)
    figure(f"workers_{count}_batches", len(noted["latency"]))
    figure(f"workers_{count}_rows_per_s", finished.rows_in / seconds)
    figure(f"workers_{count}_lock_hold_ms_mean", 1000 * float(np.mean(noted["lock_hold"])))
    figure(f"workers_{count}_lock_wait_ms_mean", 1000 * float(np.mean(noted["lock_wait"])))


def read_noted(outs: list[Path]) -> dict[str, npt.NDArray[np.float64]]:
    """The workers' notes, pooled."""
    pooled: dict[str, list[float]] = {}
    for out in outs:
        for name, values in json.loads(out.read_text()).items():
            pooled.setdefault(name, []).extend(values)
    return {name: np.array(values) for name, values in pooled.items()}


def measure_latency(hub: Hub, stream: PipelineStream, path: Path, rate: float) -> None:
    with workers(hub, stream.config, 2, hub.settings.data_dir) as outs:
        queued = {"rows": 0}
        start = time.perf_counter()

        def pace(entry: StreamEntry) -> None:
            # XADD on a schedule: the next batch goes out when the rate says it is due.
            queued["rows"] += entry.batch.height + entry.quarantined.height
            due = start + queued["rows"] / rate
            time.sleep(max(0.0, due - time.perf_counter()))

        run = produce(hub, stream, path, pace)
        finished = wait_for_run(hub, run.id)
        seconds = time.perf_counter() - start
    latencies = read_noted(outs)["latency"]
    figure("latency_rate_target_rows_per_s", rate)
    figure("latency_rows", finished.rows_in)
    figure("latency_batches", len(latencies))
    figure("latency_sustained_rows_per_s", finished.rows_in / seconds)
    figure("latency_p50_s", float(np.percentile(latencies, 50)))
    figure("latency_p99_s", float(np.percentile(latencies, 99)))
    figure("latency_max_s", float(latencies.max()))


def _rows_of(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle) - 1


# ---- main --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--latency-rows", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=50_000.0, help="rows/s, latency run")
    parser.add_argument("--rows-per-entry", type=int, default=StreamConfig().rows_per_entry)
    parser.add_argument(
        "--worker-threads",
        type=int,
        help="polars threads per worker process (POLARS_MAX_THREADS); default: polars' own",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--scratch", type=Path, help="default: a temporary directory")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, scratch: Path) -> None:
    if args.worker_threads:
        # Read by the spawned workers only: this process imported polars already.
        os.environ["POLARS_MAX_THREADS"] = str(args.worker_threads)
    figure("worker_threads", args.worker_threads or "polars default")
    rng = np.random.default_rng([args.seed, 0])
    latency_csv, throughput_csv = scratch / "latency" / CSV_NAME, scratch / CSV_NAME
    latency_csv.parent.mkdir()
    say(f"writing {args.latency_rows:,} scan_http rows")
    write_scan_http(latency_csv, args.latency_rows, World.make(rng), rng)
    copy_head(latency_csv, throughput_csv, args.rows)
    say("setting up the hub")
    set_up_database(scratch / "hub.db")
    measure_entry_size(throughput_csv, args.rows_per_entry)
    say("measuring: the in-process ingest")
    measure_in_process(new_hub(scratch, "inproc", args.redis_url), throughput_csv)
    client = redis.Redis.from_url(args.redis_url, socket_timeout=30)
    prefix = f"entente-bench:{uuid.uuid4().hex[:8]}"
    try:
        for count in (1, 2):
            say(f"measuring: {count} worker(s)")
            # Room for the whole file: the producer runs first, on its own.
            config = StreamConfig(
                prefix=f"{prefix}:{count}", rows_per_entry=args.rows_per_entry, max_entries=10_000
            )
            hub = new_hub(scratch, f"workers-{count}", args.redis_url)
            measure_workers(hub, PipelineStream(client, config), throughput_csv, count)
        say(f"measuring: latency at {args.rate:,.0f} rows/s with 2 workers")
        config = replace(config, prefix=f"{prefix}:latency", max_entries=StreamConfig().max_entries)
        hub = new_hub(scratch, "latency-hub", args.redis_url)
        measure_latency(hub, PipelineStream(client, config), latency_csv, args.rate)
    finally:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    figure("cpu_count", os.cpu_count() or 0)
    figure("load_average_1m_start", os.getloadavg()[0])
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="entente-stream-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        run(args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    figure("load_average_1m_end", os.getloadavg()[0])
    say("done")


if __name__ == "__main__":
    main()
