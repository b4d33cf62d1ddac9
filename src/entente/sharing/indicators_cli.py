"""`entente indicator` and `entente sighting`: indicators of shared events, as a named user.

`indicator add --file` runs the bulk-paste extraction over free text (a defanged report
will do) and sends what it finds in requests of at most `MAX_INDICATORS_PER_REQUEST`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from sqlalchemy.orm import Session

from entente.core.cli import cli_state, say_done, validated
from entente.core.errors import AppError, BadValue
from entente.members.accounts import Principal
from entente.sharing import indicator_service, search, service, sightings
from entente.sharing.choices import SightingKind
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
    aware_datetime,
    choice_option,
    first_items,
    id_argument,
    indicator_type_option,
    listed_table,
    member_state_code,
    option_parser,
    options_named,
    organisation_id,
    positive_int,
    print_json,
    read_text,
)
from entente.sharing.filters import IndicatorFilter
from entente.sharing.indicators import IndicatorType, canonicalise, extract
from entente.sharing.models import Event
from entente.sharing.schemas import (
    MAX_INDICATORS_PER_REQUEST,
    IndicatorBatch,
    IndicatorBatchResult,
    IndicatorCreate,
    IndicatorPublic,
    SightingCreate,
)

indicator_app = typer.Typer(
    help="Indicators of shared events: add and search.", no_args_is_help=True
)
sighting_app = typer.Typer(help="Report sightings of shared indicators.", no_args_is_help=True)


@dataclass(frozen=True, slots=True)
class Candidate:
    """An indicator to send, with where it came from (`line 7`, `--value 2`) to report it by."""

    item: IndicatorCreate
    origin: str


@dataclass(frozen=True, slots=True)
class Rejection:
    origin: str
    value: str
    reason: str


@dataclass(slots=True)
class AddTotals:
    """What all the requests of one `indicator add` came to."""

    added: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def count(self, sent: list[Candidate], result: IndicatorBatchResult) -> None:
        self.added += result.added_count
        self.duplicates += result.duplicates
        self.rejected.extend(
            Rejection(sent[r.index].origin, sent[r.index].item.value, r.message)
            for r in result.rejected
        )


TypeOption = Annotated[
    IndicatorType | None,
    indicator_type_option(
        "Indicator type: ipv4, domain, url, sha256, ... (docs/indicator-types.md)."
    ),
]


@indicator_app.command("add")
def indicator_add(  # noqa: PLR0913 -- one parameter per option is how Typer declares a command
    ctx: typer.Context,
    event_id: EventId,
    acting: AsOption,
    indicator_type: TypeOption = None,
    values: Annotated[
        list[str] | None, typer.Option("--value", help="A value of --type; repeat for more.")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", help="Free text (a report, defanged or not); - reads standard input."
        ),
    ] = None,
    to_ids: Annotated[bool, typer.Option("--to-ids", help="Mark them for detection.")] = False,
) -> None:
    """Add indicators to an event: typed values, or every indicator found in a text."""
    state = cli_state(ctx)
    check_indicator_source(indicator_type, values or [], file)
    if file is not None:
        with options_named({"text": "--file"}):
            candidates, rejected = candidates_in_text(read_text(file, "--file"), to_ids)
    else:
        assert indicator_type is not None, "checked above"
        candidates, rejected = typed_candidates(indicator_type, values or [], to_ids)
    totals = AddTotals(rejected=rejected)
    with state.session() as session:
        principal = acting_principal(session, acting)
        event = service.get_event(session, principal.viewer, event_id)
        with progress_bar(state.console, len(candidates)) as advance:
            for sent, result in added_in_batches(session, principal, event, candidates):
                totals.count(sent, result)
                advance(len(sent))
    print_add_summary(state.console, event_id, totals)
    if not totals.added and not totals.duplicates:
        source = "--file" if file is not None else "--value"
        raise BadValue("no valid indicator in the input", field=source)


def check_indicator_source(
    indicator_type: IndicatorType | None, values: list[str], file: Path | None
) -> None:
    if file is not None and values:
        raise BadValue("give --value or --file, not both", field="--file")
    if file is None and not values:
        raise BadValue(
            "give --type with --value, or --file (- for standard input)", field="--value"
        )
    if values and indicator_type is None:
        raise BadValue("--value needs --type", field="--type")
    if file is not None and indicator_type is not None:
        raise BadValue("a file's indicators are typed as they are found", field="--type")


def candidate(
    indicator_type: IndicatorType, raw: str, origin: str, to_ids: bool
) -> Candidate | Rejection:
    try:
        value = canonicalise(indicator_type, raw)
        item = validated(IndicatorCreate, type=indicator_type, value=value, to_ids=to_ids)
    except AppError as exc:
        return Rejection(origin, raw, exc.message)
    return Candidate(item, origin)


def typed_candidates(
    indicator_type: IndicatorType, values: list[str], to_ids: bool
) -> tuple[list[Candidate], list[Rejection]]:
    screened = [
        candidate(indicator_type, raw, f"--value {position}", to_ids)
        for position, raw in enumerate(values, start=1)
    ]
    return split_screened(screened)


def candidates_in_text(text: str, to_ids: bool) -> tuple[list[Candidate], list[Rejection]]:
    """The indicators `extract` finds in free text, and the tokens it found broken, with why."""
    found = extract(text)
    screened = [candidate(i.type, i.value, f"line {i.line}", to_ids) for i in found.indicators]
    candidates, rejected = split_screened(screened)
    failures = [Rejection(f"line {f.line}", f.token, f.reason) for f in found.failures]
    return candidates, failures + rejected


def split_screened(
    screened: list[Candidate | Rejection],
) -> tuple[list[Candidate], list[Rejection]]:
    return (
        [c for c in screened if isinstance(c, Candidate)],
        [r for r in screened if isinstance(r, Rejection)],
    )


@contextmanager
def progress_bar(console: Console, total: int) -> Iterator[Callable[[int], None]]:
    """A bar for work of more than one request, when a person watches; piped output gets none."""
    with Progress(
        TextColumn("Adding indicators"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal or total <= MAX_INDICATORS_PER_REQUEST,
    ) as progress:
        task = progress.add_task("add", total=total)
        yield lambda done: progress.advance(task, done)


def added_in_batches(
    session: Session, principal: Principal, event: Event, candidates: list[Candidate]
) -> Iterator[tuple[list[Candidate], IndicatorBatchResult]]:
    """Add in requests of at most `MAX_INDICATORS_PER_REQUEST`, each committed on its own."""
    for start in range(0, len(candidates), MAX_INDICATORS_PER_REQUEST):
        sent = candidates[start : start + MAX_INDICATORS_PER_REQUEST]
        batch = IndicatorBatch(indicators=[c.item for c in sent])
        yield sent, indicator_service.add_indicators(session, principal, event, batch)


def print_add_summary(console: Console, event_id: int, totals: AddTotals) -> None:
    counts = (
        f"{totals.added} added, {totals.duplicates} duplicates, {len(totals.rejected)} rejected"
    )
    say_done(console, f"event {event_id}: {counts}")
    for r in totals.rejected:
        console.print(f"rejected {r.origin}: {r.value}: {r.reason}", soft_wrap=True)


@indicator_app.command("search")
def indicator_search(  # noqa: PLR0913 -- one parameter per option is how Typer declares a command
    ctx: typer.Context,
    acting: AsOption,
    value: Annotated[
        str | None, typer.Option("--value", help="Exact value, in any spelling (defanged too).")
    ] = None,
    cidr: Annotated[
        str | None, typer.Option("--cidr", help="Addresses and networks inside this network.")
    ] = None,
    indicator_type: TypeOption = None,
    tag: TagFilterOption = None,
    organisation: OrganisationFilterOption = None,
    member_state: MemberStateOption = None,
    tlp: TlpFilterOption = None,
    active: Annotated[
        bool | None,
        typer.Option("--active/--expired", help="Not yet expired by decay, or expired."),
    ] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: LimitOption = 100,
    facets: Annotated[
        bool, typer.Option("--facets", help="Also count them by type, TLP, owner, member state.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Search the indicators the user may see, newest first."""
    state = cli_state(ctx)
    with state.session() as session, options_named(FILTER_OPTIONS):
        principal = acting_principal(session, acting)
        filters = IndicatorFilter(
            value=value,
            cidr=cidr,
            type=indicator_type,
            organisation_id=organisation_id(session, organisation),
            member_state=member_state_code(session, member_state),
            tag=tag,
            tlp=tlp,
            active=active,
            since=since,
            until=until,
        )
        found, total = first_items(
            lambda page: search.list_indicators(session, principal.viewer, filters, page), limit
        )
        counts = search.indicator_facets(session, principal.viewer, filters) if facets else None
    if as_json:
        payload: dict[str, object] = {"data": found, "count": total}
        if counts is not None:
            payload["facets"] = counts
        print_json(state.console, payload)
        return
    state.console.print(indicator_table(found, total))
    if counts is not None:
        state.console.print(facet_table(counts))


