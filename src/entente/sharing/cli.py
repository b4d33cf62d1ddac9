"""`entente group`: sharing groups from a shell, as the hub operator (no role checks apply)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from entente.core.cli import (
    cli_state,
    counted_table,
    every_item,
    operator_actor,
    say_done,
    validated,
)
from entente.members.service import find_organisation
from entente.sharing import groups
from entente.sharing.group_schemas import GroupCreate, GroupFilter, GroupPublic

group_app = typer.Typer(
    help="Sharing groups: named sets of organisations that group-distributed data reaches.",
    no_args_is_help=True,
)

GROUP_HELP = "Sharing group id or name."
ORG_HELP = "Organisation id, name or short name."
GroupArgument = Annotated[str, typer.Argument(help=GROUP_HELP)]
OrgArgument = Annotated[str, typer.Argument(help=ORG_HELP)]


@group_app.command("create")
def group_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Unique across the hub.")],
    org: Annotated[str, typer.Option("--org", help=f"Creator (manager). {ORG_HELP}")],
    releasability: Annotated[
        str, typer.Option("--releasability", help="Who its data may be passed on to.")
    ] = "",
) -> None:
    """Create a sharing group managed by an organisation, which becomes its first member."""
    state = cli_state(ctx)
    with state.session() as session:
        creator = find_organisation(session, org)
        data = validated(
            GroupCreate,
            name=name,
            releasability=releasability,
            creator_organisation_id=creator.id,
        )
        group = groups.create_group(session, operator_actor(), None, data)
    say_done(state.console, f"created sharing group {group.id}: {group.name}")


@group_app.command("list")
def group_list(
    ctx: typer.Context,
    org: Annotated[
        str | None, typer.Option("--org", help=f"Only groups it is in. {ORG_HELP}")
    ] = None,
    q: Annotated[str | None, typer.Option("--q", help="Part of the name.")] = None,
) -> None:
    """List sharing groups with their manager and members."""
    state = cli_state(ctx)
    with state.session() as session:
        organisation_id = find_organisation(session, org).id if org else None
        filters = GroupFilter(q=q, organisation_id=organisation_id)
        found = list(every_item(lambda page: groups.list_groups(session, filters, page)))
    state.console.print(group_table(found))


@group_app.command("add-member")
def group_add_member(ctx: typer.Context, group: GroupArgument, org: OrgArgument) -> None:
    """Add an organisation to a sharing group (adding a member again changes nothing)."""
    state = cli_state(ctx)
    with state.session() as session:
        target = groups.find_group(session, group)
        organisation = find_organisation(session, org)
        groups.add_member(session, operator_actor(), None, target, organisation.id)
    say_done(state.console, f"{organisation.name} is a member of {target.name}")


@group_app.command("remove-member")
def group_remove_member(ctx: typer.Context, group: GroupArgument, org: OrgArgument) -> None:
    """Take an organisation out of a sharing group (never its creator)."""
    state = cli_state(ctx)
    with state.session() as session:
        target = groups.find_group(session, group)
        organisation = find_organisation(session, org)
        groups.remove_member(session, operator_actor(), None, target, organisation.id)
    say_done(state.console, f"{organisation.name} is no longer a member of {target.name}")


def group_table(found: list[GroupPublic]) -> Table:
    table = counted_table(len(found), "sharing group")
    table.add_column("Id", justify="right")
    for column in ("Name", "Managed by", "Members"):
        table.add_column(column)
    for g in found:
        names = ", ".join(member.name for member in g.members)
        table.add_row(str(g.id), g.name, g.creator_organisation_name, names)
    return table
