"""Pipeline speed and memory: a Shadowserver scan_http file end to end (issue 5).

Targets: the ingest reaches at least 60% of the parse ceiling (`ingest_fraction_of_ceiling`,
what pyarrow's multithreaded CSV reader alone does with the same file); a 10,000,000-row
file is ingested in under 1,536 MiB peak RSS (`peak_rss_mib`, with `--rss-rows`); and the
ingest is at least 150 times as fast as IntelMQ 3.5.0's Shadowserver parser bot alone
(`ratio_vs_intelmq_parser`).

What happens, in one run:
1. A seeded generator writes a scan_http CSV of `--rows` rows (about 300 bytes each) to a
   scratch directory (`pipeline_dataset`).
2. Setup, not measured: a scratch SQLite hub, migrated, with an organisation (a national
   CERT) per ITU member state through `members.service.create_organisation`, 20,000
   shared events (inserted in bulk) and a feed; the routing index over 100,000 nested
   prefixes plus AS numbers, domains and countries; the indicator index over 1,000,000
   indicators (their events exist in SQLite, the indicator rows themselves do not: see the
   `note_recipients` line); a generated enrichment table of about a million intervals.
3. The parse ceiling: `pyarrow.csv.read_csv` (threads on) over the same file.
4. Measured: `entente.pipeline.ingest.ingest_file` with a `Pipeline` built from the above,
   each stage's time summed across batches by wrapping the stage functions where
   `ingest` calls them (nothing in src/ changes). With `--cpu` the stages run one at a
   time on one thread (no read-ahead, one preparing thread, the store write not beside the
   alerts) and each is timed in process CPU seconds (`cpu_<stage>_s_per_million_rows`):
   the figure to compare on a shared machine, where wall time follows the neighbours' load.
5. With `--rss-rows N`: an N-row file ingested by a child process (the same setup, then
   the ingest), whose peak RSS is read from `getrusage(RUSAGE_CHILDREN)` in a small
   launcher process (see bench/peak_rss.py for why); the child's figures come back prefixed `rss_`.
6. IntelMQ side by side (unless `--skip-intelmq`): `bench/.venv-intelmq` is created when
   missing (intelmq 3.5.0 and pyasn from PyPI), an offline scan_http schema is written,
   and `bench/intelmq_driver.py` runs its bots in that venv on the first `--intelmq-rows`
   rows of the same CSV.

Progress goes to stderr; the figures to stdout, one `name=value` line each.

    .venv/bin/python bench/pipeline_bench.py                       # 2,000,000 rows
    .venv/bin/python bench/pipeline_bench.py --rows 200000 --skip-intelmq   # quick
    .venv/bin/python bench/pipeline_bench.py --rss-rows 10000000   # also the memory figure
    .venv/bin/python bench/pipeline_bench.py --rows 300000 --skip-intelmq --cpu   # CPU per stage
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import patch

import duckdb
import numpy as np
import polars as pl
import pyarrow.csv as pacsv
from peak_rss import run_measured
from pipeline_dataset import (
    World,
    constituency_entries,
    copy_head,
    csv_ips,
    enrichment_data,
    enrichment_prefixes,
    event_rows,
    indicator_rows,
    write_ipasn,
    write_scan_http,
)
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from entente.alerts import service as alerts_service
from entente.alerts.models import Alert
from entente.core.audit import SYSTEM
from entente.core.config import Settings
from entente.core.db import create_db_engine, make_session_factory
from entente.core.migrate import upgrade
from entente.members import service as members_service
from entente.members.choices import OrganisationType
from entente.members.reference_data import read_member_states
from entente.members.schemas import OrganisationCreate
from entente.pipeline import ingest
from entente.pipeline.batches import MATCHED_INDICATORS
from entente.pipeline.dedup import Deduplicator
from entente.pipeline.feeds import feed_for_ingest
from entente.pipeline.matching import IndicatorIndex, recipients
from entente.pipeline.models import Feed
from entente.pipeline.quarantine import QuarantineStore
from entente.pipeline.routing import ConstituencyIndex
from entente.pipeline.store import EventStore
from entente.sharing.models import Event

BENCH = Path(__file__).resolve().parent
INTELMQ_VENV = BENCH / ".venv-intelmq"
INTELMQ = "intelmq==3.5.0"
PYASN = "pyasn==1.6.2"  # for IntelMQ's ASN lookup expert; optional
FEED_NAME = "shadowserver-scan-http"
CSV_NAME = "2026-11-20-scan_http.csv"  # Shadowserver's naming: the parser finds the report
# Independent streams per purpose, so the child process rebuilds the same world and hub.
WORLD, CSV, HUB, RSS_CSV = range(4)
STARTED = time.perf_counter()


def say(message: str) -> None:
    print(f"[{time.perf_counter() - STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def figure(name: str, value: float | int | str) -> None:
    shown = f"{value:.3f}" if isinstance(value, float) else str(value)
    print(f"{name}={shown}", flush=True)


@contextmanager
def stopwatch(name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    figure(name, time.perf_counter() - start)


def seeded(seed: int, purpose: int) -> np.random.Generator:
    return np.random.default_rng([seed, purpose])


# ---- the hub -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big the hub's tables are."""

    seed: int
    indicators: int
    prefixes: int
    enrichment_prefixes: int


