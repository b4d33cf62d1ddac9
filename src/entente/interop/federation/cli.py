"""`entente peer`: agreements with other hubs (add, list, remove) and syncing them now.

The token is read from `--token`, `ENTENTE_PEER_TOKEN` or a hidden prompt, so it need not
sit in the shell's history; it is never printed. Exit code 2 for a bad option (naming it)
or an unknown peer; 1 when a sync failed (its reason is printed and stored on the peer).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from entente.core.cli import cli_state, operator_actor, say_done, validated
from entente.interop.federation import service
from entente.interop.federation.choices import Direction, SyncOutcome
from entente.interop.federation.identity import local_hub_uuid
from entente.interop.federation.schemas import PeerCreate
from entente.interop.federation.sync import sync_peer
from entente.sharing.cli_options import JsonOption, options_named, print_json
from entente.vocabulary.markings import TLP

peer_app = typer.Typer(help="Federation: agreements with other Entente hubs.", no_args_is_help=True)

_OPTIONS = {
    "name": "NAME",
    "base_url": "--url",
    "api_token": "--token",
    "organisations": "--org",
    "tags": "--tag",
    "sharing_groups": "--group",
    "max_tlp": "--max-tlp",
    "remote_hub_uuid": "--hub-id",
}


@peer_app.command("add")
def add(  # noqa: PLR0913 -- one parameter per option is how Typer declares a command
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name for the other hub, e.g. global-hub.")],
    url: Annotated[str, typer.Option("--url", help="The other hub's base URL.")],
    token: Annotated[
        str,
        typer.Option(
            "--token",
            envvar="ENTENTE_PEER_TOKEN",
            prompt="API token on the other hub",
            hide_input=True,
            help="The API token this hub presents there (never shown back).",
        ),
    ],
    direction: Annotated[Direction, typer.Option(help="Which way events travel.")] = Direction.BOTH,
    max_tlp: Annotated[
        TLP, typer.Option("--max-tlp", help="Nothing stricter is sent or accepted.")
    ] = TLP.GREEN,
    organisations: Annotated[
        list[str] | None, typer.Option("--org", help="Only events of this organisation.")
    ] = None,
    tags: Annotated[list[str] | None, typer.Option("--tag", help="Only events with a tag.")] = None,
    groups: Annotated[
        list[str] | None, typer.Option("--group", help="A sharing group whose events travel.")
    ] = None,
    hub_id: Annotated[
        str | None, typer.Option("--hub-id", help="The other hub's id (`entente peer hub-id`).")
    ] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Record it, sync later.")] = False,
) -> None:
    """Record an agreement with another hub."""
    state = cli_state(ctx)
    with options_named(_OPTIONS):
        data = validated(
            PeerCreate,
            name=name,
            base_url=url,
            api_token=token,
            direction=direction,
            max_tlp=max_tlp,
            organisations=organisations or [],
            tags=tags or [],
            sharing_groups=groups or [],
            remote_hub_uuid=hub_id,
            enabled=not disabled,
        )
        with state.session() as session:
            peer = service.create_peer(session, operator_actor(), data)
            say_done(state.console, f"peer {peer.name} added (id {peer.id})")


@peer_app.command("list")
def list_peers(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The agreements, their last sync and its outcome; tokens masked."""
    state = cli_state(ctx)
    with state.session() as session:
        peers = service.list_peers(session)
    if as_json:
        print_json(state.console, peers)
        return
    table = Table("id", "name", "url", "token", "direction", "max TLP", "enabled", "last sync")
    for peer in peers.data:
        last = "never"
        if peer.last_sync_at is not None and peer.last_sync_outcome is not None:
            last = f"{peer.last_sync_outcome.label} {peer.last_sync_at:%Y-%m-%d %H:%M}"
            last += f": {peer.last_sync_error}" if peer.last_sync_error else ""
        table.add_row(
            str(peer.id),
            peer.name,
            peer.base_url,
            peer.token_hint,
            peer.direction.value,
            peer.max_tlp.label,
            "yes" if peer.enabled else "no",
            last,
        )
    state.console.print(table)


@peer_app.command("remove")
def remove(ctx: typer.Context, peer: Annotated[str, typer.Argument(help="Id or name.")]) -> None:
    """Remove an agreement; events already received stay, with their origin."""
    state = cli_state(ctx)
    with state.session() as session:
        found = service.find_peer(session, peer)
        service.delete_peer(session, operator_actor(), found)
        say_done(state.console, f"peer {found.name} removed")


@peer_app.command("sync")
def sync(
    ctx: typer.Context,
    peer: Annotated[str, typer.Argument(help="Id or name.")],
    as_json: JsonOption = False,
) -> None:
    """Pull and/or push now, as the agreement's direction says."""
    state = cli_state(ctx)
    with state.session() as session:
        result = sync_peer(session, operator_actor(), service.find_peer(session, peer))
    if as_json:
        print_json(state.console, result)
    else:
        for direction, counts in (("pulled", result.pulled), ("pushed", result.pushed)):
            if counts is not None:
                state.console.print(
                    f"{direction}: {counts.offered} offered, {counts.imported} new, "
                    f"{counts.updated} updated, {counts.unchanged} unchanged, "
                    f"{counts.refused} refused, {counts.looped} looped back"
                )
    if result.outcome is SyncOutcome.FAILED:
        typer.echo(f"error: sync with {result.peer} failed: {result.error}", err=True)
        raise typer.Exit(1)


@peer_app.command("hub-id")
def hub_id(ctx: typer.Context) -> None:
    """This hub's id: give it to the other hub's admin (`--hub-id`)."""
    state = cli_state(ctx)
    with state.session() as session:
        state.console.print(local_hub_uuid(session))
