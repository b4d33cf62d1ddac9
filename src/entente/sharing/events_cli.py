"""`entente event`: shared events from a shell, as the user named by `--as` (see `cli_options`)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from entente.core.cli import cli_state, counted_table, say_done, validated
from entente.sharing import correlation, groups, service
from entente.sharing.choices import AnalysisState, ThreatLevel
from entente.sharing.cli_options import (
    FILTER_OPTIONS,
    AsOption,
    EventId,
    JsonOption,
    LimitOption,
    MemberStateOption,
    OrganisationFilterOption,
    SinceOption,
    TagFilterOption,
    TlpFilterOption,
    UntilOption,
    acting_principal,
    choice_option,
    date_option,
    event_filter,
    first_items,
    listed_table,
    options_named,
    print_json,
    read_text,
)
from entente.sharing.schemas import (
    CorrelatedEventPublic,
    EventCreate,
    EventPublic,
    EventVersionPublic,
)
from entente.vocabulary.markings import TLP, Distribution

event_app = typer.Typer(
    help="Shared events: create, list, show and publish, as a named user.", no_args_is_help=True
)

EVENT_OPTIONS = {
    "title": "--title",
    "event_date": "--date",
    "tlp": "--tlp",
    "distribution": "--distribution",
    "sharing_group_id": "--group",
    "group": "--group",
    "description": "--description-file",
    "tags": "--tag",
    "tag": "--tag",
}


@event_app.command("create")
def event_create(  # noqa: PLR0913 -- one parameter per option is how Typer declares a command
    ctx: typer.Context,
    acting: AsOption,
    title: Annotated[str, typer.Option("--title", help="3 to 300 characters.")],
    event_date: Annotated[date, date_option("--date", "When it happened.")],
    tlp: Annotated[TLP, choice_option("--tlp", TLP, "TLP 2.0 marking.")],
    distribution: Annotated[
        Distribution, choice_option("--distribution", Distribution, "Who it is meant to reach.")
    ],
    group: Annotated[
        str | None, typer.Option("--group", help="Sharing group id or name (sharing_group).")
    ] = None,
    threat_level: Annotated[
        ThreatLevel, choice_option("--threat-level", ThreatLevel, "How bad.")
    ] = ThreatLevel.UNDEFINED,
    analysis: Annotated[
        AnalysisState, choice_option("--analysis", AnalysisState, "Analysis state.")
    ] = AnalysisState.INITIAL,
    description_file: Annotated[
        Path | None,
        typer.Option("--description-file", help="Markdown description; - reads standard input."),
    ] = None,
    tags: Annotated[list[str] | None, typer.Option("--tag", help="A tag; repeat for more.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create an unpublished event owned by the user's organisation; prints its id."""
    state = cli_state(ctx)
    description = read_text(description_file, "--description-file") if description_file else ""
    with state.session() as session, options_named(EVENT_OPTIONS):
        principal = acting_principal(session, acting)
        data = validated(
            EventCreate,
            title=title,
            description=description,
            event_date=event_date,
            threat_level=threat_level,
            analysis=analysis,
            tlp=tlp,
            distribution=distribution,
            sharing_group_id=groups.find_group(session, group).id if group else None,
            tags=tags or [],
        )
        event = service.create_event(session, principal, data)
        public = service.event_public_for(session, principal.viewer, event)
    if as_json:
        print_json(state.console, public)
    else:
        say_done(state.console, f"created event {public.id}: {public.title}")


@event_app.command("list")
def event_list(  # noqa: PLR0913 -- one parameter per option is how Typer declares a command
    ctx: typer.Context,
    acting: AsOption,
    q: Annotated[str | None, typer.Option("--q", help="Part of the title.")] = None,
    organisation: OrganisationFilterOption = None,
    member_state: MemberStateOption = None,
    tag: TagFilterOption = None,
    tlp: TlpFilterOption = None,
    threat_level: Annotated[
        ThreatLevel | None, choice_option("--threat-level", ThreatLevel, "Only this level.")
    ] = None,
    published: Annotated[
        bool | None, typer.Option("--published/--unpublished", help="Published or not.")
    ] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: LimitOption = 100,
    as_json: JsonOption = False,
) -> None:
    """List the events the user may see, newest first."""
    state = cli_state(ctx)
    with state.session() as session, options_named(FILTER_OPTIONS):
        principal = acting_principal(session, acting)
        filters = event_filter(
            session,
            organisation=organisation,
            member_state=member_state,
            q=q,
            tlp=tlp,
            threat_level=threat_level,
            published=published,
            tag=tag,
            since=since,
            until=until,
        )
        found, total = first_items(
            lambda page: service.list_events(session, principal.viewer, filters, page), limit
        )
    if as_json:
        print_json(state.console, {"data": found, "count": total})
        return
    table = listed_table(len(found), total, "event")
    table.add_column("Id", justify="right")
    for column in ("Date", "Title", "Owner", "TLP", "Threat", "Published"):
        table.add_column(column)
    table.add_column("Indicators", justify="right")
    table.add_column("Tags")
    for e in found:
        published_as = f"v{e.version}" if e.published else "no"
        table.add_row(
            str(e.id),
            e.event_date.isoformat(),
            e.title,
            e.owner_organisation_name,
            e.tlp.label,
            e.threat_level.label,
            published_as,
            str(e.indicator_count),
            ", ".join(e.tags),
        )
    state.console.print(table)


