"""`entente constituency`: what organisations are responsible for, from a shell, as the operator."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from entente.core.cli import (
    CliState,
    cli_state,
    counted_table,
    every_item,
    operator_actor,
    say_done,
    validated,
)
from entente.core.errors import FetchError
from entente.members import constituencies, constituency_contacts, service
from entente.members.choices import ConstituencyKind, ReportFormat
from entente.members.constituency_imports import (
    ImportRequest,
    decode_import,
    import_constituencies,
)
from entente.members.constituency_schemas import (
    ConstituencyCreate,
    ConstituencyPublic,
    ContactCreate,
    ContactPublic,
    ImportFormat,
    ImportReport,
)
from entente.members.filters import ConstituencyFilter, ContactFilter

constituency_app = typer.Typer(
    help="Constituencies: the prefixes, AS numbers, domains and countries each organisation "
    "is responsible for, and their contacts.",
    no_args_is_help=True,
)
contact_app = typer.Typer(
    help="Where an organisation's alerts go: e-mail, PGP key, format.", no_args_is_help=True
)
constituency_app.add_typer(contact_app, name="contact")

ORG_HELP = "Organisation id, name or short name."
OrgOption = Annotated[str, typer.Option("--org", help=ORG_HELP)]
OptionalOrgOption = Annotated[str | None, typer.Option("--org", help=ORG_HELP)]


@constituency_app.command("add")
def constituency_add(
    ctx: typer.Context,
    kind: Annotated[ConstituencyKind, typer.Argument(case_sensitive=False)],
    value: Annotated[
        str, typer.Argument(help="192.0.2.0/24, AS64496, example.org, or a country code.")
    ],
    org: OrgOption,
) -> None:
    """Declare one prefix, AS number, domain or (national CERTs) country."""
    state = cli_state(ctx)
    with state.session() as session:
        organisation = service.find_organisation(session, org)
        data = validated(
            ConstituencyCreate, organisation_id=organisation.id, kind=kind, value=value
        )
        added = constituencies.add_constituency(session, operator_actor(), None, data)
        say_done(
            state.console,
            f"added {added.kind.label.lower()} {added.value} (entry {added.id}) to "
            f"{organisation.name}",
        )


@constituency_app.command("list")
def constituency_list(
    ctx: typer.Context,
    org: OptionalOrgOption = None,
    kind: Annotated[ConstituencyKind | None, typer.Option("--kind", case_sensitive=False)] = None,
    q: Annotated[
        str | None, typer.Option("--q", help="An address, prefix, host name, AS or text.")
    ] = None,
) -> None:
    """List entries in routing order; `--q 192.0.2.7` shows who covers that address."""
    state = cli_state(ctx)
    with state.session() as session:
        org_id = service.find_organisation(session, org).id if org is not None else None
        filters = ConstituencyFilter(organisation_id=org_id, kind=kind, q=q)
        entries = list(
            every_item(lambda page: constituencies.list_constituencies(session, filters, page))
        )
    state.console.print(constituency_table(entries))


@constituency_app.command("remove")
def constituency_remove(
    ctx: typer.Context, entry_id: Annotated[int, typer.Argument(help="Entry id (see list).")]
) -> None:
    """Remove an entry, and the contacts that were for that entry alone."""
    state = cli_state(ctx)
    with state.session() as session:
        entry = constituencies.get_constituency(session, entry_id)
        what = f"{entry.kind.label.lower()} {entry.value} of {entry.organisation.name}"
        constituencies.remove_constituency(session, operator_actor(), None, entry)
    say_done(state.console, f"removed {what}")


@constituency_app.command("import")
def constituency_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV file or RIPE (RPSL) export.")],
    import_format: Annotated[
        ImportFormat, typer.Option("--format", case_sensitive=False)
    ] = ImportFormat.CSV,
    org: Annotated[
        str | None,
        typer.Option("--org", help=f"{ORG_HELP} Required for ripe; for csv, the default."),
    ] = None,
) -> None:
    """Add entries in bulk. Bad rows are listed with their line; the others are stored."""
    state = cli_state(ctx)
    text = _read(file)
    with state.session() as session, _progress(state) as progress:
        organisation = service.find_organisation(session, org) if org is not None else None
        task = progress.add_task(f"Importing {file.name}", total=None)
        request = ImportRequest(
            text=text,
            organisation=organisation,
            source=str(file),
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
        report = import_constituencies(session, operator_actor(), None, import_format, request)
    _print_report(state, file, report)


def _read(file: Path) -> str:
    try:
        return decode_import(file.read_bytes())
    except OSError as exc:
        raise FetchError(
            f"cannot read {file}: {exc.strerror}", field="file", value=str(file)
        ) from exc


def _progress(state: CliState) -> Progress:
    return Progress(
        TextColumn("{task.description:<40}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=state.console,
        transient=True,
        # A bar helps a person watching; piped output gets the summary alone.
        disable=not state.console.is_terminal,
    )


def _print_report(state: CliState, file: Path, report: ImportReport) -> None:
    summary = (
        f"{file.name}: {len(report.added)} added, {len(report.duplicates)} already declared, "
        f"{len(report.rejected)} refused, {_count(report.contacts_added, 'contact')} added"
    )
    if report.ignored_objects:
        summary += f", {_count(report.ignored_objects, 'other RPSL object')} skipped"
    say_done(state.console, summary)
    if report.rejected:
        table = counted_table(len(report.rejected), "refused row")
        for column in ("Line", "Field", "Value", "Why"):
            table.add_column(column, justify="right" if column == "Line" else "left")
        for row in report.rejected:
            table.add_row(str(row.line), row.field or "", row.value, row.reason)
        state.console.print(table)


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def constituency_table(entries: list[ConstituencyPublic]) -> Table:
    table = counted_table(len(entries), "entry")
    table.add_column("Id", justify="right")
    table.add_column("Kind", no_wrap=True)
    table.add_column("Value", no_wrap=True)
    table.add_column("Organisation")
    for entry in entries:
        table.add_row(str(entry.id), entry.kind.value, entry.value, entry.organisation_name)
    return table


# ---- entente constituency contact ------------------------------------------------------


@contact_app.command("add")
def contact_add(  # noqa: PLR0913 -- one parameter per option is how Typer declares a command
    ctx: typer.Context,
    org: OrgOption,
    email: Annotated[str, typer.Option("--email")],
    pgp: Annotated[str | None, typer.Option("--pgp", help="40-digit key fingerprint.")] = None,
    report_format: Annotated[
        ReportFormat, typer.Option("--format", case_sensitive=False)
    ] = ReportFormat.CSV,
    entry: Annotated[
        int | None, typer.Option("--entry", help="Only for this entry (id); default: all.")
    ] = None,
) -> None:
    """Add a contact for an organisation's whole constituency, or for one entry of it."""
    state = cli_state(ctx)
    with state.session() as session:
        organisation = service.find_organisation(session, org)
        data = validated(
            ContactCreate,
            organisation_id=organisation.id,
            email=email,
            pgp_fingerprint=pgp,
            preferred_format=report_format,
            constituency_id=entry,
        )
        contact = constituency_contacts.add_contact(session, operator_actor(), None, data)
        say_done(
            state.console, f"added contact {contact.id}: {contact.email} ({organisation.name})"
        )