@dataclass(slots=True)
class Hub:
    sessions: sessionmaker[Session]
    pipeline: ingest.Pipeline
    feed_id: int
    store_dir: Path
    routes: pl.DataFrame = field(default_factory=pl.DataFrame)
    """The enrichment prefixes, for IntelMQ's ASN lookup expert."""


def set_up_hub(directory: Path, csv_path: Path, sizes: Sizes) -> Hub:
    """Everything the ingest reads; prints how long each part of the setup took."""
    world, rng = World.make(seeded(sizes.seed, WORLD)), seeded(sizes.seed, HUB)
    directory.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        database_url=f"sqlite:///{directory / 'hub.db'}", data_dir=directory, log_level="WARNING"
    )
    engine = create_db_engine(settings)
    upgrade(engine)
    sessions = make_session_factory(engine, settings)
    with sessions() as session:
        with stopwatch("setup_organisations_s"):
            organisations = create_organisations(session)
        with stopwatch("setup_events_s"):
            session.execute(insert(Event), event_rows(rng, list(organisations.values())))
            session.commit()
        feed_id = feed_for_ingest(session, SYSTEM, FEED_NAME, "shadowserver").id
    with stopwatch("setup_routing_index_s"):
        entries = constituency_entries(world, rng, organisations, sizes.prefixes)
        routing = ConstituencyIndex.build(entries)
    figure("constituency_entries", len(entries))
    with stopwatch("setup_indicator_index_s"):
        rows = indicator_rows(world, rng, sizes.indicators, csv_ips(csv_path, 30_000))
        indicators = IndicatorIndex.from_rows(rows)
    figure("indicators", indicators.size)
    with stopwatch("setup_enrichment_s"):
        routes = enrichment_prefixes(world, rng, sizes.enrichment_prefixes)
        enrichment = enrichment_data(world, routes)
    figure("enrichment_intervals", len(enrichment.networks.v4))
    del entries, rows
    gc.collect()
    store_dir = directory / "store"
    pipeline = ingest.Pipeline(
        store=EventStore(store_dir),
        quarantine=QuarantineStore(store_dir),
        enrichment=enrichment,
        routing=routing,
        indicators=indicators,
    )
    return Hub(sessions, pipeline, feed_id, store_dir, routes)


def create_organisations(session: Session) -> dict[str, int]:
    """A national CERT per ITU member state, through the service; alpha2 -> id."""
    created = {}
    for state in read_member_states():
        data = OrganisationCreate(
            name=f"National CERT of {state['name']}",
            short_name=f"CERT-{state['alpha2']}",
            type=OrganisationType.NATIONAL_CERT,
            member_state=state["alpha2"],
        )
        created[state["alpha2"]] = members_service.create_organisation(session, SYSTEM, data).id
    return created


# ---- measurements ------------------------------------------------------------------------


