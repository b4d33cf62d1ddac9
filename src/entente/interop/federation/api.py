"""REST routes of federation: peers (admins only) under /api/v1/peers, and the routes another
hub calls under /api/v1/federation (its identity, events to pull, events it pushes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.core import audit
from entente.core.clock import utcnow
from entente.core.errors import PermissionDenied
from entente.interop.federation import service
from entente.interop.federation.agreement import UNRESTRICTED, Agreement
from entente.interop.federation.identity import local_hub_uuid
from entente.interop.federation.incoming import receive_events
from entente.interop.federation.models import Peer
from entente.interop.federation.outgoing import changed_events, wire_events
from entente.interop.federation.schemas import (
    HubInfo,
    PeerCreate,
    PeerList,
    PeerPublic,
    PeerUpdate,
    SyncResult,
    TransferCounts,
)
from entente.interop.federation.sync import sync_peer
from entente.members.schemas import RowId
from entente.web.deps import AdminDep, PrincipalDep, SessionDep
from entente.web.errors import ERROR_RESPONSES

peers_router = APIRouter(prefix="/peers", responses=ERROR_RESPONSES, tags=["federation"])
hub_router = APIRouter(prefix="/federation", responses=ERROR_RESPONSES, tags=["federation"])


def load_peer(peer_id: RowId, session: SessionDep, _admin: AdminDep) -> Peer:
    return service.get_peer(session, peer_id)


PeerDep = Annotated[Peer, Depends(load_peer)]


@peers_router.post("", response_model=PeerPublic, status_code=status.HTTP_201_CREATED)
def create_peer(data: PeerCreate, session: SessionDep, admin: AdminDep) -> PeerPublic:
    """Record an agreement with another hub; the token is never shown back."""
    return service.peer_public(service.create_peer(session, admin.actor(), data))


@peers_router.get("", response_model=PeerList)
def list_peers(session: SessionDep, _admin: AdminDep) -> PeerList:
    return service.list_peers(session)


@peers_router.get("/{peer_id}", response_model=PeerPublic)
def get_peer(peer: PeerDep) -> PeerPublic:
    return service.peer_public(peer)


@peers_router.patch("/{peer_id}", response_model=PeerPublic)
def update_peer(
    peer: PeerDep, data: PeerUpdate, session: SessionDep, admin: AdminDep
) -> PeerPublic:
    return service.peer_public(service.update_peer(session, admin.actor(), peer, data))


@peers_router.delete("/{peer_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_peer(peer: PeerDep, session: SessionDep, admin: AdminDep) -> None:
    service.delete_peer(session, admin.actor(), peer)


@peers_router.post("/{peer_id}/sync", response_model=SyncResult)
def sync(peer: PeerDep, session: SessionDep, admin: AdminDep) -> SyncResult:
    """Pull and/or push now; a failed sync is `outcome: failed` with its reason, stored too."""
    return sync_peer(session, admin.actor(), peer)


@hub_router.get("/hub", response_model=HubInfo)
def hub(session: SessionDep, _principal: PrincipalDep) -> HubInfo:
    """This hub's stable id: what a peer's agreement names it by."""
    return HubInfo(hub_uuid=local_hub_uuid(session))


_JSON: dict[int | str, dict[str, Any]] = {200: {"content": {"application/json": {}}}}


@hub_router.get("/events", response_class=StreamingResponse, responses=_JSON)
def events(
    session: SessionDep,
    principal: PrincipalDep,
    hub: Annotated[UUID, Query(description="The pulling hub's id")],
    since: Annotated[AwareDatetime | None, Query(description="`until` of the last pull")] = None,
) -> StreamingResponse:
    """Published events you may see changed since `since`, with their federation envelope;
    `until` is the cursor for the next pull. An agreement recorded here with the pulling hub
    narrows them further; none travel back to a hub already in their chain."""
    until = utcnow()
    local_hub = local_hub_uuid(session)
    agreement = _agreement_with(session, str(hub))
    query = changed_events(principal.viewer, since)
    items = wire_events(session, principal.viewer, query, agreement, (local_hub, str(hub)))
    return StreamingResponse(_pull_text(local_hub, until, items), media_type="application/json")


def _agreement_with(session: Session, hub: str) -> Agreement:
    peer = session.scalar(select(Peer).where(Peer.remote_hub_uuid == hub))
    if peer is None:
        return UNRESTRICTED
    if not peer.enabled:
        raise PermissionDenied("the agreement with your hub is disabled here", field="hub")
    return Agreement.of(peer)


def _pull_text(hub: str, until: datetime, items: Iterator[dict[str, Any]]) -> Iterator[str]:
    yield json.dumps({"hub_uuid": hub, "until": until.isoformat()})[:-1] + ', "response": ['
    for position, item in enumerate(items):
        yield ("," if position else "") + json.dumps(item, ensure_ascii=False)
    yield "]}"


class Delivery(BaseModel):
    hub: UUID = Field(description="The pushing hub's id; an agreement with it must exist here")
    events: list[dict[str, Any]] = Field(max_length=1_000)


@hub_router.post("/events", response_model=TransferCounts)
def receive(delivery: Delivery, session: SessionDep, admin: AdminDep) -> TransferCounts:
    """Events pushed by a peer hub, each accepted or refused under the agreement with it."""
    hub = str(delivery.hub)
    peer = session.scalar(select(Peer).where(Peer.remote_hub_uuid == hub, Peer.enabled))
    if peer is None:
        raise PermissionDenied(f"no enabled agreement with hub {hub} here", field="hub", value=hub)
    actor = admin.actor()
    counts = receive_events(session, peer, local_hub_uuid(session), delivery.events, actor)
    detail = counts.model_dump(exclude={"refusals"})
    audit.record(session, actor, "federation.receive", ("peer", peer.id), peer=peer.name, **detail)
    session.commit()
    return counts


router = APIRouter()
router.include_router(peers_router)
router.include_router(hub_router)