def indicator_table(found: list[IndicatorPublic], total: int) -> Table:
    table = listed_table(len(found), total, "indicator")
    for column in ("Id", "Event"):
        table.add_column(column, justify="right")
    table.add_column("Type")
    table.add_column("Value", overflow="fold")
    table.add_column("TLP")
    table.add_column("Score", justify="right")
    for column in ("Expires", "Warning lists"):
        table.add_column(column)
    for i in found:
        expires = f"{i.expires_at:%Y-%m-%d}" if i.expires_at else "never"
        table.add_row(
            str(i.id),
            str(i.event_id),
            i.type.value,
            i.value,
            i.tlp.label,
            str(i.score),
            expires,
            ", ".join(i.warning_lists),
        )
    return table


FACET_HEADINGS = {
    "type": "Type",
    "tlp": "TLP",
    "organisation": "Owner",
    "member_state": "Member state",
}


def facet_table(counts: search.Facets) -> Table:
    table = Table(title="Counts", title_justify="left")
    for column in ("By", "Value"):
        table.add_column(column)
    table.add_column("Count", justify="right")
    for name, values in counts.items():
        for facet in values:
            table.add_row(FACET_HEADINGS.get(name, name), facet.label, str(facet.count))
    return table


# ---- entente sighting -------------------------------------------------------------------------


