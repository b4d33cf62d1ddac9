"""Events and their indicators: create, read through the access predicate, publish, search.

Every read goes through `core.access.visible_to`; an event or indicator the viewer may not
see raises `NotFound`, exactly as one that does not exist, so its existence is not revealed.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy import Select, func, insert, select
from sqlalchemy.orm import Session

from entente.core import audit
from entente.core.access import (
    AccessColumns,
    AccessRecipient,
    Marking,
    Viewer,
    check_marking,
    visible_to,
)
from entente.core.clock import utcnow
from entente.core.errors import AppError, BadValue, NotFound, PermissionDenied
from entente.core.pagination import Order, Page, PageRequest, paginate
from entente.members.accounts import Principal
from entente.members.choices import Role
from entente.members.models import MemberState, Organisation
from entente.sharing.filters import EventFilter, IndicatorFilter
from entente.sharing.indicators import IndicatorType, canonicalise, refang
from entente.sharing.models import Event, EventVersion, Indicator, SharingGroupMember
from entente.sharing.schemas import (
    EventCreate,
    EventPublic,
    EventUpdate,
    EventVersionPublic,
    IndicatorBatch,
    IndicatorBatchResult,
    IndicatorCreate,
    IndicatorPublic,
    IndicatorRejection,
)
from entente.vocabulary.markings import Distribution

# Roles that may write shared data for their own organisation; readers only read.
WRITER_ROLES = frozenset({Role.ADMIN, Role.ORG_ADMIN, Role.ANALYST})

# An indicator reaches its event's audience, narrowed by its own (equal or stricter) TLP.
INDICATOR_ACCESS = AccessColumns(
    access_type=Event.__access_type__,
    object_id=Event.id,
    owner_organisation_id=Event.owner_organisation_id,
    tlp=Indicator.tlp,
    distribution=Event.distribution,
    sharing_group_id=Event.sharing_group_id,
)


def value_digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# ---- events ----------------------------------------------------------------------------


def visible_events(viewer: Viewer) -> Select[Event]:
    return select(Event).where(visible_to(viewer, Event))


def list_events(
    session: Session, viewer: Viewer, filters: EventFilter, page: PageRequest
) -> Page[EventPublic]:
    """The events `viewer` may see, newest first, filtered."""
    query = _filtered(visible_events(viewer), filters)
    result = paginate(session, query, [Event.id], page, Order.DESC)
    counts = _indicator_counts(session, viewer, [event.id for event in result.items])
    items = [event_public(event, counts.get(event.id, 0)) for event in result.items]
    return Page(items, result.next_cursor, result.count)


def _filtered(query: Select[Event], filters: EventFilter) -> Select[Event]:
    if filters.q:
        query = query.where(func.lower(Event.title).contains(filters.q.lower(), autoescape=True))
    if filters.organisation_id is not None:
        query = query.where(Event.owner_organisation_id == filters.organisation_id)
    if filters.member_state:
        owners = (
            select(Organisation.id)
            .join(MemberState)
            .where(MemberState.alpha2 == filters.member_state.upper())
        )
        query = query.where(Event.owner_organisation_id.in_(owners))
    if filters.tlp is not None:
        query = query.where(Event.tlp == filters.tlp)
    if filters.threat_level is not None:
        query = query.where(Event.threat_level == filters.threat_level)
    if filters.published is not None:
        query = query.where(Event.published.is_(filters.published))
    if filters.since is not None:
        query = query.where(Event.event_date >= filters.since)
    if filters.until is not None:
        query = query.where(Event.event_date <= filters.until)
    return query


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


def event_public(event: Event, indicator_count: int) -> EventPublic:
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
        published=event.published,
        version=event.version,
        indicator_count=indicator_count,
        created_at=event.created_at,
        updated_at=event.updated_at,
        published_at=event.published_at,
    )


def event_public_for(session: Session, viewer: Viewer, event: Event) -> EventPublic:
    return event_public(event, _indicator_counts(session, viewer, [event.id]).get(event.id, 0))


def create_event(session: Session, principal: Principal, data: EventCreate) -> Event:
    """A new, unpublished event owned by the caller's organisation."""
    _require_writer(principal)
    owner_id = principal.user.organisation_id
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


def _require_writer(principal: Principal) -> None:
    if principal.user.role not in WRITER_ROLES:
        raise PermissionDenied("readers may not write shared data")


