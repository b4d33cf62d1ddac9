"""Events: create, read through the access predicate, edit, tag, publish with history.

Every read goes through `core.access.visible_to`; an event the viewer may not see raises
`NotFound`, exactly as one that does not exist, so its existence is not revealed.
Indicators live in `indicator_service`, search and facets in `search`.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from entente.core import audit
from entente.core.access import AccessRecipient, Marking, Viewer, check_marking, visible_to
from entente.core.clock import utcnow
from entente.core.errors import BadValue, NotFound
from entente.core.pagination import Order, Page, PageRequest, paginate
from entente.members.accounts import Principal
from entente.members.models import MemberState, Organisation
from entente.sharing.filters import EventFilter
from entente.sharing.indicator_service import indicator_publics
from entente.sharing.models import Event, EventTag, EventVersion, Indicator, SharingGroupMember
from entente.sharing.permissions import require_owner, require_writer
from entente.sharing.queries import INDICATOR_ACCESS, visible_events
from entente.sharing.schemas import EventCreate, EventPublic, EventUpdate, EventVersionPublic
from entente.sharing.search import filtered_events
from entente.sharing.tags import canonical_tag, event_tags, owner_tags
from entente.vocabulary.markings import TLP, Distribution

# ---- events ----------------------------------------------------------------------------


def list_events(
    session: Session, viewer: Viewer, filters: EventFilter, page: PageRequest
) -> Page[EventPublic]:
    """The events `viewer` may see, newest first, filtered."""
    result = paginate(session, filtered_events(viewer, filters), [Event.id], page, Order.DESC)
    return Page(event_publics(session, viewer, result.items), result.next_cursor, result.count)


def event_publics(session: Session, viewer: Viewer, events: list[Event]) -> list[EventPublic]:
    """API shapes of events the viewer may see, with its indicator counts and tags."""
    ids = [event.id for event in events]
    counts = _indicator_counts(session, viewer, ids)
    tags = event_tags(session, viewer, ids)
    states = _member_states(session, {event.owner_organisation_id for event in events})
    return [
        event_public(e, counts.get(e.id, 0), tags.get(e.id, []), states[e.owner_organisation_id])
        for e in events
    ]


def _member_states(session: Session, organisation_ids: set[int]) -> dict[int, str]:
    rows = session.execute(
        select(Organisation.id, MemberState.alpha2)
        .join(MemberState, MemberState.id == Organisation.member_state_id)
        .where(Organisation.id.in_(sorted(organisation_ids)))
    )
    return {organisation_id: alpha2 for organisation_id, alpha2 in rows}


def _indicator_counts(session: Session, viewer: Viewer, event_ids: list[int]) -> dict[int, int]:
    """Indicators per event *that the viewer may see* (a RED indicator is not even counted)."""
    if not event_ids:
        return {}
    rows = session.execute(
        select(Indicator.event_id, func.count(Indicator.id))
        .join(Event)
        .where(Indicator.event_id.in_(event_ids), visible_to(viewer, INDICATOR_ACCESS))
        .group_by(Indicator.event_id)
    )
    return {event_id: count for event_id, count in rows}


def get_event(session: Session, viewer: Viewer, event_id: int) -> Event:
    """One event the viewer may see; `NotFound` for one that is absent *or* hidden."""
    # Indicators are not loaded here: a reader of a large event needs only the counts, and
    # the owner's write paths load them lazily when they touch them.
    event = session.scalar(visible_events(viewer).where(Event.id == event_id))
    if event is None:
        raise NotFound(f"no event with id {event_id}", field="event_id", value=event_id)
    return event


def event_public(
    event: Event, indicator_count: int, tags: list[str], member_state: str
) -> EventPublic:
    owner = event.owner_organisation
    return EventPublic(
        id=event.id,
        uuid=event.uuid,
        title=event.title,
        description=event.description,
        event_date=event.event_date,
        threat_level=event.threat_level,
        analysis=event.analysis,
        tlp=event.tlp,
        distribution=event.distribution,
        sharing_group_id=event.sharing_group_id,
        owner_organisation_id=event.owner_organisation_id,
        owner_organisation_name=owner.name,
        owner_member_state=member_state,
        published=event.published,
        version=event.version,
        indicator_count=indicator_count,
        tags=tags,
        created_at=event.created_at,
        updated_at=event.updated_at,
        published_at=event.published_at,
    )


def event_public_for(session: Session, viewer: Viewer, event: Event) -> EventPublic:
    return event_publics(session, viewer, [event])[0]


def create_event(session: Session, principal: Principal, data: EventCreate) -> Event:
    """A new, unpublished event owned by the caller's organisation."""
    require_writer(principal)
    owner_id = principal.user.organisation_id
    tags = _canonical_tags(data.tags)
    recipients = frozenset(data.recipient_organisation_ids)
    marking = Marking(owner_id, data.tlp, data.distribution, data.sharing_group_id, recipients)
    _check_event_marking(session, marking)
    now = utcnow()
    event = Event(
        uuid=str(uuid.uuid4()),
        title=data.title,
        description=data.description,
        event_date=data.event_date,
        threat_level=data.threat_level,
        analysis=data.analysis,
        tlp=data.tlp,
        distribution=data.distribution,
        sharing_group_id=data.sharing_group_id,
        owner_organisation_id=owner_id,
        created_by_user_id=principal.user.id,
        created_at=now,
        updated_at=now,
    )
    session.add(event)
    session.flush()
    session.add_all(
        AccessRecipient(object_type=Event.__access_type__, object_id=event.id, organisation_id=o)
        for o in sorted(recipients)
    )
    session.add_all(EventTag(event_id=event.id, organisation_id=owner_id, name=t) for t in tags)
    audit.record(
        session,
        principal.actor(),
        "event.create",
        ("event", event.id),
        title=event.title,
        tlp=event.tlp.value,
        distribution=event.distribution.value,
    )
    session.commit()
    return event


