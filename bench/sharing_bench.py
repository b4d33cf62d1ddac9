"""Sharing at scale on PostgreSQL: exact lookup, bulk add and correlation (issue 4).

Targets, with 1,000,000 indicators in 50,000 events:
  exact lookup p99 < 20 ms through the API; bulk add of 100,000 indicators < 10 s;
  correlation of a new 10,000-indicator event < 2 s.

No peer is named for these targets in the issue, so none is measured alongside: the figures
stand against the targets alone.

What happens:
1. A scratch database (`--database`, default `entente_bench`) is created, migrated with
   `entente.core.migrate.upgrade`, and dropped at the end (unless `--keep`).
2. Setup, not measured (see `sharing_dataset`): members and groups through the services,
   then events, tags, indicators and correlation links by COPY and set-based SQL, then
   VACUUM ANALYZE. Setup timings are printed too (`setup_*`).
3. Measured, each through the real code path:
   - exact lookup: the real app (`create_app`) under uvicorn on a loopback port, called with
     httpx as a member analyst's API token: `GET /api/v1/indicators?value=...` for existing
     and absent values, one at a time (p50, p99), then from several clients at once (rps);
   - bulk add: 100,000 indicators into one event with `indicator_service.add_indicators` in
     batches of 10,000 (the API maximum per request), then the same over HTTP; the time
     of each stage of the add is printed too (`bulk_add_rows_s`, `_warning_lists_s`,
     `_store_s`, `_correlate_s`: see `STAGES`);
   - correlation: a new event of 10,000 indicators, many of them values other events have,
     added in one batch; `sharing.correlation.correlate` is timed inside that add;
   - event list and facets for the member, through the API;
   - STIX export (issue 6: 1,000,000 indicators with bounded memory, < 500 MiB RSS): every
     event the member may see as one bundle, by `entente stix export` in a process of its
     own; its peak RSS (`stix_export_peak_rss_mib`), time and bundle size.

Client and server share one process, so the client's inputs are frozen out of the garbage
collector's reach before anything is timed (`freeze_inputs`).

Progress goes to stderr; the figures to stdout, one `name=value` line each.

    .venv/bin/python bench/sharing_bench.py                      # full size
    .venv/bin/python bench/sharing_bench.py --indicators 100000 --events 5000   # quick
"""

from __future__ import annotations

import argparse
import gc
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from unittest.mock import patch

import httpx
import numpy as np
import psycopg
import sqlalchemy as sa
import uvicorn
from peak_rss import run_measured
from sharing_dataset import (
    IndicatorRows,
    Member,
    Population,
    analyse,
    build_correlations,
    create_population,
    load_events,
    load_indicators,
    plan_events,
    sample_indicators,
)
from sharing_values import TYPE_WEIGHTS, TYPES, ValueMaker
from sqlalchemy.orm import Session, sessionmaker

from entente.core.config import Settings
from entente.core.db import create_db_engine, make_session_factory
from entente.core.migrate import upgrade
from entente.members.accounts import Principal, load_viewer
from entente.members.models import User
from entente.sharing import indicator_service, service
from entente.sharing.indicators import IndicatorType
from entente.sharing.models import Event
from entente.sharing.schemas import EventCreate, IndicatorBatch
from entente.sharing.warninglist_settings import active_warning_lists
from entente.vocabulary.markings import TLP, Distribution
from entente.web.app import create_app

BATCH = 10_000  # the API's maximum per request
BULK = 100_000
CORRELATED_EVENT = 10_000
LOOKUP_CLIENTS = 4
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


# ---- database --------------------------------------------------------------------------


