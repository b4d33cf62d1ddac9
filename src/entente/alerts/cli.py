"""`entente alert`: alerts from a shell, as the user named by `--as` (see `cli_options`), and
the automatic transitions (`auto-remediate`), run by the hub itself."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from entente.alerts import actions, automatic
from entente.alerts.choices import AlertStatus
from entente.alerts.schemas import AlertDetail, TimelineEntryPublic
from entente.core.cli import cli_state, say_done
from entente.members import accounts
from entente.pipeline import findings
from entente.pipeline.filters import AlertFilter
from entente.sharing.cli_options import (
    AsOption,
    JsonOption,
    LimitOption,
    acting_principal,
    choice_option,
    first_items,
    id_argument,
    listed_table,
    option_parser,
    options_named,
    positive_int,
    print_json,
)

alert_app = typer.Typer(
    help="Alerts: list, show, acknowledge, close, assign and reopen, as a named user.",
    no_args_is_help=True,
)

AlertId = Annotated[int, id_argument("ALERT_ID")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why; shown on the timeline.")]
NAMED = {"to": "--to", "reason": "--reason", "assignee_id": "--to", "alert_id": "ALERT_ID"}


@alert_app.command("list")
def alert_list(  # noqa: PLR0913 -- one parameter per option is how Typer declares a command
    ctx: typer.Context,
    acting: AsOption,
    status: Annotated[
        AlertStatus | None, choice_option("--status", AlertStatus, "Only this status.")
    ] = None,
    feed: Annotated[str | None, typer.Option("--feed", help="Only this report.")] = None,
    limit: LimitOption = 50,
    as_json: JsonOption = False,
) -> None:
    """List the user's alerts (platform admins: every member's), newest first."""
    state = cli_state(ctx)
    with state.session() as session:
        principal = acting_principal(session, acting)
        filters = AlertFilter(feed=feed, status=status)
        alerts, total = first_items(
            lambda page: findings.list_alerts(session, principal, filters, page), limit
        )
    if as_json:
        print_json(state.console, alerts)
        return
    table = listed_table(len(alerts), total, "alert")
    for column in ("Id", "Day", "Report", "Classification", "Findings", "Status"):
        table.add_column(column)
    for alert in alerts:
        classification = "/".join(part for part in (alert.taxonomy, alert.type) if part)
        table.add_row(
            str(alert.id),
            str(alert.day),
            alert.feed_name,
            classification,
            f"{alert.rows:,}",
            alert.status.value,
        )
    state.console.print(table)


@alert_app.command("show")
def alert_show(
    ctx: typer.Context, alert_id: AlertId, acting: AsOption, as_json: JsonOption = False
) -> None:
    """Show an alert with its assignee and timeline."""
    state = cli_state(ctx)
    with state.session() as session:
        principal = acting_principal(session, acting)
        alert = actions.get_alert(session, principal, alert_id)
        detail = actions.alert_detail(session, principal, alert)
        entries = actions.timeline(session, principal, alert_id)
    if as_json:
        print_json(state.console, {"alert": detail, "timeline": entries})
        return
    _print_detail(state.console, detail, entries)


def _print_detail(
    console: Console, detail: AlertDetail, entries: list[TimelineEntryPublic]
) -> None:
    console.print(
        f"alert {detail.id}: {detail.day} {detail.feed_name} {detail.taxonomy}/{detail.type}"
    )
    console.print(
        f"status: {detail.status.value}   assigned to: {detail.assignee_username or 'nobody'}"
    )
    targets = ", ".join(status.value for status in detail.allowed_statuses) or "-"
    console.print(f"findings: {detail.rows:,}   may move to: {targets}")
    table = Table(title="timeline")
    for column in ("When", "Who", "What", "From", "To", "Reason / comment"):
        table.add_column(column)
    for entry in entries:
        table.add_row(
            entry.at.isoformat(timespec="seconds"),
            entry.actor,
            entry.kind.value,
            entry.from_value,
            entry.to_value,
            entry.reason or entry.body,
        )
    console.print(table)


def _move(ctx: typer.Context, alert_id: int, acting: str, target: AlertStatus, reason: str) -> None:
    state = cli_state(ctx)
    with state.session() as session, options_named(NAMED):
        principal = acting_principal(session, acting)
        actions.transition(session, principal, alert_id, target, reason)
    say_done(state.console, f"alert {alert_id} is {target.value}")


@alert_app.command("ack")
def alert_ack(
    ctx: typer.Context, alert_id: AlertId, acting: AsOption, reason: ReasonOption = ""
) -> None:
    """Acknowledge an alert: your organisation is on it."""
    _move(ctx, alert_id, acting, AlertStatus.ACKNOWLEDGED, reason)


@alert_app.command("close")
def alert_close(
    ctx: typer.Context, alert_id: AlertId, acting: AsOption, reason: ReasonOption = ""
) -> None:
    """Close an alert."""
    _move(ctx, alert_id, acting, AlertStatus.CLOSED, reason)


@alert_app.command("reopen")
def alert_reopen(
    ctx: typer.Context,
    alert_id: AlertId,
    acting: AsOption,
    reason: Annotated[str, typer.Option("--reason", help="Why it is reopened (required).")],
    to: Annotated[
        AlertStatus, choice_option("--to", AlertStatus, "acknowledged (default) or new.")
    ] = AlertStatus.ACKNOWLEDGED,
) -> None:
    """Reopen a remediated, false-positive or closed alert."""
    state = cli_state(ctx)
    with state.session() as session, options_named(NAMED):
        principal = acting_principal(session, acting)
        actions.reopen(session, principal, alert_id, to, reason)
    say_done(state.console, f"alert {alert_id} is reopened as {to.value}")


@alert_app.command("assign")
def alert_assign(
    ctx: typer.Context,
    alert_id: AlertId,
    acting: AsOption,
    to: Annotated[
        str, typer.Option("--to", metavar="USERNAME", help="A user of the alert's organisation.")
    ],
) -> None:
    """Assign an alert to a user of its organisation."""
    state = cli_state(ctx)
    with state.session() as session, options_named({"username": "--to", **NAMED}):
        principal = acting_principal(session, acting)
        assignee = accounts.get_user_by_username(session, to)
        actions.assign(session, principal, alert_id, assignee.id)
    say_done(state.console, f"alert {alert_id} is assigned to {to}")


DaysOption = Annotated[
    int | None,
    typer.Option(
        "--days",
        parser=option_parser("--days", positive_int, "a whole number from 1"),
        metavar="N",
        help="Absent for N report days (default: the alert_remediate_after_days setting).",
    ),
]


@alert_app.command("auto-remediate")
def alert_auto_remediate(ctx: typer.Context, days: DaysOption = None) -> None:
    """Remediate alerts whose finding left its feed, and mark findings that came back."""
    state = cli_state(ctx)
    after = days or state.settings.alert_remediate_after_days
    with state.session() as session:
        report = automatic.apply_automatic_transitions(session, after)
    say_done(state.console, f"{report.remediated} alert(s) remediated, {report.returned} returned")