@event_app.command("show")
def event_show(
    ctx: typer.Context, event_id: EventId, acting: AsOption, as_json: JsonOption = False
) -> None:
    """Show an event with its tags, indicator count, correlated events and published versions."""
    state = cli_state(ctx)
    with state.session() as session:
        principal = acting_principal(session, acting)
        event = service.get_event(session, principal.viewer, event_id)
        public = service.event_public_for(session, principal.viewer, event)
        related = [
            CorrelatedEventPublic.model_validate(item, from_attributes=True)
            for item in correlation.correlated_events(session, principal.viewer, event.id)
        ]
        versions = service.event_history(session, event)
    if as_json:
        print_json(state.console, {"event": public, "correlations": related, "versions": versions})
    else:
        print_event(state.console, public, related, versions)


def print_event(
    console: Console,
    event: EventPublic,
    related: list[CorrelatedEventPublic],
    versions: list[EventVersionPublic],
) -> None:
    console.print(Text.assemble((event.title, "bold"), f"  (event {event.id})"))
    console.print(event_facts(event))
    if event.description:
        console.print(event.description)
    console.print(correlation_table(related))
    console.print(version_table(versions))


def event_facts(event: EventPublic) -> Table:
    if event.published:
        published = f"yes, version {event.version}"
    else:
        published = f"no; changed since version {event.version}" if event.version else "no"
    facts = Table.grid(padding=(0, 2))
    for name, value in (
        ("Owner", event.owner_organisation_name),
        ("Date", event.event_date.isoformat()),
        ("Marking", f"{event.tlp.label}, {event.distribution.label}"),
        ("Threat level", event.threat_level.label),
        ("Analysis", event.analysis.label),
        ("Published", published),
        ("Indicators", str(event.indicator_count)),
        ("Tags", ", ".join(event.tags) or "-"),
    ):
        facts.add_row(name, value)
    return facts


def correlation_table(related: list[CorrelatedEventPublic]) -> Table:
    table = counted_table(len(related), "correlated event")
    table.add_column("Event", justify="right")
    for column in ("Title", "Date", "TLP", "Owner"):
        table.add_column(column)
    table.add_column("Links", justify="right")
    table.add_column("Linked values here")
    for r in related:
        table.add_row(
            str(r.event_id),
            r.title,
            r.event_date.isoformat(),
            r.tlp.label,
            r.owner_organisation_name,
            str(r.links),
            ", ".join(r.sample_values),
        )
    return table


def version_table(versions: list[EventVersionPublic]) -> Table:
    table = counted_table(len(versions), "published version")
    table.add_column("Version", justify="right")
    for column in ("Published at (UTC)", "By", "Title"):
        table.add_column(column)
    table.add_column("Indicators", justify="right")
    for v in versions:
        when = f"{v.published_at:%Y-%m-%d %H:%M}"
        table.add_row(str(v.version), when, v.published_by, v.title, str(v.indicator_count))
    return table


@event_app.command("publish")
def event_publish(ctx: typer.Context, event_id: EventId, acting: AsOption) -> None:
    """Freeze the event's current state as its next version and publish it."""
    state = cli_state(ctx)
    with state.session() as session:
        principal = acting_principal(session, acting)
        event = service.get_event(session, principal.viewer, event_id)
        already = event.published
        service.publish_event(session, principal, event)
    if already:
        say_done(
            state.console, f"event {event.id} was already published as version {event.version}"
        )
    else:
        say_done(state.console, f"published event {event.id} as version {event.version}")