@contextmanager
def scratch_database(admin_url: str, name: str, keep: bool) -> Iterator[str]:
    """A fresh database `name` next to `admin_url`'s; dropped afterwards unless `keep`."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        if keep:
            say(f"kept database {name}")
        else:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def libpq_url(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(slots=True)
class Loaded:
    population: Population
    maker: ValueMaker
    known: list[tuple[IndicatorType, str]]  # values of loaded indicators, for overlaps


def set_up(
    sessions: sessionmaker[Session], url: str, args: argparse.Namespace, rng: np.random.Generator
) -> Loaded:
    """Everything the measurements need; prints how long each part of the setup took."""
    with stopwatch("setup_members_s"), sessions() as session:
        population = create_population(session, rng)
        warnings = active_warning_lists(session)
    with psycopg.connect(libpq_url(url)) as connection:
        with stopwatch("setup_events_s"):
            plan = plan_events(rng, population, args.events, args.indicators)
            load_events(connection, plan)
        say(f"{args.events:,} events loaded; indicators next")
        rows = IndicatorRows(rng, plan, warnings)
        with stopwatch("setup_indicators_s"):
            for total in load_indicators(connection, rows):
                say(f"  {total:,} indicators")
        with stopwatch("setup_correlation_s"):
            links = build_correlations(connection)
        with stopwatch("setup_vacuum_analyze_s"):
            analyse(connection)
        known = sample_indicators(connection, 40_000, rng)
        index_sizes = connection.execute(_INDEX_SIZES).fetchall()
    figure("events", args.events)
    figure("indicators", rows.next_id - 1)
    figure("correlation_rows_exact", links.get("exact", 0))
    figure("correlation_rows_cidr", links.get("cidr", 0))
    # Every index is written by every bulk add: its size is a cost the timings depend on,
    # and, unlike them, the same on a busy machine.
    for name, size in index_sizes:
        figure(f"index_{name}_mb", size / 2**20)
    return Loaded(population, rows.maker, known)


_INDEX_SIZES = (
    "SELECT indexrelname, pg_relation_size(indexrelid) FROM pg_stat_user_indexes "
    "WHERE relname = 'indicator' ORDER BY indexrelname"
)


# ---- the app under uvicorn -------------------------------------------------------------


@contextmanager
def running_app(settings: Settings) -> Iterator[str]:
    """The real app on a free loopback port, in a thread; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def api_client(base_url: str, member: Member) -> httpx.Client:
    return httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {member.token}"}, timeout=300
    )


# ---- measurements ----------------------------------------------------------------------


def measure_lookups(base_url: str, member: Member, values: list[str]) -> None:
    """Exact lookups one at a time (latency), then from several clients at once (throughput)."""

    def lookup(client: httpx.Client, value: str) -> float:
        start = time.perf_counter()
        response = client.get("/api/v1/indicators", params={"value": value})
        response.raise_for_status()
        return time.perf_counter() - start

    with api_client(base_url, member) as client:
        for value in values[:20]:  # warm the connection pool and the caches
            lookup(client, value)
        latencies = np.array([lookup(client, value) for value in values]) * 1000
    figure("lookups", len(values))
    figure("lookup_p50_ms", float(np.percentile(latencies, 50)))
    figure("lookup_p99_ms", float(np.percentile(latencies, 99)))

    def client_run(share: Sequence[str]) -> None:
        with api_client(base_url, member) as client:
            for value in share:
                lookup(client, value)

    shares = [values[i::LOOKUP_CLIENTS] for i in range(LOOKUP_CLIENTS)]
    start = time.perf_counter()
    with ThreadPoolExecutor(LOOKUP_CLIENTS) as pool:
        list(pool.map(client_run, shares))
    figure("lookup_clients", LOOKUP_CLIENTS)
    figure("lookup_rps", len(values) / (time.perf_counter() - start))


@dataclass(slots=True)
class Stages:
    """Seconds spent in each stage of `add_indicators`, and the correlation links found."""

    seconds: dict[str, float] = field(default_factory=dict)
    links: int = 0


# The stages of `add_indicators`, each a function it calls: figure name -> function name.
STAGES = {
    "rows": "build_rows",  # validate, canonicalise, digest, address ranges
    "warning_lists": "_flag_warning_lists",
    "store": "store_rows",  # COPY, duplicate check and INSERT (PostgreSQL)
    "correlate": "correlate",
}


@contextmanager
def timed_stages() -> Iterator[Stages]:
    """Time the stages where `add_indicators` calls them, without changing what they do."""
    stages = Stages(seconds=dict.fromkeys(STAGES, 0.0))

    def timed(name: str, function: Any) -> Any:
        def run(*args: Any) -> Any:
            start = time.perf_counter()
            result = function(*args)
            stages.seconds[name] += time.perf_counter() - start
            if name == "correlate":
                stages.links += result
            return result

        return run

    with ExitStack() as patches:
        for name, attribute in STAGES.items():
            function = getattr(indicator_service, attribute)
            patches.enter_context(patch.object(indicator_service, attribute, timed(name, function)))
        yield stages


