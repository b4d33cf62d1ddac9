"""Events received from a peer (pulled or pushed to us), each accepted or refused on its own.

Idempotent, keyed by the event's UUID and MISP `timestamp`: the same or an older version
writes nothing, a newer one updates in place. An event is owned here by a *remote
organisation* record standing for its origin owner (`models.RemoteOrganisation`); a UUID
held by any other organisation here is refused, never merged. An event whose chain names
this hub is one of ours coming back, or one already seen on the way: it is dropped.
Received events stay published, so they can travel on to the next hub.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from entente.core import audit
from entente.core.access import Marking, check_marking
from entente.core.audit import Actor
from entente.core.clock import utcnow
from entente.core.errors import AppError, BadValue
from entente.interop.federation.agreement import (
    Agreement,
    Candidate,
    loops_back,
    refusal,
    within_tlp,
)
from entente.interop.federation.models import FederatedEvent, Peer, RemoteOrganisation
from entente.interop.federation.schemas import Envelope, OriginOrganisation, TransferCounts
from entente.interop.misp.from_misp import IncomingEvent, incoming_event
from entente.interop.misp.import_rows import store_indicators
from entente.members.models import Organisation
from entente.members.schemas import OrganisationCreate
from entente.members.service import create_organisation
from entente.sharing.models import Event, EventTag, SharingGroup
from entente.vocabulary.markings import Distribution


def receive_events(
    session: Session, peer: Peer, local_hub: str, items: list[Any], actor: Actor
) -> TransferCounts:
    """Accept or refuse each `{"Event": ..., "Federation": ...}` under the peer's agreement."""
    counts = TransferCounts(offered=len(items))
    for position, item in enumerate(items):
        try:
            envelope = _envelope(item)
            if loops_back([str(hub) for hub in envelope.chain], local_hub):
                counts.looped += 1
                continue
            outcome = _receive(session, peer, envelope, item.get("Event"), actor)
        except AppError as exc:
            session.rollback()
            counts.refuse(f"[{position}] {exc.field or 'Event'}: {exc.message}")
            continue
        setattr(counts, outcome, getattr(counts, outcome) + 1)
        if outcome != "unchanged":
            counts.note(str(item["Event"]["uuid"]))
    return counts


def _envelope(item: Any) -> Envelope:
    if not isinstance(item, dict):
        raise BadValue("each item is {'Event': ..., 'Federation': ...}", field="Event")
    try:
        return Envelope.model_validate(item.get("Federation"))
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in ("Federation", *problem["loc"]))
        raise BadValue(problem["msg"], field=where) from exc


def _receive(
    session: Session,
    peer: Peer,
    envelope: Envelope,
    content: Any,
    actor: Actor,
) -> str:
    """'imported', 'updated' or 'unchanged'; `AppError` when the event is refused."""
    incoming = incoming_event(content)
    _check_agreement(Agreement.of(peer), envelope, incoming)
    owner_id = remote_organisation(session, str(envelope.origin_hub), envelope.organisation, actor)
    existing = session.scalar(select(Event).where(Event.uuid == incoming.uuid))
    if existing is not None and existing.owner_organisation_id != owner_id:
        raise BadValue(
            "an event with this UUID belongs to another organisation here; not merged",
            field="Event.uuid",
            value=incoming.uuid,
        )
    if existing is not None and (
        incoming.timestamp is None or incoming.timestamp <= existing.updated_at
    ):
        return "unchanged"
    group_id = _sharing_group(session, incoming)
    check_marking(Marking(owner_id, incoming.tlp, incoming.distribution, group_id))
    event = existing or Event(
        uuid=incoming.uuid, owner_organisation_id=owner_id, created_at=utcnow(), version=0
    )
    _apply(event, incoming, group_id, peer)
    session.add(event)
    session.flush()
    _replace_tags(session, event, incoming.tags)
    counts = store_indicators(session, event, incoming, owner_id)
    _remember_origin(session, event, envelope, peer)
    audit.record(
        session,
        actor,
        "event.federation_update" if existing else "event.federation_import",
        ("event", event.id),
        uuid=event.uuid,
        peer=peer.name,
        origin_hub=str(envelope.origin_hub),
        added=counts.added,
        removed=counts.removed,
    )
    session.commit()
    return "updated" if existing else "imported"