@sighting_app.command("add")
def sighting_add(  # noqa: PLR0913 -- one parameter per option is how Typer declares a command
    ctx: typer.Context,
    indicator_id: Annotated[int, id_argument("INDICATOR_ID")],
    acting: AsOption,
    kind: Annotated[
        SightingKind, choice_option("--kind", SightingKind, "What you report.")
    ] = SightingKind.SEEN,
    source: Annotated[str, typer.Option("--source", help="Where it was seen.")] = "",
    count: Annotated[
        int,
        typer.Option(
            "--count",
            parser=option_parser("--count", positive_int, "a whole number from 1"),
            help="How many times.",
        ),
    ] = 1,
    at: Annotated[
        datetime | None,
        typer.Option(
            "--at",
            parser=option_parser("--at", aware_datetime, "a time with its zone (ISO 8601)"),
            metavar="ISO-TIME",
            help="When it was observed, e.g. 2026-03-01T09:30Z; default: now.",
        ),
    ] = None,
) -> None:
    """Report that the user's organisation saw an indicator (or found it false, or expired)."""
    state = cli_state(ctx)
    options = {"observed_at": "--at", "count": "--count", "source": "--source"}
    with state.session() as session, options_named(options):
        principal = acting_principal(session, acting)
        indicator = indicator_service.get_indicator(session, principal.viewer, indicator_id)
        data = validated(SightingCreate, kind=kind, source=source, count=count, observed_at=at)
        sighting = sightings.add_sighting(session, principal, indicator, data)
        totals = sightings.summary(session, indicator.id)
    say_done(
        state.console,
        f"sighting {sighting.id} of indicator {indicator_id} ({kind.label}, {count}); "
        f"now seen {totals.seen}, false positive {totals.false_positive}, "
        f"expired {totals.expired}",
    )