def require_owner(principal: Principal, event: Event) -> None:
    """Only writers of the owner organisation change an event (platform admins included)."""
    _require_writer(principal)
    if principal.user.organisation_id != event.owner_organisation_id:
        raise PermissionDenied("only the owner organisation may change this event")


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
    # A tightened event TLP tightens its indicators too: an indicator is never looser.
    for indicator in event.indicators:
        if not indicator.tlp.is_stricter_or_equal(event.tlp):
            indicator.tlp = event.tlp
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
    snapshot = event_public(event, len(event.indicators)).model_dump(mode="json")
    snapshot["indicators"] = [
        indicator_public(indicator).model_dump(mode="json") for indicator in event.indicators
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


# ---- indicators ------------------------------------------------------------------------


def indicator_public(indicator: Indicator) -> IndicatorPublic:
    return IndicatorPublic.model_validate(indicator, from_attributes=True)


def add_indicators(
    session: Session, principal: Principal, event: Event, batch: IndicatorBatch
) -> IndicatorBatchResult:
    """Add many indicators at once: valid ones are kept, each bad one is reported with why."""
    require_owner(principal, event)
    existing = {
        (indicator_type, digest)
        for indicator_type, digest in session.execute(
            select(Indicator.type, Indicator.value_digest).where(Indicator.event_id == event.id)
        )
    }
    rows: list[dict[str, Any]] = []
    rejected: list[IndicatorRejection] = []
    duplicates = 0
    now = utcnow()
    for index, item in enumerate(batch.indicators):
        try:
            row = _indicator_row(event, item, now)
        except AppError as exc:
            rejected.append(_rejection(index, exc, item))
            continue
        key = (row["type"], row["value_digest"])
        if key in existing:
            duplicates += 1
            continue
        existing.add(key)
        rows.append(row)
    if not rows and rejected:
        first = rejected[0]
        raise BadValue(first.message, field=first.field, value=first.value)
    if rows:
        session.execute(insert(Indicator), rows)
        event.published = False
        event.updated_at = now
    audit.record(
        session,
        principal.actor(),
        "indicator.add",
        ("event", event.id),
        added=len(rows),
        duplicates=duplicates,
        rejected=len(rejected),
    )
    session.commit()
    uuids = [row["uuid"] for row in rows]
    added: list[Indicator] = (
        list(
            session.scalars(
                select(Indicator).where(Indicator.uuid.in_(uuids)).order_by(Indicator.id)
            )
        )
        if uuids
        else []
    )
    return IndicatorBatchResult(
        added=[indicator_public(i) for i in added], duplicates=duplicates, rejected=rejected
    )


def _indicator_row(event: Event, item: IndicatorCreate, now: Any) -> dict[str, Any]:
    value = canonicalise(item.type, item.value)
    tlp = item.tlp or event.tlp
    if not tlp.is_stricter_or_equal(event.tlp):
        raise BadValue(
            f"{tlp.label} is looser than the event's {event.tlp.label}",
            field="tlp",
            value=tlp.value,
        )
    if item.first_seen and item.last_seen and item.last_seen < item.first_seen:
        raise BadValue("last_seen is before first_seen", field="last_seen", value=None)
    return {
        "uuid": str(uuid.uuid4()),
        "event_id": event.id,
        "type": item.type,
        "value": value,
        "value_digest": value_digest(value),
        "category": item.category or item.type.default_category,
        "to_ids": item.to_ids,
        "comment": item.comment,
        "tlp": tlp,
        "first_seen": item.first_seen,
        "last_seen": item.last_seen,
        "created_at": now,
    }


def _rejection(index: int, exc: AppError, item: IndicatorCreate) -> IndicatorRejection:
    field = f"indicators[{index}].{exc.field}" if exc.field else f"indicators[{index}]"
    value = exc.value if isinstance(exc.value, str) else item.value
    return IndicatorRejection(index=index, field=field, value=value, message=exc.message)


def list_indicators(
    session: Session, viewer: Viewer, filters: IndicatorFilter, page: PageRequest
) -> Page[IndicatorPublic]:
    """Indicators the viewer may see; an exact `value` is looked up through its digest index."""
    query = select(Indicator).join(Event).where(visible_to(viewer, INDICATOR_ACCESS))
    if filters.value is not None:
        digests = _candidate_digests(filters.value, filters.type)
        query = query.where(Indicator.value_digest.in_(digests))
    if filters.type is not None:
        query = query.where(Indicator.type == filters.type)
    if filters.event_id is not None:
        query = query.where(Indicator.event_id == filters.event_id)
    if filters.to_ids is not None:
        query = query.where(Indicator.to_ids.is_(filters.to_ids))
    result = paginate(session, query, [Indicator.id], page)
    return Page([indicator_public(i) for i in result.items], result.next_cursor, result.count)


def _candidate_digests(raw: str, indicator_type: IndicatorType | None) -> list[str]:
    """Digests of every canonical form `raw` could have, so a search needs no type."""
    types = [indicator_type] if indicator_type is not None else list(IndicatorType)
    candidates = {raw.strip(), refang(raw.strip())}
    for candidate_type in types:
        try:
            candidates.add(canonicalise(candidate_type, raw))
        except AppError:
            continue
    return sorted(value_digest(candidate) for candidate in candidates if candidate)


def get_indicator(session: Session, viewer: Viewer, indicator_id: int) -> Indicator:
    indicator = session.scalar(
        select(Indicator)
        .join(Event)
        .where(Indicator.id == indicator_id, visible_to(viewer, INDICATOR_ACCESS))
    )
    if indicator is None:
        raise NotFound(
            f"no indicator with id {indicator_id}", field="indicator_id", value=indicator_id
        )
    return indicator
