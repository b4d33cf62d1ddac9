"""Tags on events: taxonomy machine tags and free tags, shared or local to an organisation.

The owner organisation's tags travel with the event to everyone who may see it. Any other
organisation that can see the event may add its own tags, which only it sees (MISP's "local
tags"): how a member files shared events for itself without telling the owner.

A tag whose namespace is a known taxonomy must be one of its values (`rsit:...`,
`admiralty-scale:...`, `pap:...`); anything else is a free tag. TLP is the event's marking
column, never a tag, so the two cannot disagree.
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import Session

from entente.core import audit
from entente.core.access import Viewer
from entente.core.clock import utcnow
from entente.core.errors import BadValue, NotFound
from entente.members.accounts import Principal
from entente.sharing.models import Event, EventTag
from entente.sharing.permissions import require_writer
from entente.vocabulary.taxonomies import load_taxonomies, parse_machine_tag

MAX_TAG_LENGTH = 255
_FREE_TAG = re.compile(r"[^\x00-\x1f\x7f]{1,255}")


def canonical_tag(text: str) -> str:
    """The stored spelling of a tag, or BadValue naming what is wrong with it."""
    name = text.strip()
    if not _FREE_TAG.fullmatch(name):
        raise BadValue(
            f"a tag is 1 to {MAX_TAG_LENGTH} printable characters", field="tag", value=text
        )
    namespace = name.partition(":")[0].strip().lower()
    if namespace == "tlp":
        raise BadValue("TLP is the event's `tlp` field, not a tag", field="tag", value=text)
    if ":" in name and namespace in load_taxonomies():
        return str(parse_machine_tag(name))
    return name


def tags_seen_by(viewer: Viewer) -> ColumnElement[bool]:
    """Tags the viewer sees on events it may see: the owner's, and its own organisation's."""
    own = EventTag.organisation_id == Event.owner_organisation_id
    if viewer.organisation_id is None:
        return own
    return or_(own, EventTag.organisation_id == viewer.organisation_id)


def event_tags(session: Session, viewer: Viewer, event_ids: list[int]) -> dict[int, list[str]]:
    """Tags per event as the viewer sees them; the caller has checked the events are visible."""
    if not event_ids:
        return {}
    rows = session.execute(
        select(EventTag.event_id, EventTag.name)
        .join(Event, Event.id == EventTag.event_id)
        .where(EventTag.event_id.in_(event_ids), tags_seen_by(viewer))
        .order_by(EventTag.event_id, EventTag.name)
    )
    tags: dict[int, list[str]] = {}
    for event_id, name in rows:
        if name not in tags.setdefault(event_id, []):
            tags[event_id].append(name)
    return tags


def owner_tags(session: Session, event: Event) -> list[str]:
    """The tags the owner put on the event: what decides an indicator's base score."""
    return organisation_tags(session, event, event.owner_organisation_id)


def organisation_tags(session: Session, event: Event, organisation_id: int) -> list[str]:
    """The tags one organisation put on the event: those its writers may remove."""
    return list(
        session.scalars(
            select(EventTag.name)
            .where(EventTag.event_id == event.id, EventTag.organisation_id == organisation_id)
            .order_by(EventTag.name)
        )
    )


def add_tag(session: Session, principal: Principal, event: Event, text: str) -> str:
    """Tag an event the caller can see; shared if the caller's organisation owns it."""
    require_writer(principal)
    name = canonical_tag(text)
    organisation_id = principal.user.organisation_id
    exists = session.get(EventTag, (event.id, organisation_id, name))
    if exists is None:
        session.add(EventTag(event_id=event.id, organisation_id=organisation_id, name=name))
        _mark_changed(event, organisation_id)
        audit.record(
            session,
            principal.actor(),
            "event.tag",
            ("event", event.id),
            tag=name,
            local=organisation_id != event.owner_organisation_id,
        )
    session.commit()
    return name


def remove_tag(session: Session, principal: Principal, event: Event, text: str) -> None:
    """Remove one of the caller's organisation's tags from the event."""
    require_writer(principal)
    name = canonical_tag(text)
    result = session.execute(
        delete(EventTag).where(
            EventTag.event_id == event.id,
            EventTag.organisation_id == principal.user.organisation_id,
            EventTag.name == name,
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"no tag {name!r} of yours on this event", field="tag", value=name)
    _mark_changed(event, principal.user.organisation_id)
    audit.record(session, principal.actor(), "event.untag", ("event", event.id), tag=name)
    session.commit()


def _mark_changed(event: Event, organisation_id: int) -> None:
    """The owner's tags are part of what it shares: changing them awaits the next version."""
    if organisation_id == event.owner_organisation_id:
        event.published = False
        event.updated_at = utcnow()
