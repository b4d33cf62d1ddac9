"""`entente feed ...` and `entente ingest FILE`: feeds and their files through the pipeline."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session

from entente.core.cli import CliState, cli_state, counted_table, operator_actor, say_done, validated
from entente.core.clock import utcnow
from entente.core.errors import BadValue, FeedError
from entente.pipeline import feeds
from entente.pipeline.choices import FeedSourceKind
from entente.pipeline.ingest import BatchCallback, IngestCounts, Pipeline, ingest_file
from entente.pipeline.models import FeedRun
from entente.pipeline.parsers import parsers
from entente.pipeline.runner import FeedRunner, Look, RunReport
from entente.pipeline.schedule import DEFAULT_POLL_SECONDS, DueResult, Watcher, run_due
from entente.pipeline.schemas import FeedCreate, FeedPublic
from entente.pipeline.sources import Scope
from entente.pipeline.worker_cli import queue_file
from entente.sharing.cli_options import JsonOption, print_json

feed_app = typer.Typer(
    help="Feeds: configured sources of findings, and their runs.", no_args_is_help=True
)

ParserOption = Annotated[
    str, typer.Option("--parser", help="Parser name (`entente feed parsers` lists them).")
]
StreamOption = Annotated[
    bool,
    typer.Option(
        "--stream", help="Queue for `entente worker` processes (needs ENTENTE_REDIS_URL)."
    ),
]
OptionsOption = Annotated[
    str | None,
    typer.Option(
        "--options",
        help='Feed options as JSON, e.g. \'{"parser": {"report": "scan_http"}, '
        '"source": {"max_bytes": 100000000}}\'.',
    ),
]
AllOption = Annotated[
    bool,
    typer.Option(
        "--all", help="Read every file again (a URL: fetch without If-None-Match / manifest)."
    ),
]


@feed_app.command("parsers")
def feed_parsers(ctx: typer.Context) -> None:
    """List the parsers a feed can use."""
    console = cli_state(ctx).console
    table = counted_table(len(parsers()), "parser")
    table.add_column("Name")
    for name in sorted(parsers()):
        table.add_row(name)
    console.print(table)


@feed_app.command("add")
def feed_add(  # noqa: PLR0913 -- one parameter per option is how Typer declares a command
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A unique name, e.g. shadowserver-scan-http.")],
    parser: ParserOption,
    source: Annotated[
        str, typer.Option("--source", help="A file, a directory, or an http(s) URL.")
    ] = "",
    kind: Annotated[
        FeedSourceKind | None,
        typer.Option(
            "--kind",
            help="Where files come from; default: from --source (a URL, a directory, a file), "
            "else uploads.",
        ),
    ] = None,
    options: OptionsOption = None,
    every: Annotated[
        int | None, typer.Option("--every", help="Run every N minutes (`feed run --due`).")
    ] = None,
) -> None:
    """Add a feed."""
    state = cli_state(ctx)
    data = validated(
        FeedCreate,
        name=name,
        parser=parser,
        source_kind=kind or feeds.source_kind_of(source),
        source=source,
        options=_json_options(options),
        interval_minutes=every,
    )
    with state.session() as session:
        feed = feeds.create_feed(session, operator_actor(), data)
    say_done(state.console, f"feed {feed.name} added (parser {feed.parser})")


@feed_app.command("list")
def feed_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the feeds with their last run."""
    state = cli_state(ctx)
    with state.session() as session:
        found = feeds.list_feeds(session)
    if as_json:
        print_json(state.console, found)
    else:
        state.console.print(feed_table(found))


def feed_table(found: list[FeedPublic]) -> Table:
    table = counted_table(len(found), "feed")
    for column in ("Name", "Parser", "Source", "Last run", "Status"):
        table.add_column(column)
    for column in ("Rows in", "Stored", "Quarantined", "Rows/s"):
        table.add_column(column, justify="right")
    for column in ("Last look", "Next due"):
        table.add_column(column)
    for feed in found:
        run, look = feed.last_run, feed.source_state
        table.add_row(
            feed.name,
            feed.parser,
            feed.source or feed.source_kind.value,
            _when(run.started_at if run else None, "never"),
            run.status.value if run else "",
            f"{run.rows_in:,}" if run else "",
            f"{run.rows_stored:,}" if run else "",
            f"{run.quarantined:,}" if run else "",
            f"{run.rows_per_second:,.0f}" if run else "",
            f"{look.outcome.value} {_when(look.checked_at, '')}" if look and look.outcome else "",
            _when(feed.next_due, "-"),
        )
    return table


def _when(at: datetime | None, otherwise: str) -> str:
    return at.strftime("%Y-%m-%d %H:%M") if at else otherwise


@feed_app.command("run")
def feed_run(  # noqa: PLR0913 -- one parameter per option is how Typer declares a command
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="The feed's name.")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Ingest this file instead of the feed's source.")
    ] = None,
    due: Annotated[
        bool, typer.Option("--due", help="Run every enabled feed whose interval has passed.")
    ] = False,
    read_all: AllOption = False,
    stream: StreamOption = False,
) -> None:
    """Run a feed now: look at its source and read what is new (or --file); or --due."""
    state = cli_state(ctx)
    if due == (name is not None):
        raise BadValue("name one feed, or give --due (not both)", field="NAME", value=name)
    scope = Scope.ALL if read_all else Scope.NEW
    with state.session() as session:
        runner = _runner(state, session, stream)
        if due:
            _run_due(state.console, runner)
            return
        feed = feeds.get_feed(session, name or "")
        if file is not None:
            print_run(state.console, runner.read(feed, file))
            return
        report = runner.run(feed, scope)
    print_report(state.console, report)
    _raise_failures(report.failures)


