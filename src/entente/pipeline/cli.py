"""`entente feed ...` and `entente ingest FILE`: feeds and their files through the pipeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from entente.core.cli import cli_state, counted_table, operator_actor, say_done, validated
from entente.core.errors import BadValue
from entente.pipeline import feeds
from entente.pipeline.choices import FeedSourceKind
from entente.pipeline.ingest import IngestCounts, Pipeline, ingest_file
from entente.pipeline.models import FeedRun
from entente.pipeline.parsers import parsers
from entente.pipeline.schemas import FeedCreate, FeedPublic
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
    typer.Option("--options", help='Parser options as JSON, e.g. \'{"report": "scan_http"}\'.'),
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
        FeedSourceKind, typer.Option("--kind", help="Where files come from.")
    ] = FeedSourceKind.FILE,
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
        source_kind=kind,
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
    for feed in found:
        run = feed.last_run
        table.add_row(
            feed.name,
            feed.parser,
            feed.source or feed.source_kind.value,
            run.started_at.strftime("%Y-%m-%d %H:%M") if run else "never",
            run.status.value if run else "",
            f"{run.rows_in:,}" if run else "",
            f"{run.rows_stored:,}" if run else "",
            f"{run.quarantined:,}" if run else "",
            f"{run.rows_per_second:,.0f}" if run else "",
        )
    return table


@feed_app.command("run")
def feed_run(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The feed's name.")],
    file: Annotated[
        Path | None, typer.Option("--file", help="Ingest this file instead of the feed's source.")
    ] = None,
    stream: StreamOption = False,
) -> None:
    """Run a feed now: its file, every file of its directory, or --file."""
    state = cli_state(ctx)
    with state.session() as session:
        feed = feeds.get_feed(session, name)
        paths = [file] if file is not None else feeds.source_files(feed)
        if stream:
            for path in paths:
                queue_file(state, session, feed, path)
            return
        pipeline = Pipeline.load(session, state.settings)
        for path in paths:
            run = _ingest_with_progress(
                state.console, lambda cb, p=path: ingest_file(session, pipeline, feed, p, cb), path
            )
            print_run(state.console, run)


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
        run = _ingest_with_progress(
            state.console,
            lambda callback: ingest_file(session, pipeline, feed, file, callback),
            file,
        )
    print_run(state.console, run)


def _ingest_with_progress(console: Console, work: Any, path: Path) -> FeedRun:
    """Run `work(callback)` under a live line of rows read, stored and quarantined."""
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

        run: FeedRun = work(advance)
    return run


def print_run(console: Console, run: FeedRun) -> None:
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
