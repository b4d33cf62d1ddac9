"""`entente warninglist`: the shipped lists of known-benign values, checks, the admin's switch."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from entente.core.cli import cli_state, counted_table, say_done
from entente.sharing import warninglist_settings
from entente.sharing.cli_options import (
    AsOption,
    JsonOption,
    acting_principal,
    indicator_type_option,
    options_named,
    print_json,
)
from entente.sharing.indicators import IndicatorType
from entente.sharing.warninglist_schemas import WarningListPublic, warning_list_public

warninglist_app = typer.Typer(
    help="Warning lists of known-benign values, and the admin's on/off switch.",
    no_args_is_help=True,
)

ListName = Annotated[str, typer.Argument(metavar="NAME", help="The list's name.")]


@warninglist_app.command("list")
def warninglist_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the shipped warning lists and whether each is switched on."""
    state = cli_state(ctx)
    with state.session() as session:
        found = [warning_list_public(i) for i in warninglist_settings.warning_lists(session)]
    if as_json:
        print_json(state.console, found)
    else:
        state.console.print(warning_list_table(found))


def warning_list_table(found: list[WarningListPublic]) -> Table:
    table = counted_table(len(found), "warning list")
    for column in ("Name", "Kind", "On"):
        table.add_column(column)
    for column in ("Entries", "Version"):
        table.add_column(column, justify="right")
    table.add_column("Description")
    for w in found:
        name = f"{w.name} (sample)" if w.sample else w.name
        on = "yes" if w.enabled else "no"
        table.add_row(name, w.kind.value, on, str(w.entry_count), str(w.version), w.description)
    return table


@warninglist_app.command("enable")
def warninglist_enable(ctx: typer.Context, name: ListName, acting: AsOption) -> None:
    """Switch a list on for the whole hub (platform admins)."""
    switch_warning_list(ctx, name, acting, enabled=True)


@warninglist_app.command("disable")
def warninglist_disable(ctx: typer.Context, name: ListName, acting: AsOption) -> None:
    """Switch a list off for the whole hub (platform admins): its hits are no longer flagged."""
    switch_warning_list(ctx, name, acting, enabled=False)


def switch_warning_list(ctx: typer.Context, name: str, acting: str, enabled: bool) -> None:
    state = cli_state(ctx)
    with state.session() as session, options_named({"name": "NAME"}):
        principal = acting_principal(session, acting)
        item = warninglist_settings.set_enabled(session, principal, name, enabled)
    say_done(state.console, f"warning list {item.name} is {'on' if item.enabled else 'off'}")


@warninglist_app.command("check")
def warninglist_check(
    ctx: typer.Context,
    indicator_type: Annotated[IndicatorType, indicator_type_option("Type of the values.")],
    values: Annotated[list[str], typer.Argument(metavar="VALUE...", help="Values to check.")],
    as_json: JsonOption = False,
) -> None:
    """Which enabled warning lists each value hits: a check before sharing or blocking it."""
    state = cli_state(ctx)
    with state.session() as session, options_named({"values": "VALUE"}):
        hits = warninglist_settings.check_values(session, indicator_type, values)
    if as_json:
        print_json(state.console, {"hits": hits})
        return
    table = counted_table(len(hits), "value")
    for column in ("Value", "Warning lists"):
        table.add_column(column)
    for value, names in hits.items():
        table.add_row(value, ", ".join(names) or "-")
    state.console.print(table)