@contact_app.command("list")
def contact_list(ctx: typer.Context, org: OptionalOrgOption = None) -> None:
    """List contacts, optionally of one organisation."""
    state = cli_state(ctx)
    with state.session() as session:
        org_id = service.find_organisation(session, org).id if org is not None else None
        filters = ContactFilter(organisation_id=org_id)
        contacts = list(
            every_item(lambda page: constituency_contacts.list_contacts(session, filters, page))
        )
    state.console.print(contact_table(contacts))


@contact_app.command("remove")
def contact_remove(ctx: typer.Context, contact_id: Annotated[int, typer.Argument()]) -> None:
    """Remove a contact by id."""
    state = cli_state(ctx)
    with state.session() as session:
        contact = constituency_contacts.get_contact(session, contact_id)
        email = contact.email
        constituency_contacts.remove_contact(session, operator_actor(), None, contact)
    say_done(state.console, f"removed contact {email}")


def contact_table(contacts: list[ContactPublic]) -> Table:
    table = counted_table(len(contacts), "contact")
    table.add_column("Id", justify="right")
    for column in ("E-mail", "Organisation", "For", "Format", "PGP fingerprint"):
        table.add_column(column, no_wrap=column in ("E-mail", "PGP fingerprint"))
    for c in contacts:
        table.add_row(
            str(c.id),
            c.email,
            c.organisation_name,
            c.constituency or "everything",
            c.preferred_format.value,
            c.pgp_fingerprint or "",
        )
    return table
