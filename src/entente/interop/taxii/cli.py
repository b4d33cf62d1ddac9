"""`entente taxii collection add/list/remove`: TAXII collections from a shell, as the hub
operator (docs/taxii.md). The same service as the admin API; exit code 2 on bad input."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from entente.core.cli import cli_state, counted_table, operator_actor, say_done, validated
from entente.interop.taxii import collections as service
from entente.interop.taxii.schemas import CollectionCreate, CollectionPermission
from entente.members.service import find_organisation
from entente.sharing.groups import find_group
from entente.vocabulary.markings import TLP

taxii_app = typer.Typer(help="TAXII 2.1 server: its collections.", no_args_is_help=True)
collection_app = typer.Typer(
    help="Collections: filtered views of the sharing space, with who may read or write them.",
    no_args_is_help=True,
)
taxii_app.add_typer(collection_app, name="collection")

ORG_HELP = "Organisation id, name or short name"


@collection_app.command("add")
def collection_add(  # noqa: PLR0913 -- one parameter per option is how Typer declares a command
    ctx: typer.Context,
    title: Annotated[str, typer.Argument(help="What clients see the collection as.")],
    alias: Annotated[str | None, typer.Option(help="URL-safe name (a-z, 0-9, -).")] = None,
    description: Annotated[str, typer.Option(help="What it holds.")] = "",
    owner: Annotated[str | None, typer.Option(help=f"Only events of it. {ORG_HELP}.")] = None,
    group: Annotated[str | None, typer.Option(help="Only events of this sharing group.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Only events tagged so (repeat).")] = None,
    max_tlp: Annotated[TLP, typer.Option(help="Only objects marked at most this.")] = TLP.AMBER,
    read: Annotated[list[str] | None, typer.Option(help=f"May read. {ORG_HELP} (repeat).")] = None,
    write: Annotated[
        list[str] | None, typer.Option(help=f"May read and write. {ORG_HELP} (repeat).")
    ] = None,
) -> None:
    """Create a collection and print its TAXII id."""
    state = cli_state(ctx)
    with state.session() as session:
        writers = [find_organisation(session, name).id for name in write or []]
        readers = [find_organisation(session, name).id for name in read or []]
        permissions = [
            CollectionPermission(organisation_id=o, can_write=o in writers)
            for o in dict.fromkeys([*writers, *readers])
        ]
        data = validated(
            CollectionCreate,
            title=title,
            alias=alias,
            description=description,
            owner_organisation_id=find_organisation(session, owner).id if owner else None,
            sharing_group_id=find_group(session, group).id if group else None,
            tags=tag or [],
            max_tlp=max_tlp,
            permissions=permissions,
        )
        collection = service.create_collection(session, operator_actor(), data)
        say_done(state.console, f"created collection {collection.uuid}: {collection.title}")


@collection_app.command("list")
def collection_list(ctx: typer.Context) -> None:
    """List the collections with their filter and permissions."""
    state = cli_state(ctx)
    with state.session() as session:
        found = [service.collection_public(session, c) for c in service.list_collections(session)]
    table: Table = counted_table(len(found), "collection")
    for column in ("id", "alias", "title", "filter", "read", "write"):
        table.add_column(column)
    for item in found:
        parts = [f"tlp<={item.max_tlp.value}"]
        if item.owner_organisation_id:
            parts.append(f"owner={item.owner_organisation_id}")
        if item.sharing_group_id:
            parts.append(f"group={item.sharing_group_id}")
        if item.tags:
            parts.append("tags=" + "|".join(item.tags))
        readers = [str(p.organisation_id) for p in item.permissions if p.can_read]
        writers = [str(p.organisation_id) for p in item.permissions if p.can_write]
        table.add_row(
            item.id,
            item.alias or "",
            item.title,
            " ".join(parts),
            ",".join(readers),
            ",".join(writers),
        )
    state.console.print(table)


@collection_app.command("remove")
def collection_remove(
    ctx: typer.Context,
    collection: Annotated[str, typer.Argument(help="The collection's id or alias.")],
) -> None:
    """Remove a collection; the events and objects it showed stay."""
    state = cli_state(ctx)
    with state.session() as session:
        found = service.get_collection(session, collection)
        title = found.title
        service.delete_collection(session, operator_actor(), found)
    say_done(state.console, f"removed collection {collection}: {title}")