def freeze_inputs() -> None:
    """Keep the garbage collector off the benchmark's own inputs from now on.

    The client's inputs (some 300,000 dicts and models) share the server's process here, as
    no deployed server's heap would hold them; a full collection walked them all (about
    0.1 s) in the middle of whichever request or batch was being timed.
    """
    gc.collect()
    gc.freeze()


def new_event(session: Session, member: Member, title: str) -> tuple[Principal, Event]:
    user = session.get(User, member.user_id)
    if user is None:
        raise LookupError("the benchmark user is missing")
    principal = Principal(user=user, viewer=load_viewer(session, user), via="cli")
    data = EventCreate(
        title=title, event_date=date.today(), tlp=TLP.AMBER, distribution=Distribution.ALL_MEMBERS
    )
    return principal, service.create_event(session, principal, data)


def measure_bulk_add(sessions: sessionmaker[Session], member: Member, batches: list[Any]) -> None:
    """100,000 indicators into one event through the service, 10,000 per call."""
    parsed = [IndicatorBatch.model_validate({"indicators": batch}) for batch in batches]
    freeze_inputs()
    with sessions() as session, timed_stages() as stages:
        principal, event = new_event(session, member, "Bulk import from a partner feed")
        start = time.perf_counter()
        added = sum(
            indicator_service.add_indicators(session, principal, event, batch).added_count
            for batch in parsed
        )
        elapsed = time.perf_counter() - start
    figure("bulk_add_100k_s", elapsed)
    figure("bulk_add_added", added)
    for name, seconds in stages.seconds.items():
        figure(f"bulk_add_{name}_s", seconds)
    figure("bulk_add_links", stages.links)
    figure("indicators_per_s", added / elapsed)


def measure_bulk_add_api(base_url: str, member: Member, batches: list[Any]) -> None:
    """The same volume over HTTP: ten POSTs of 10,000 indicators (JSON in, JSON out)."""
    with api_client(base_url, member) as client:
        created = client.post(
            "/api/v1/events",
            json={
                "title": "Bulk import over the API",
                "event_date": date.today().isoformat(),
                "tlp": "amber",
                "distribution": "all_members",
            },
        )
        created.raise_for_status()
        path = f"/api/v1/events/{created.json()['id']}/indicators"
        start = time.perf_counter()
        for batch in batches:
            client.post(path, json={"indicators": batch}).raise_for_status()
        figure("bulk_add_100k_api_s", time.perf_counter() - start)


def measure_correlation(sessions: sessionmaker[Session], member: Member, batch: list[Any]) -> None:
    """A new event of 10,000 indicators overlapping others, added and correlated in one call."""
    parsed = IndicatorBatch.model_validate({"indicators": batch})
    freeze_inputs()
    with sessions() as session, timed_stages() as stages:
        principal, event = new_event(session, member, "Ransomware affiliate infrastructure")
        start = time.perf_counter()
        indicator_service.add_indicators(session, principal, event, parsed)
        elapsed = time.perf_counter() - start
    figure("add_10k_event_s", elapsed)
    figure("correlate_10k_s", stages.seconds["correlate"])
    figure("correlate_10k_links", stages.links)


def measure_event_list(base_url: str, member: Member, runs: int = 10) -> None:
    """The first page of the event list and its facets, as the member's UI asks for them."""

    def median_ms(path: str) -> float:
        with api_client(base_url, member) as client:
            client.get(path).raise_for_status()
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                client.get(path).raise_for_status()
                times.append(time.perf_counter() - start)
        return float(np.median(times) * 1000)

    figure("events_list_ms", median_ms("/api/v1/events?limit=50"))
    figure("facets_ms", median_ms("/api/v1/events/facets"))


# ---- inputs ----------------------------------------------------------------------------


def indicator_inputs(
    maker: ValueMaker, rng: np.random.Generator, count: int, known: list[tuple[IndicatorType, str]]
) -> list[dict[str, str]]:
    """`count` indicators as a client sends them: `known` ones first, fresh ones of every type."""
    kinds = rng.choice(len(TYPES), count - len(known), p=TYPE_WEIGHTS)
    fresh: list[tuple[IndicatorType, str]] = []
    for index, kind in enumerate(TYPES):
        fresh.extend((kind, value) for value in maker.make(kind, int((kinds == index).sum())))
    return [{"type": kind.value, "value": value} for kind, value in [*known, *fresh]]


