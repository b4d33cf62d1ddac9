"""What leaves this hub for another: published events changed since a cursor, read through
the access predicate for the receiving side's viewer, as MISP JSON with their envelope.

Pushing reads as the peer (`agreement.peer_viewer`); serving a pull reads as the puller's
token user. Either way the agreement then narrows: events it refuses and events whose chain
holds the receiving hub stay home; indicators above the agreed TLP are left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import Session

from entente.core.access import Viewer
from entente.interop.federation.agreement import (
    Agreement,
    Candidate,
    loops_back,
    refusal,
    within_tlp,
)
from entente.interop.federation.models import FederatedEvent
from entente.interop.misp.exports import published_events, visible_parts
from entente.interop.misp.mapping import organisation_uuid
from entente.interop.misp.to_misp import EventParts, event_object
from entente.sharing.models import Event


def changed_events(viewer: Viewer, since: datetime | None) -> Select[Event]:
    """Published events the viewer may see, changed here at or after `since`: an event made
    here by its `updated_at`, one received from a peer by when it was received (its own time
    is the origin's and may be older than a cursor already past)."""
    query = published_events(viewer).outerjoin(FederatedEvent, FederatedEvent.event_id == Event.id)
    if since is None:
        return query
    return query.where(
        or_(
            and_(FederatedEvent.event_id.is_(None), Event.updated_at >= since),
            FederatedEvent.received_at >= since,
        )
    )


def wire_events(
    session: Session,
    viewer: Viewer,
    query: Select[Event],
    agreement: Agreement,
    route: tuple[str, str | None],
) -> Iterator[dict[str, Any]]:
    """`{"Event": ..., "Federation": ...}` per event the agreement lets travel from
    `route[0]` (this hub) to `route[1]` (the receiver, when known)."""
    local_hub, receiver = route
    for parts in visible_parts(session, viewer, query):
        envelope = _envelope(session, parts, local_hub)
        if loops_back(envelope["chain"], receiver):
            continue
        candidate = Candidate(
            tlp=parts.event.tlp,
            distribution=parts.event.distribution,
            organisation_name=envelope["organisation"]["name"],
            tags=parts.tags,
            sharing_group_name=parts.sharing_group_name,
        )
        if refusal(agreement, candidate) is not None:
            continue
        parts.indicators = [i for i in parts.indicators if within_tlp(agreement, i.tlp)]
        yield {"Event": event_object(parts), "Federation": envelope}


def _envelope(session: Session, parts: EventParts, local_hub: str) -> dict[str, Any]:
    event = parts.event
    received = session.get(FederatedEvent, event.id)
    owner = event.owner_organisation
    origin = {
        "uuid": organisation_uuid(owner.id),
        "name": owner.name,
        "type": owner.type.value,
        "member_state": owner.member_state.alpha2,
    }
    if received is None:
        return {"origin_hub": local_hub, "chain": [local_hub], "organisation": origin}
    # The origin's organisation, as it was named there; its type and member state are the
    # remote organisation record's here, copied from the origin when first seen.
    origin["uuid"] = received.origin_organisation_uuid
    origin["name"] = received.origin_organisation_name
    return {
        "origin_hub": received.origin_hub_uuid,
        "chain": [*received.hub_chain, local_hub],
        "organisation": origin,
    }