def _canonical_tags(texts: list[str]) -> list[str]:
    tags: set[str] = set()
    for index, text in enumerate(texts):
        try:
            tags.add(canonical_tag(text))
        except BadValue as exc:
            raise BadValue(exc.message, field=f"tags[{index}]", value=text) from exc
    return sorted(tags)


def _check_event_marking(session: Session, marking: Marking) -> None:
    check_marking(marking)
    if marking.distribution is not Distribution.SHARING_GROUP and marking.sharing_group_id:
        raise BadValue(
            "a sharing group is only given with distribution 'sharing_group'",
            field="sharing_group_id",
            value=marking.sharing_group_id,
        )
    if marking.distribution is Distribution.SHARING_GROUP:
        member = session.scalar(
            select(SharingGroupMember.organisation_id).where(
                SharingGroupMember.sharing_group_id == marking.sharing_group_id,
                SharingGroupMember.organisation_id == marking.owner_organisation_id,
            )
        )
        if member is None:
            raise BadValue(
                "your organisation is not a member of that sharing group",
                field="sharing_group_id",
                value=marking.sharing_group_id,
            )
    if marking.recipient_organisation_ids:
        known = set(
            session.scalars(
                select(Organisation.id).where(
                    Organisation.id.in_(sorted(marking.recipient_organisation_ids))
                )
            )
        )
        unknown = sorted(marking.recipient_organisation_ids - known)
        if unknown:
            raise BadValue(
                f"no organisation with id {unknown[0]}",
                field="recipient_organisation_ids",
                value=unknown[0],
            )


def event_recipients(session: Session, event: Event) -> frozenset[int]:
    """Organisations the event was shared with by name."""
    return frozenset(
        session.scalars(
            select(AccessRecipient.organisation_id).where(
                AccessRecipient.object_type == Event.__access_type__,
                AccessRecipient.object_id == event.id,
            )
        )
    )


def update_event(session: Session, principal: Principal, event: Event, data: EventUpdate) -> Event:
    """Edit an event; an edit after publishing waits for the next publication."""
    require_owner(principal, event)
    changes = data.model_dump(exclude_unset=True)
    # Leaving group distribution drops the group, unless the client names one (then refused).
    if changes.get("distribution", event.distribution) is not Distribution.SHARING_GROUP:
        changes.setdefault("sharing_group_id", None)
    recipients = event_recipients(session, event)
    marking = Marking(
        event.owner_organisation_id,
        changes.get("tlp", event.tlp),
        changes.get("distribution", event.distribution),
        changes.get("sharing_group_id", event.sharing_group_id),
        recipients,
    )
    _check_event_marking(session, marking)
    for key, value in changes.items():
        setattr(event, key, value)
    # A tightened event TLP tightens its indicators too, in one statement however many.
    looser = [tlp for tlp in TLP if not tlp.is_stricter_or_equal(event.tlp)]
    if looser:
        session.execute(
            update(Indicator)
            .where(Indicator.event_id == event.id, Indicator.tlp.in_(looser))
            .values(tlp=event.tlp)
            .execution_options(synchronize_session="fetch")
        )
    event.published = False
    event.updated_at = utcnow()
    audit.record(
        session,
        principal.actor(),
        "event.update",
        ("event", event.id),
        **{key: str(value) for key, value in changes.items()},
    )
    session.commit()
    return event


def publish_event(session: Session, principal: Principal, event: Event) -> Event:
    """Freeze the current state as the next version and make it visible as published."""
    require_owner(principal, event)
    if event.published:
        return event
    event.version += 1
    event.published = True
    event.published_at = utcnow()
    tags = owner_tags(session, event)
    state = event.owner_organisation.member_state.alpha2
    snapshot = event_public(event, len(event.indicators), tags, state).model_dump(mode="json")
    snapshot["indicators"] = [
        indicator.model_dump(mode="json") for indicator in indicator_publics(event.indicators)
    ]
    session.add(
        EventVersion(
            event_id=event.id,
            version=event.version,
            published_at=event.published_at,
            published_by=principal.user.username,
            snapshot=snapshot,
        )
    )
    audit.record(
        session, principal.actor(), "event.publish", ("event", event.id), version=event.version
    )
    session.commit()
    return event


def event_history(session: Session, event: Event) -> list[EventVersionPublic]:
    """Published versions, newest first. The caller has already loaded `event` for its viewer."""
    versions = session.scalars(
        select(EventVersion)
        .where(EventVersion.event_id == event.id)
        .order_by(EventVersion.version.desc())
    )
    return [
        EventVersionPublic(
            version=v.version,
            published_at=v.published_at,
            published_by=v.published_by,
            title=str(v.snapshot.get("title", "")),
            indicator_count=len(v.snapshot.get("indicators", [])),
        )
        for v in versions
    ]
