"""Peers: create, read, change and remove the agreements with other hubs (admins only,
checked by the caller). Every write is audited; the token is never written to the log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from entente.core import audit
from entente.core.audit import Actor
from entente.core.errors import Conflict, NotFound, translate_db_errors
from entente.interop.federation.models import Peer
from entente.interop.federation.schemas import PeerCreate, PeerList, PeerPublic, PeerUpdate

TOKEN_HINT_CHARS = 4


def peer_public(peer: Peer) -> PeerPublic:
    """The peer as shown: every field but the token, of which only the last characters."""
    values = {name: getattr(peer, name) for name in PeerPublic.model_fields if name != "token_hint"}
    values["token_hint"] = "…" + peer.api_token[-TOKEN_HINT_CHARS:]
    return PeerPublic.model_validate(values)


def list_peers(session: Session) -> PeerList:
    peers = list(session.scalars(select(Peer).order_by(Peer.name)))
    return PeerList(data=[peer_public(peer) for peer in peers], count=len(peers))


def get_peer(session: Session, peer_id: int) -> Peer:
    peer = session.get(Peer, peer_id)
    if peer is None:
        raise NotFound(f"no peer with id {peer_id}", field="peer_id", value=peer_id)
    return peer


def find_peer(session: Session, reference: str) -> Peer:
    """A peer by id or name (case-insensitive): what an operator types."""
    if reference.isdigit():
        return get_peer(session, int(reference))
    peer = session.scalar(select(Peer).where(func.lower(Peer.name) == reference.lower()))
    if peer is None:
        raise NotFound(f"no peer named '{reference}'", field="peer", value=reference)
    return peer


def create_peer(session: Session, actor: Actor, data: PeerCreate) -> Peer:
    """Record an agreement with another hub; names and hub ids are unique."""
    values = _stored(data.model_dump())
    _refuse_taken(session, values["name"], values.get("remote_hub_uuid"), None)
    peer = Peer(**values)
    with translate_db_errors():
        session.add(peer)
        session.flush()
        audit.record(session, actor, "peer.create", ("peer", peer.id), **_logged(values))
        session.commit()
    return peer


def update_peer(session: Session, actor: Actor, peer: Peer, data: PeerUpdate) -> Peer:
    values = _stored(data.model_dump(exclude_unset=True))
    _refuse_taken(session, values.get("name"), values.get("remote_hub_uuid"), peer.id)
    for name, value in values.items():
        setattr(peer, name, value)
    with translate_db_errors():
        audit.record(session, actor, "peer.update", ("peer", peer.id), **_logged(values))
        session.commit()
    return peer


def delete_peer(session: Session, actor: Actor, peer: Peer) -> None:
    """Remove the agreement; events already received stay, with their origin kept."""
    audit.record(session, actor, "peer.delete", ("peer", peer.id), name=peer.name)
    session.delete(peer)
    session.commit()


def _stored(values: dict[str, Any]) -> dict[str, Any]:
    if values.get("base_url") is not None:
        values["base_url"] = str(values["base_url"]).rstrip("/")
    if values.get("remote_hub_uuid") is not None:
        values["remote_hub_uuid"] = str(values["remote_hub_uuid"])
    return values


def _logged(values: dict[str, Any]) -> dict[str, Any]:
    """What the audit log records of a change: everything but the token, which it only
    says was set."""
    shown = {name: value for name, value in values.items() if name != "api_token"}
    if "api_token" in values:
        shown["api_token"] = "(set)"
    return {name: getattr(value, "value", value) for name, value in shown.items()}


def _refuse_taken(
    session: Session, name: str | None, hub_uuid: str | None, own_id: int | None
) -> None:
    checks = [("name", Peer.name, name), ("remote_hub_uuid", Peer.remote_hub_uuid, hub_uuid)]
    for field, column, value in checks:
        if value is None:
            continue
        holder = session.scalar(select(Peer.id).where(column == value))
        if holder is not None and holder != own_id:
            raise Conflict(f"another peer already has this {field}", field=field, value=value)