def _check_agreement(agreement: Agreement, envelope: Envelope, incoming: IncomingEvent) -> None:
    if not incoming.published:
        raise BadValue("only published events travel", field="Event.published")
    why = refusal(
        agreement,
        Candidate(
            tlp=incoming.tlp,
            distribution=incoming.distribution,
            organisation_name=envelope.organisation.name,
            tags=incoming.tags,
            sharing_group_name=incoming.sharing_group_name,
        ),
    )
    if why is not None:
        raise BadValue(why, field="Event", value=incoming.uuid)
    # An attribute above the agreed TLP is dropped, the rest of the event kept.
    incoming.indicators = [
        item
        for item in incoming.indicators
        if item.item.tlp is None or within_tlp(agreement, item.item.tlp)
    ]


def remote_organisation(
    session: Session, origin_hub: str, origin: OriginOrganisation, actor: Actor
) -> int:
    """The local organisation standing for `origin` of `origin_hub`, made on first sight.

    Keyed by (hub, organisation uuid), never by name: a name already taken here gets the
    origin hub's short id appended, so a member of this hub never owns a peer's event.
    """
    found = session.scalar(
        select(RemoteOrganisation.organisation_id).where(
            RemoteOrganisation.origin_hub_uuid == origin_hub,
            RemoteOrganisation.origin_organisation_uuid == str(origin.uuid),
        )
    )
    if found is not None:
        return found
    name = origin.name
    if session.scalar(select(Organisation.id).where(Organisation.name == name)) is not None:
        name = f"{name[:180]} (hub {origin_hub[:8]})"
    data = OrganisationCreate(name=name, type=origin.type, member_state=origin.member_state)
    organisation = create_organisation(session, actor, data)
    session.add(
        RemoteOrganisation(
            organisation_id=organisation.id,
            origin_hub_uuid=origin_hub,
            origin_organisation_uuid=str(origin.uuid),
            origin_organisation_name=origin.name,
        )
    )
    session.commit()
    return organisation.id


def _sharing_group(session: Session, incoming: IncomingEvent) -> int | None:
    """The local group of the same name; none here refuses the event (fail closed)."""
    if incoming.distribution is not Distribution.SHARING_GROUP:
        return None
    group_id = session.scalar(
        select(SharingGroup.id).where(SharingGroup.name == incoming.sharing_group_name)
    )
    if group_id is None:
        raise BadValue(
            "no sharing group of that name on this hub",
            field="Event.SharingGroup.name",
            value=incoming.sharing_group_name,
        )
    return group_id


def _apply(event: Event, incoming: IncomingEvent, group_id: int | None, peer: Peer) -> None:
    event.title = incoming.title
    event.event_date = incoming.event_date
    event.threat_level = incoming.threat_level
    event.analysis = incoming.analysis
    event.tlp = incoming.tlp
    event.distribution = incoming.distribution
    event.sharing_group_id = group_id
    event.published = True
    event.published_at = utcnow()
    event.version += 1
    # The origin's time, so the same version is recognised when it comes again.
    event.updated_at = incoming.timestamp or utcnow()
    if not event.description:
        event.description = f"Received through federation from hub '{peer.name}'."


def _replace_tags(session: Session, event: Event, tags: list[str]) -> None:
    session.execute(
        delete(EventTag).where(
            EventTag.event_id == event.id,
            EventTag.organisation_id == event.owner_organisation_id,
        )
    )
    session.add_all(
        EventTag(event_id=event.id, organisation_id=event.owner_organisation_id, name=name)
        for name in tags
    )


def _remember_origin(session: Session, event: Event, envelope: Envelope, peer: Peer) -> None:
    origin = session.get(FederatedEvent, event.id) or FederatedEvent(event_id=event.id)
    origin.origin_hub_uuid = str(envelope.origin_hub)
    origin.origin_organisation_uuid = str(envelope.organisation.uuid)
    origin.origin_organisation_name = envelope.organisation.name
    origin.hub_chain = [str(hub) for hub in envelope.chain]
    origin.received_from_peer_id = peer.id
    origin.received_at = utcnow()
    session.add(origin)