def measure_parse_ceiling(path: Path) -> float:
    """pyarrow's multithreaded reader over the whole file: no pipeline that parses it can
    go faster, so the ingest is judged against this figure taken in the same run."""
    start = time.perf_counter()
    table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(use_threads=True))
    seconds = time.perf_counter() - start
    rows = table.num_rows
    del table
    figure("parse_ceiling_s", seconds)
    figure("parse_ceiling_rows_per_s", rows / seconds)
    return rows / seconds


@dataclass(slots=True)
class StageClock:
    """Seconds per stage, summed over every batch of a run; `parts` are pieces of a stage
    (inside its time, not added to the total)."""

    seconds: dict[str, float] = field(default_factory=dict)
    parts: dict[str, float] = field(default_factory=dict)
    matched_before_recipients: int = 0
    clock: Callable[[], float] = time.perf_counter
    """Wall time, or the process's CPU time (`time.process_time`) when stages run one at a
    time (`--cpu`), so each stage's CPU is its own whatever else the machine runs."""

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        return _timed(self.seconds, name, function, self.clock)

    def wrap_part(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        return _timed(self.parts, name, function, self.clock)

    def wrap_match(self, function: Callable[..., pl.DataFrame]) -> Callable[..., pl.DataFrame]:
        timed = self.wrap("match", function)

        def counted(*args: Any, **kwargs: Any) -> pl.DataFrame:
            batch: pl.DataFrame = timed(*args, **kwargs)
            if batch.height and MATCHED_INDICATORS in batch.columns:
                self.matched_before_recipients += int(
                    (batch[MATCHED_INDICATORS].list.len() > 0).sum()
                )
            return batch

        return counted

    def wrap_parser(self, real: Callable[[str], Any]) -> Callable[[str], Any]:
        """The parser's `parse` timed per batch it yields (reading, splitting, mapping)."""
        self.seconds.setdefault("parse", 0.0)
        clock = self

        class TimedParser:
            def __init__(self, name: str) -> None:
                self.real = real(name)

            def parse(self, path: Path, options: Any) -> Iterator[Any]:
                batches = iter(self.real.parse(path, options))
                while True:
                    start = clock.clock()
                    try:
                        batch = next(batches)
                    except StopIteration:
                        clock.seconds["parse"] += clock.clock() - start
                        return
                    clock.seconds["parse"] += clock.clock() - start
                    yield batch

        return TimedParser


def _timed(
    table: dict[str, float],
    name: str,
    function: Callable[..., Any],
    clock: Callable[[], float] = time.perf_counter,
) -> Callable[..., Any]:
    table.setdefault(name, 0.0)

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = clock()
        try:
            return function(*args, **kwargs)
        finally:
            table[name] += clock() - start

    return timed


class _InlineExecutor:
    """`submit` runs the call at once: the store write no longer overlaps the alerts."""

    def submit(self, function: Callable[..., Any], *args: Any) -> Future[Any]:
        done: Future[Any] = Future()
        done.set_result(function(*args))
        return done


def _serial_map(function: Callable[[Any], Any], items: Any, workers: int) -> Iterator[Any]:
    return (function(item) for item in items)


def _serialised(stack: ExitStack) -> None:
    """Stages one at a time on one thread (each may still use every core inside pyarrow or
    polars), so the process's CPU time between a stage's start and end is that stage's."""
    stack.enter_context(patch.object(ingest, "read_ahead", lambda items, depth=1: items))
    stack.enter_context(patch.object(ingest, "in_order_map", _serial_map))
    stack.enter_context(patch.object(ingest, "_STORE_WRITER", _InlineExecutor()))


@contextmanager
def timed_stages(session: Session, cpu: bool = False) -> Iterator[StageClock]:
    """Time each stage where `ingest.process_batch` calls it, without changing what it does;
    with `cpu`, the stages run one at a time and the figures are CPU seconds."""
    clock = StageClock(clock=time.process_time if cpu else time.perf_counter)
    with ExitStack() as stack:
        if cpu:
            _serialised(stack)
        stack.enter_context(patch.object(ingest, "parser", clock.wrap_parser(ingest.parser)))
        for name, label in (
            ("normalise", "normalise"),
            ("enrich", "enrich"),
            ("route", "route"),
            ("restrict_to_recipients", "recipients"),
            ("add_findings", "alerts"),
        ):
            stack.enter_context(
                patch.object(ingest, name, clock.wrap(label, getattr(ingest, name)))
            )
        stack.enter_context(patch.object(ingest, "match", clock.wrap_match(ingest.match)))
        for owner, name, label in (
            (Deduplicator, "drop_seen", "dedup"),
            (EventStore, "write", "store"),
            (QuarantineStore, "add", "quarantine"),
        ):
            stack.enter_context(patch.object(owner, name, clock.wrap(label, getattr(owner, name))))
        stack.enter_context(patch.object(session, "commit", clock.wrap("commit", session.commit)))
        # Inside two stages: their polars part apart from their SQL part.
        for owner, name, label in (
            (alerts_service, "finding_groups", "alerts_grouping"),
            (recipients, "_event_markings", "recipients_markings_sql"),
        ):
            stack.enter_context(
                patch.object(owner, name, clock.wrap_part(label, getattr(owner, name)))
            )
        yield clock


def measure_ingest(hub: Hub, path: Path, cpu: bool = False) -> float:
    """`ingest_file` over the whole file; prints its counts and per-stage seconds (with
    `cpu`: CPU seconds of stages run one at a time, and per million rows)."""
    with hub.sessions() as session:
        feed = session.get(Feed, hub.feed_id)
        assert feed is not None
        with timed_stages(session, cpu) as clock:
            start, cpu_start = time.perf_counter(), time.process_time()
            run = ingest.ingest_file(session, hub.pipeline, feed, path)
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        alerts = session.scalar(select(func.count()).select_from(Alert)) or 0
    figure("ingest_rows", run.rows_in)
    figure("ingest_s", seconds)
    figure("ingest_rows_per_s", run.rows_in / seconds)
    for name in ("rows_stored", "duplicates", "quarantined", "unrouted", "matched"):
        figure(name.removeprefix("rows_"), getattr(run, name))
    figure("matched_before_recipients", clock.matched_before_recipients)
    figure("alerts", alerts)
    if cpu:
        per_million = 1e6 / max(run.rows_in, 1)
        figure("cpu_ingest_s", cpu_seconds)
        figure("cpu_ingest_s_per_million_rows", cpu_seconds * per_million)
        for name, spent in sorted({**clock.seconds, **clock.parts}.items()):
            figure(f"cpu_{name}_s_per_million_rows", spent * per_million)
        return run.rows_in / seconds
    staged = sum(clock.seconds.values())
    for name, spent in sorted(clock.seconds.items(), key=lambda item: -item[1]):
        figure(f"stage_{name}_s", spent)
    figure("stage_other_s", seconds - staged)
    for name, spent in clock.parts.items():
        figure(f"stage_{name}_s", spent)
    return run.rows_in / seconds


def print_routed_by(store_dir: Path) -> None:
    """How the stored rows were routed (prefix, asn, domain, country or none)."""
    files = str(store_dir / "events" / "**" / "*.parquet")
    counts = duckdb.sql(
        f"SELECT coalesce(_routed_by, 'none'), count(*) FROM read_parquet('{files}') GROUP BY 1"
    ).fetchall()
    for how, count in sorted(counts):
        figure(f"routed_by_{how}", count)


# ---- peak memory, in a child process -----------------------------------------------------


def measure_peak_rss(args: argparse.Namespace, scratch: Path, world: World) -> None:
    """Ingest an `--rss-rows` file in a child process; its peak RSS is the figure."""
    path = scratch / "rss" / CSV_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    say(f"writing {args.rss_rows:,} rows for the memory run")
    with stopwatch("rss_generate_csv_s"):
        write_scan_http(path, args.rss_rows, world, seeded(args.seed, RSS_CSV))
    sizes = Sizes(args.seed, args.indicators, args.prefixes, args.enrichment_prefixes)
    call = (
        f"import sys; sys.path.insert(0, {str(BENCH)!r}); import pipeline_bench; "
        f"pipeline_bench.child_ingest({str(path)!r}, {str(scratch / 'rss' / 'hub')!r}, "
        f"pipeline_bench.{sizes!r})"
    )
    say("ingesting it in a child process")
    # In a process of its own, through a launcher (bench/peak_rss.py says why).
    child = run_measured([sys.executable, "-c", call])
    for line in child.stdout.splitlines():
        shown = line if line.startswith("peak_rss_mib=") or "=" not in line else f"rss_{line}"
        print(shown, flush=True)
    if child.returncode:
        raise SystemExit(f"the memory run failed (exit {child.returncode})")
    figure("rss_rows", args.rss_rows)
    path.unlink()


def child_ingest(csv_path: str, directory: str, sizes: Sizes) -> None:
    """The memory run's child: the same hub as the parent's, then the ingest. Prints its
    peak RSS after setup and at the end (VmHWM; the launcher reports the same peak as
    `ru_maxrss`), and its RSS between the two."""
    hub = set_up_hub(Path(directory), Path(csv_path), sizes)
    hub.routes = pl.DataFrame()
    gc.collect()
    figure("setup_peak_mib", _status_mib("VmHWM"))
    figure("after_setup_mib", _status_mib("VmRSS"))
    measure_ingest(hub, Path(csv_path))
    figure("child_peak_mib", _status_mib("VmHWM"))


def _status_mib(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---- IntelMQ -----------------------------------------------------------------------------

SCAN_HTTP_SCHEMA = {
    "scan_http": {
        "feed_name": "Accessible-HTTP",
        "file_name": "scan_http",
        "required_fields": [
            ["time.source", "timestamp", "add_UTC_to_timestamp"],
            ["source.ip", "ip", "validate_ip"],
            ["source.port", "port", "convert_int"],
        ],
        "optional_fields": [
            ["protocol.transport", "protocol"],
            ["source.reverse_dns", "hostname"],
            ["extra.", "tag", "validate_to_none"],
            ["source.asn", "asn", "invalidate_zero"],
            ["source.geolocation.cc", "geo"],
            ["source.geolocation.region", "region"],
            ["source.geolocation.city", "city"],
            ["extra.", "naics", "invalidate_zero"],
            ["extra.", "sic", "invalidate_zero"],
            *(
                [
                    "extra.",
                    column,
                    "convert_int" if column.endswith(("code", "length")) else "validate_to_none",
                ]
                for column in (
                    "http",
                    "http_code",
                    "http_reason",
                    "content_type",
                    "connection",
                    "www_authenticate",
                    "set_cookie",
                    "server",
                    "content_length",
                    "transfer_encoding",
                    "http_date",
                )
            ),
        ],
        "constant_fields": {
            "classification.identifier": "accessible-http",
            "classification.taxonomy": "vulnerable",
            "classification.type": "vulnerable-system",
            "protocol.application": "http",
        },
    }
}
"""Shadowserver's scan_http entry in the schema format IntelMQ downloads (offline here)."""


def intelmq_python() -> Path:
    """The venv's Python, with intelmq (and pyasn when it builds) installed if missing."""
    python = INTELMQ_VENV / "bin" / "python"
    if not _has(python, "intelmq", INTELMQ.split("==")[1]):
        say(f"creating {INTELMQ_VENV.relative_to(BENCH.parent)} with {INTELMQ}")
        subprocess.run([sys.executable, "-m", "venv", str(INTELMQ_VENV)], check=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", INTELMQ], check=True)
    if not _has(python, "pyasn", PYASN.split("==")[1]):
        installed = subprocess.run([python, "-m", "pip", "install", "--quiet", PYASN], check=False)
        if installed.returncode:
            say("pyasn did not install: IntelMQ's ASN lookup expert will be skipped")
    return python


def _has(python: Path, package: str, version: str) -> bool:
    if not python.exists():
        return False
    probe = f"import importlib.metadata as m; print(m.version({package!r}))"
    found = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=False)
    return found.returncode == 0 and found.stdout.strip() == version


def compare_intelmq(
    args: argparse.Namespace, scratch: Path, csv_path: Path, hub: Hub, rate: float
) -> None:
    """IntelMQ's bots on the first `--intelmq-rows` rows of the same file."""
    python = intelmq_python()
    directory = scratch / "intelmq"
    directory.mkdir(exist_ok=True)
    head = directory / "scan_http-head.csv"
    copy_head(csv_path, head, args.intelmq_rows)
    schema = directory / "schema.json"
    schema.write_text(json.dumps(SCAN_HTTP_SCHEMA, indent=1), encoding="utf-8")
    ipasn = directory / "ipasn.dat"
    write_ipasn(ipasn, hub.routes)
    say(f"IntelMQ on the first {args.intelmq_rows:,} rows")
    command = [str(python), str(BENCH / "intelmq_driver.py"), "--csv", str(head)]
    command += ["--schema", str(schema), "--ipasn", str(ipasn), "--redis-db", str(args.redis_db)]
    driver = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    figures = dict(line.split("=", 1) for line in driver.stdout.splitlines() if "=" in line)
    for name, value in figures.items():
        figure(name, value)
    if driver.returncode or "intelmq_parser_rows_per_s" not in figures:
        figure("note_intelmq", f"the driver failed (exit {driver.returncode}); see stderr")
        return
    figure("ratio_vs_intelmq_parser", rate / float(figures["intelmq_parser_rows_per_s"]))


# ---- main --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--rss-rows", type=int, default=0, help="also a memory run of N rows")
    parser.add_argument("--indicators", type=int, default=1_000_000)
    parser.add_argument("--prefixes", type=int, default=100_000)
    parser.add_argument("--enrichment-prefixes", type=int, default=700_000)
    parser.add_argument("--intelmq-rows", type=int, default=100_000)
    parser.add_argument("--skip-intelmq", action="store_true")
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="run the stages one at a time and report CPU seconds (for a busy machine)",
    )
    parser.add_argument("--redis-db", type=int, default=14, help="for IntelMQ's deduplicator")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--scratch", type=Path, help="default: a temporary directory")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    return parser.parse_args(argv)


@contextmanager
def scratch_directory(args: argparse.Namespace) -> Iterator[Path]:
    directory = args.scratch or Path(tempfile.mkdtemp(prefix="entente-pipeline-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        yield directory
    finally:
        if args.keep:
            say(f"kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


def run(args: argparse.Namespace, scratch: Path) -> None:
    world = World.make(seeded(args.seed, WORLD))
    csv_path = scratch / CSV_NAME
    say(f"writing {args.rows:,} scan_http rows to {csv_path}")
    with stopwatch("generate_csv_s"):
        size = write_scan_http(csv_path, args.rows, world, seeded(args.seed, CSV))
    figure("csv_rows", args.rows)
    figure("csv_bytes_per_row", size / args.rows)
    say("measuring: the parse ceiling")
    ceiling = measure_parse_ceiling(csv_path)
    say("setting up the hub")
    sizes = Sizes(args.seed, args.indicators, args.prefixes, args.enrichment_prefixes)
    hub = set_up_hub(scratch / "hub", csv_path, sizes)
    figure(
        "note_recipients",
        "the indicators' events are in SQLite but the indicator rows are not, so no indicator"
        " is marked apart from its event: the recipient check runs per (organisation, event)",
    )
    say("measuring: the ingest")
    rate = measure_ingest(hub, csv_path, args.cpu)
    print_routed_by(hub.store_dir)
    figure("ingest_fraction_of_ceiling", rate / ceiling)
    if args.rss_rows:
        measure_peak_rss(args, scratch, world)
    if not args.skip_intelmq:
        compare_intelmq(args, scratch, csv_path, hub, rate)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    # Timings depend on what else the machine runs: say how busy it was.
    figure("cpu_count", os.cpu_count() or 0)
    figure("load_average_1m_start", os.getloadavg()[0])
    with scratch_directory(args) as scratch:
        run(args, scratch)
    figure("load_average_1m_end", os.getloadavg()[0])
    say("done")


if __name__ == "__main__":
    main()
