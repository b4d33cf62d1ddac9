"""`entente misp`: import MISP JSON and feeds, export events as MISP JSON or as a MISP feed.

The caller names whose they act for: `--as USERNAME` (that user's role and access apply) or
`--as-org ORG` (an operator acting for an organisation: an import belongs to it, an export
holds what it may see). Exit code 2 when nothing could be imported or a file is unreadable.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.core.access import Viewer
from entente.core.cli import cli_state, operator_actor, say_done, text_output
from entente.core.errors import BadValue
from entente.interop.misp.exports import event_misp, events_misp, response_text
from entente.interop.misp.feed_export import write_feed
from entente.interop.misp.imports import Importer, import_events, importer_for, importer_of
from entente.interop.misp.reading import events_at
from entente.interop.misp.schemas import MispImportResult
from entente.members.service import find_organisation
from entente.sharing import service
from entente.sharing.cli_options import (
    FILTER_OPTIONS,
    JsonOption,
    MemberStateOption,
    OrganisationFilterOption,
    SinceOption,
    TagFilterOption,
    TlpFilterOption,
    UntilOption,
    acting_principal,
    event_filter,
    event_or_filters,
    options_named,
    print_json,
)
from entente.sharing.models import SharingGroupMember

misp_app = typer.Typer(
    help="MISP: import events, restSearch dumps and feeds; export MISP JSON and feeds.",
    no_args_is_help=True,
)

AsUserOption = Annotated[
    str | None,
    typer.Option("--as", metavar="USERNAME", help="Act as this user: their role and access."),
]
AsOrgOption = Annotated[
    str | None,
    typer.Option("--as-org", metavar="ORG", help="Act for this organisation (id or name)."),
]


def _one_of(acting: str | None, organisation: str | None) -> None:
    if (acting is None) == (organisation is None):
        raise BadValue("give --as USERNAME or --as-org ORG", field="--as-org")


def _importer(session: Session, acting: str | None, organisation: str | None) -> Importer:
    _one_of(acting, organisation)
    if organisation is not None:
        with options_named({"organisation": "--as-org"}):
            return importer_for(session, organisation, operator_actor())
    assert acting is not None
    return importer_of(acting_principal(session, acting))


def _viewer(session: Session, acting: str | None, organisation: str | None) -> Viewer:
    _one_of(acting, organisation)
    if organisation is None:
        assert acting is not None
        return acting_principal(session, acting).viewer
    with options_named({"organisation": "--as-org"}):
        found = find_organisation(session, organisation)
    groups = session.scalars(
        select(SharingGroupMember.sharing_group_id).where(
            SharingGroupMember.organisation_id == found.id
        )
    )
    return Viewer(organisation_id=found.id, sharing_group_ids=frozenset(groups))


@misp_app.command("import")
def misp_import(
    ctx: typer.Context,
    source: Annotated[
        Path, typer.Argument(metavar="FILE_OR_DIR", help="MISP event JSON, a dump or a feed.")
    ],
    acting: AsUserOption = None,
    organisation: AsOrgOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import MISP events; the same version again adds nothing, a newer timestamp updates."""
    state = cli_state(ctx)
    with state.session() as session:
        importer = _importer(session, acting, organisation)
        with _bar(state.console, "Importing MISP events") as advance:
            result = import_events(session, importer, events_at(source, advance))
    if as_json:
        print_json(state.console, result)
    else:
        print_report(state.console, result)


@contextmanager
def _bar(console: Console, label: str) -> Iterator[Callable[[int, int], None]]:
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("import", total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)


def print_report(console: Console, result: MispImportResult) -> None:
    say_done(
        console,
        f"{result.imported} imported, {result.updated} updated, {result.unchanged} unchanged, "
        f"{result.refused} refused; {result.indicators_added} indicators added, "
        f"{result.rejected_count} parts not imported",
    )
    if not result.rejected:
        return
    table = Table("event", "field", "value", "why")
    for item in result.rejected:
        table.add_row(
            item.event_uuid or item.source, item.field or "", item.value or "", item.message
        )
    console.print(table)
    if result.rejected_count > len(result.rejected):
        console.print(f"... and {result.rejected_count - len(result.rejected)} more")


@misp_app.command("export")
def misp_export(  # noqa: PLR0913 -- one parameter per option is how Typer declares a command
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write; - for stdout.")],
    acting: AsUserOption = None,
    organisation: AsOrgOption = None,
    event_id: Annotated[int | None, typer.Option("--event", min=1, help="This event only.")] = None,
    q: Annotated[str | None, typer.Option("--q", help="Part of the title.")] = None,
    owner: OrganisationFilterOption = None,
    member_state: MemberStateOption = None,
    tag: TagFilterOption = None,
    tlp: TlpFilterOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
) -> None:
    """Write one event as `{"Event": ...}`, or the matching events as a restSearch response."""
    state = cli_state(ctx)
    event_or_filters(event_id, (q, owner, member_state, tag, tlp, since, until))
    with state.session() as session, options_named(FILTER_OPTIONS):
        viewer = _viewer(session, acting, organisation)
        if event_id is not None:
            event = service.get_event(session, viewer, event_id)
            pieces = iter([json.dumps(event_misp(session, viewer, event))])
        else:
            filters = event_filter(
                session,
                organisation=owner,
                member_state=member_state,
                q=q,
                tag=tag,
                tlp=tlp,
                since=since,
                until=until,
            )
            pieces = response_text(events_misp(session, viewer, filters))
        with text_output(output) as sink:
            count = sum(_counted(sink.write, pieces))
            if str(output) == "-":
                sink.write("\n")
    if str(output) != "-":
        say_done(state.console, f"wrote {count} events to {output}")


def _counted(write: Callable[[str], int], pieces: Iterator[str]) -> Iterator[int]:
    """1 for each event written (the pieces holding `"Event"`), 0 for the brackets."""
    for piece in pieces:
        write(piece)
        yield 1 if '"Event"' in piece[:12] else 0


@misp_app.command("export-feed")
def misp_export_feed(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Feed directory to write.")],
    acting: AsUserOption = None,
    organisation: AsOrgOption = None,
) -> None:
    """Write a MISP feed (manifest.json, hashes.csv, <uuid>.json) of the published events the
    user or organisation may see; a MISP subscribes to it as a feed of format "MISP Feed"."""
    state = cli_state(ctx)
    with state.session() as session:
        viewer = _viewer(session, acting, organisation)
        with _bar(state.console, "Writing the feed") as advance:
            written = write_feed(session, viewer, directory, advance)
    say_done(
        state.console,
        f"wrote {written.events} events ({written.attributes} attributes) to {directory}"
        + (f", removed {written.removed} no longer in the feed" if written.removed else ""),
    )