def batches_of(items: list[dict[str, str]], size: int) -> list[list[dict[str, str]]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def lookup_values(loaded: Loaded, rng: np.random.Generator, count: int) -> list[str]:
    """Seven in ten lookups hit a loaded value (visible or not); the rest are absent."""
    hits = [value for _kind, value in loaded.known[: int(count * 0.7)]]
    absent = [row["value"] for row in indicator_inputs(loaded.maker, rng, count - len(hits), [])]
    values = hits + absent
    return [values[int(i)] for i in rng.permutation(len(values))]


# ---- main ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--indicators", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--lookups", type=int, default=1_000)
    parser.add_argument(
        "--admin-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="a database on the server to connect to while creating the scratch one",
    )
    parser.add_argument("--database", default="entente_bench")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true", help="keep the database (for EXPLAIN)")
    return parser.parse_args(argv)


def run(url: str, args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)
    settings = Settings(database_url=url, log_level="WARNING")
    engine = create_db_engine(settings)
    upgrade(engine)
    sessions = make_session_factory(engine, settings)
    loaded = set_up(sessions, url, args, rng)
    member = loaded.population.member
    known = iter(loaded.known[args.lookups :])
    bulk_overlap = [next(known) for _ in range(min(BULK // 10, len(loaded.known) // 4))]
    bulk = batches_of(indicator_inputs(loaded.maker, rng, BULK, bulk_overlap), BATCH)
    overlap = [next(known) for _ in range(min(CORRELATED_EVENT * 4 // 10, len(loaded.known) // 4))]
    correlated = indicator_inputs(loaded.maker, rng, CORRELATED_EVENT, overlap)
    api_bulk = batches_of(indicator_inputs(loaded.maker, rng, BULK, bulk_overlap), BATCH)
    freeze_inputs()
    with running_app(settings) as base_url:
        # Reads first, on the hub as loaded; then the writes, which add 210,000 indicators.
        say(f"measuring: {args.lookups:,} exact lookups through the API")
        measure_lookups(base_url, member, lookup_values(loaded, rng, args.lookups))
        say("measuring: event list and facets")
        measure_event_list(base_url, member)
        say("measuring: bulk add through the service")
        measure_bulk_add(sessions, member, bulk)
        say("measuring: correlation of a new 10,000-indicator event")
        measure_correlation(sessions, member, correlated)
        say("measuring: bulk add over the API")
        measure_bulk_add_api(base_url, member, api_bulk)
    say("measuring: the member's STIX export, in a process of its own")
    measure_stix_export(sessions, url, member)
    engine.dispose()


def measure_stix_export(sessions: sessionmaker[Session], url: str, member: Member) -> None:
    """`entente stix export` of everything the member may see, streamed to a file."""
    with sessions() as session:
        username = session.get_one(User, member.user_id).username
    entente = str(Path(sys.executable).with_name("entente"))
    environment = {**os.environ, "ENTENTE_DATABASE_URL": url, "ENTENTE_LOG_LEVEL": "WARNING"}
    with tempfile.TemporaryDirectory(prefix="stix-export-") as scratch:
        bundle = Path(scratch) / "bundle.json"
        start = time.perf_counter()
        done = run_measured(
            [entente, "stix", "export", "--as", username, "-o", str(bundle)], environment
        )
        figure("stix_export_s", time.perf_counter() - start)
        if done.returncode:
            raise SystemExit(f"entente stix export failed (exit {done.returncode})")
        figure("stix_export_mib", bundle.stat().st_size / 2**20)
    lines = done.stdout.strip().splitlines()
    wrote = next(line for line in lines if "wrote" in line)  # "... wrote N STIX objects to"
    figure("stix_export_objects", int(wrote.split("wrote ")[1].split()[0].replace(",", "")))
    figure("stix_export_peak_rss_mib", float(lines[-1].partition("=")[2]))  # the launcher's


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    # Timings depend on what else the machine runs: say how busy it was.
    figure("cpu_count", os.cpu_count() or 0)
    figure("load_average_1m_start", os.getloadavg()[0])
    with scratch_database(args.admin_url, args.database, args.keep) as url:
        run(url, args)
    figure("load_average_1m_end", os.getloadavg()[0])
    say("done")


if __name__ == "__main__":
    main()
