"""`entente stix`: export events as STIX 2.1 bundles and import bundles, as a named user.

Both act as the user named by `--as` (`sharing.cli_options.acting_principal`): an export
holds what that user may see, an import writes as that user.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from sqlalchemy.orm import Session

from entente.core.cli import cli_state, say_done, text_output, validated
from entente.core.errors import BadValue
from entente.interop.bundles import StixOut, bundle_text
from entente.interop.schemas import NewEventTarget, StixImportResult
from entente.interop.stix_export import event_bundle, events_bundle
from entente.interop.stix_import import BundleFile, ImportTarget, import_bundle
from entente.members.accounts import Principal
from entente.sharing import groups, service
from entente.sharing.cli_options import (
    FILTER_OPTIONS,
    AsOption,
    JsonOption,
    MemberStateOption,
    OrganisationFilterOption,
    SinceOption,
    TagFilterOption,
    TlpFilterOption,
    UntilOption,
    acting_principal,
    choice_option,
    event_filter,
    event_or_filters,
    options_named,
    print_json,
)
from entente.vocabulary.markings import TLP, Distribution

stix_app = typer.Typer(
    help="STIX 2.1: export events as bundles, import bundles.", no_args_is_help=True
)

EventOption = Annotated[
    int | None, typer.Option("--event", min=1, help="This event only (its id).", show_default=False)
]


@stix_app.command("export")
def stix_export(  # noqa: PLR0913 -- one parameter per option is how Typer declares a command
    ctx: typer.Context,
    acting: AsOption,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Bundle file to write; - for standard output.")
    ],
    event_id: EventOption = None,
    q: Annotated[str | None, typer.Option("--q", help="Part of the title.")] = None,
    organisation: OrganisationFilterOption = None,
    member_state: MemberStateOption = None,
    tag: TagFilterOption = None,
    tlp: TlpFilterOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
) -> None:
    """Write one event, or every event the user may see matching the filters, as a bundle."""
    state = cli_state(ctx)
    event_or_filters(event_id, (q, organisation, member_state, tag, tlp, since, until))
    with state.session() as session, options_named(FILTER_OPTIONS):
        principal = acting_principal(session, acting)
        if event_id is not None:
            objects = event_bundle(
                session, principal.viewer, service.get_event(session, principal.viewer, event_id)
            )
        else:
            filters = event_filter(
                session,
                organisation=organisation,
                member_state=member_state,
                q=q,
                tag=tag,
                tlp=tlp,
                since=since,
                until=until,
            )
            objects = events_bundle(session, principal.viewer, filters)
        written = write_bundle(state.console, objects, output)
    if str(output) != "-":
        say_done(state.console, f"wrote {written} STIX objects to {output}")


def write_bundle(console: Console, objects: Iterator[StixOut], output: Path) -> int:
    """Write the bundle as it streams (`core.cli.text_output`: a file appears whole or not)."""
    counted = _Counted(objects)
    with text_output(output) as sink, _spinner(console, "Writing STIX objects") as advance:
        for piece in bundle_text(counted):
            sink.write(piece)
            if counted.count % 1_000 == 0:  # a bar redrawn per object costs more than it
                advance(counted.count)
    return counted.count


class _Counted:
    def __init__(self, objects: Iterator[StixOut]) -> None:
        self._objects = objects
        self.count = 0

    def __iter__(self) -> Iterator[StixOut]:
        for item in self._objects:
            self.count += 1
            yield item


@contextmanager
def _spinner(console: Console, label: str) -> Iterator[Callable[[int], None]]:
    with Progress(
        TextColumn(label),
        TextColumn("{task.completed:,}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task(label, total=None)
        yield lambda done: progress.update(task, completed=done)


@stix_app.command("import")
def stix_import(  # noqa: PLR0913 -- one parameter per option is how Typer declares a command
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A STIX 2.1 bundle; - reads standard input.")],
    acting: AsOption,
    event_id: Annotated[
        int | None, typer.Option("--event", min=1, help="Import into this event (its id).")
    ] = None,
    new_event: Annotated[
        str | None, typer.Option("--new-event", metavar="TITLE", help="Import as a new event.")
    ] = None,
    tlp: Annotated[
        TLP | None, choice_option("--tlp", TLP, "New event: its TLP (default: the bundle's).")
    ] = None,
    distribution: Annotated[
        Distribution, choice_option("--distribution", Distribution, "New event: who it reaches.")
    ] = Distribution.ORGANISATION,
    group: Annotated[
        str | None, typer.Option("--group", help="New event: sharing group id or name.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Import a bundle into an event; importing it again adds nothing (docs/stix.md).

    Indicators with simple patterns become Entente indicators and every object is kept as
    STIX. Invalid objects are listed; exit 2 when nothing could be imported.
    """
    state = cli_state(ctx)
    if (event_id is None) == (new_event is None):
        raise BadValue("give --event or --new-event TITLE", field="--event")
    options = {"title": "--new-event", "sharing_group_id": "--group", "tlp": "--tlp"}
    with (
        state.session() as session,
        options_named(options),
        _opened(file) as (stream, size),
    ):
        principal = acting_principal(session, acting)
        target = _target(session, principal, event_id, new_event, (tlp, distribution, group))
        with _bar(state.console, size) as advance:
            result = import_bundle(
                session, principal, BundleFile(stream, str(file)), target, advance
            )
    if as_json:
        print_json(state.console, result)
    else:
        print_import_summary(state.console, result)


def _target(
    session: Session,
    principal: Principal,
    event_id: int | None,
    title: str | None,
    new: tuple[TLP | None, Distribution, str | None],
) -> ImportTarget:
    if event_id is not None:
        return ImportTarget(event=service.get_event(session, principal.viewer, event_id))
    tlp, distribution, group = new
    target = validated(
        NewEventTarget,
        title=title,
        tlp=tlp,
        distribution=distribution,
        sharing_group_id=groups.find_group(session, group).id if group else None,
    )
    return ImportTarget(new_event=target)


@contextmanager
def _opened(file: Path) -> Iterator[tuple[IO[bytes], int]]:
    """The bundle as a seekable binary file, and its size; standard input is spooled first."""
    if str(file) == "-":
        with tempfile.TemporaryFile() as spool:
            shutil.copyfileobj(sys.stdin.buffer, spool)
            size = spool.tell()
            spool.seek(0)
            yield spool, size
        return
    try:
        stream = file.open("rb")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise BadValue(
            f"cannot read {str(file)!r}: {reason}", field="FILE", value=str(file)
        ) from exc
    with stream:
        yield stream, file.stat().st_size


@contextmanager
def _bar(console: Console, size: int) -> Iterator[Callable[[int], None]]:
    with Progress(
        TextColumn("Importing"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("import", total=size)
        yield lambda done: progress.update(task, completed=done)


def print_import_summary(console: Console, result: StixImportResult) -> None:
    made = "new event" if result.created_event else "event"
    say_done(
        console,
        f"{made} {result.event_id}: {result.objects_read} objects read, "
        f"{result.indicators_added} indicators added ({result.indicator_duplicates} already "
        f"there), {result.objects_stored} objects stored, {result.objects_updated} updated, "
        f"{result.objects_unchanged} unchanged, {result.rejected_count} rejected",
    )
    for r in result.rejected:
        where = r.object_id or f"object {r.index}"
        field = f" ({r.field})" if r.field else ""
        console.print(f"rejected {where}{field}: {r.message}", soft_wrap=True)
    if result.rejected_count > len(result.rejected):
        console.print(f"... and {result.rejected_count - len(result.rejected)} more rejected")