@feed_app.command("fetch")
def feed_fetch(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The feed's name.")],
    fetch_all: AllOption = False,
) -> None:
    """Look at a feed's source and download what is new, without ingesting it (the next
    `feed run` reads it)."""
    state = cli_state(ctx)
    with state.session() as session:
        feed = feeds.get_feed(session, name)
        look = FeedRunner(session, state.settings).fetch(
            feed, Scope.ALL if fetch_all else Scope.NEW
        )
    print_look(state.console, look)


@feed_app.command("watch")
def feed_watch(
    ctx: typer.Context,
    poll: Annotated[
        float,
        typer.Option(
            "--poll", min=1.0, help="Look for new or changed feeds at least this often (s)."
        ),
    ] = DEFAULT_POLL_SECONDS,
) -> None:
    """Run feeds on their schedule until stopped (Ctrl-C or SIGTERM: after the current file)."""
    state = cli_state(ctx)
    watcher = Watcher(
        open_session=state.session,
        make_runner=lambda session: _runner(state, session, stream=False),
        report=lambda result: print_due(state.console, result),
        poll_seconds=poll,
    )
    say_done(state.console, f"watching the feeds' schedules (every {poll:g} s at most)")
    with _stopping_on_signals(watcher.stop, state.console):
        watcher.run()
    say_done(state.console, "stopped")


def _runner(state: CliState, session: Session, stream: bool) -> FeedRunner:
    if stream:
        return FeedRunner(
            session,
            state.settings,
            reader=lambda feed, path: queue_file(state, session, feed, path),
        )
    return FeedRunner(
        session, state.settings, progress=lambda path: progress_line(state.console, path)
    )


def _run_due(console: Console, runner: FeedRunner) -> None:
    results = list(run_due(runner, utcnow()))
    for result in results:
        print_due(console, result)
    if not results:
        say_done(console, "no feed is due")
    failed = [result.feed for result in results if result.failed]
    if failed:
        raise FeedError(f"{len(failed)} of {len(results)} due feeds failed: {', '.join(failed)}")


@contextmanager
def _stopping_on_signals(stop: threading.Event, console: Console) -> Iterator[None]:
    """SIGINT and SIGTERM set `stop` (the watcher ends after the current file); a second
    Ctrl-C interrupts at once."""

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        console.print(f"{signal.Signals(signum).name}: stopping after the current file")

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def print_look(console: Console, look: Look) -> None:
    waiting = f"; {len(look.files)} file(s) waiting to be read" if look.files else ""
    got = f": {look.download} ({look.bytes:,} bytes)" if look.download else ""
    note = f" ({look.note})" if look.note else ""
    say_done(console, f"{look.feed}: {look.outcome.label.lower()}{got}{note}{waiting}")


def print_report(console: Console, report: RunReport) -> None:
    look = report.look
    if not look.files:
        note = f" ({look.note})" if look.note else ""
        say_done(console, f"{look.feed}: {look.outcome.label.lower()}{note}, nothing to read")
    for run in report.runs:
        print_run(console, run)


def print_due(console: Console, result: DueResult) -> None:
    if result.report is not None:
        print_report(console, result.report)
        for failure in result.report.failures:
            console.print(f"✗ {result.feed}: {failure}")
    else:
        console.print(f"✗ {result.feed or 'feeds'}: {result.error}")


def _raise_failures(failures: list[str]) -> None:
    if failures:
        raise FeedError(f"{len(failures)} file(s) could not be read: " + "; ".join(failures))


def ingest(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The feed file to ingest.")],
    parser: ParserOption,
    feed_name: Annotated[
        str | None,
        typer.Option(
            "--feed", help="Run under this feed (created on first use); default: the parser's name."
        ),
    ] = None,
    stream: StreamOption = False,
) -> None:
    """Ingest one file: parse, normalise, enrich, route, de-duplicate, match, store, alert."""
    state = cli_state(ctx)
    if not file.is_file():
        raise BadValue(f"no file at {file}", field="FILE", value=str(file))
    with state.session() as session:
        feed = feeds.feed_for_ingest(session, operator_actor(), feed_name or parser, parser)
        if stream:
            queue_file(state, session, feed, file)
            return
        pipeline = Pipeline.load(session, state.settings)
        with progress_line(state.console, file) as on_batch:
            run = ingest_file(session, pipeline, feed, file, on_batch)
    print_run(state.console, run)


@contextmanager
def progress_line(console: Console, path: Path) -> Iterator[BatchCallback]:
    """A live line of rows read, stored and quarantined while `path` is ingested."""
    totals = IngestCounts()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"{path.name}: starting", total=None)

        def advance(counts: IngestCounts) -> None:
            totals.add(counts)
            progress.update(
                task,
                description=(
                    f"{path.name}: {totals.rows_in:,} rows read, {totals.stored:,} stored, "
                    f"{totals.duplicates:,} duplicates, {totals.quarantined:,} quarantined"
                ),
            )

        yield advance


def print_run(console: Console, run: FeedRun) -> None:
    if run.error:
        console.print(f"✗ {run.file}: run {run.id} failed: {run.error}")
        return
    say_done(
        console,
        f"{run.file}: {run.rows_in:,} rows in, {run.rows_stored:,} stored, "
        f"{run.duplicates:,} duplicates, {run.quarantined:,} quarantined, "
        f"{run.unrouted:,} unrouted, {run.matched:,} matched shared indicators "
        f"({run.seconds:.1f} s, {run.rows_per_second:,.0f} rows/s)",
    )


def _json_options(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        options = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadValue(f"--options is not JSON: {exc.msg}", field="--options", value=text) from exc
    if not isinstance(options, dict):
        raise BadValue("--options must be a JSON object", field="--options", value=text)
    return options
