"""`entente worker`: stream workers (one process, or `--count N` of them), and the
`--stream` path of `entente ingest` / `entente feed run`, which queues a file for them."""

from __future__ import annotations

import multiprocessing
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from prometheus_client import CollectorRegistry, start_http_server
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session

from entente.core.cli import CliState, cli_state, say_done
from entente.core.config import Settings
from entente.core.db import create_db_engine, make_session_factory
from entente.core.errors import BadValue
from entente.core.logging import configure_logging
from entente.pipeline.metrics import PipelineMetrics
from entente.pipeline.models import Feed, FeedRun
from entente.pipeline.stream_worker import StreamWorker, default_worker_name
from entente.pipeline.streams import (
    PipelineStream,
    StreamConfig,
    StreamEntry,
    connect,
    produce_file,
    redis_errors,
)


def redis_url(settings: Settings) -> str:
    """The configured Redis; streaming without one is a usage error naming the setting."""
    if not settings.redis_url:
        raise BadValue(
            "ENTENTE_REDIS_URL is not set: the streaming pipeline runs over Redis Streams",
            field="ENTENTE_REDIS_URL",
        )
    return settings.redis_url


def worker(  # noqa: PLR0913 -- one parameter per option is how Typer declares a command
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Option("--name", help="Consumer name (default <host>-<pid>); reuse it on restart."),
    ] = None,
    count: Annotated[
        int, typer.Option("--count", min=1, max=256, help="Worker processes to start here.")
    ] = 1,
    min_idle: Annotated[
        float,
        typer.Option(
            "--min-idle", min=0.01, help="Seconds before a dead worker's batch is taken over."
        ),
    ] = 60.0,
    idle_exit: Annotated[
        float | None,
        typer.Option("--idle-exit", min=0.0, help="Stop after this many seconds without work."),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port", min=1, max=65535, help="Serve /metrics here (+1 per process)."
        ),
    ] = None,
) -> None:
    """Process queued pipeline batches from Redis Streams until stopped (Ctrl-C, SIGTERM)."""
    state = cli_state(ctx)
    redis_url(state.settings)
    config = StreamConfig(min_idle_ms=max(1, round(min_idle * 1000)))
    base = name or default_worker_name()
    if count == 1:
        handled = run_worker(state.settings, base, config, idle_exit, metrics_port)
        say_done(state.console, f"worker {base} stopped after {handled:,} batches")
        return
    spawn = multiprocessing.get_context("spawn")
    processes = [
        spawn.Process(
            target=run_worker,
            args=(
                state.settings,
                f"{base}-{index}",
                config,
                idle_exit,
                None if metrics_port is None else metrics_port + index,
            ),
            name=f"{base}-{index}",
        )
        for index in range(1, count + 1)
    ]
    for process in processes:
        process.start()

    def pass_on(*_: object) -> None:
        # Ctrl-C reaches every process of the terminal's group; SIGTERM must be passed on.
        for process in processes:
            process.terminate()

    signal.signal(signal.SIGTERM, pass_on)
    for process in processes:
        process.join()
    say_done(state.console, f"{count} workers stopped")


def run_worker(
    settings: Settings,
    name: str,
    config: StreamConfig,
    idle_exit: float | None,
    metrics_port: int | None,
) -> int:
    """Run one worker in this process until a signal (or `idle_exit`); batches handled."""
    configure_logging(settings)
    engine = create_db_engine(settings)
    registry = CollectorRegistry()
    if metrics_port is not None:
        start_http_server(metrics_port, registry=registry)
    client = connect(redis_url(settings), config)
    stream_worker = StreamWorker(
        PipelineStream(client, config),
        make_session_factory(engine, settings),
        settings,
        name,
        PipelineMetrics(registry),
    )
    previous = {}
    if threading.current_thread() is threading.main_thread():
        # The batch in hand is finished (stored, committed, acknowledged) before leaving.
        for caught in (signal.SIGTERM, signal.SIGINT):
            previous[caught] = signal.signal(caught, lambda *_: stream_worker.stop.set())
    try:
        with redis_errors():
            return stream_worker.run(idle_exit)
    finally:
        for caught, handler in previous.items():
            signal.signal(caught, handler)
        client.close()
        engine.dispose()


def queue_file(
    state: CliState, session: Session, feed: Feed, path: Path, config: StreamConfig | None = None
) -> FeedRun:
    """`--stream`: queue a file's batches for the workers, under a live line of progress.

    Returns the run, still running: the workers finish it (`entente feed list`).
    """
    client = connect(redis_url(state.settings), config)
    queued = {"batches": 0, "rows": 0}
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    try:
        with Progress(*columns, console=state.console, transient=True) as progress:
            task = progress.add_task(f"{path.name}: parsing", total=None)

            def advance(entry: StreamEntry) -> None:
                queued["batches"] += 1
                queued["rows"] += entry.batch.height + entry.quarantined.height
                progress.update(
                    task,
                    description=f"{path.name}: {queued['rows']:,} rows queued "
                    f"in {queued['batches']:,} batches",
                )

            run = produce_file(session, PipelineStream(client, config), feed, path, advance)
    finally:
        client.close()
    say_done(
        state.console,
        f"{path}: {queued['rows']:,} rows queued in {queued['batches']:,} batches as run "
        f"{run.id}; `entente worker` stores them (`entente feed list` shows the run)",
    )
    return run
