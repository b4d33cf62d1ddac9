"""Shared events as MISP JSON for one viewer: single events, filtered sets, feed entries.

Every read goes through the access predicate: events through `visible_to(viewer, Event)`
(`sharing.queries.visible_events`, `sharing.search.filtered_events`), indicators through their
own TLP within their event's audience (`visible_indicators`), sightings only of indicators
so read. An export never holds an event or an attribute the viewer could not open in the UI.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from entente.core.access import Viewer
from entente.core.errors import NotFound
from entente.interop.misp.to_misp import EventParts, event_object
from entente.sharing.filters import EventFilter
from entente.sharing.models import Event, Indicator, SharingGroup, Sighting
from entente.sharing.queries import visible_events, visible_indicators
from entente.sharing.search import filtered_events
from entente.sharing.tags import owner_tags
from entente.vocabulary.markings import Distribution

EVENT_CHUNK = 100
_IDS_PER_QUERY = 2_000


def event_parts(session: Session, viewer: Viewer, event: Event) -> EventParts:
    """What `viewer` may see of an event it may see (the caller loaded it through the
    predicate; `NotFound` otherwise is the caller's job, as in `service.get_event`)."""
    indicators = list(
        session.scalars(
            visible_indicators(viewer).where(Indicator.event_id == event.id).order_by(Indicator.id)
        )
    )
    group_name = None
    if event.distribution is Distribution.SHARING_GROUP and event.sharing_group_id is not None:
        group_name = session.scalar(
            select(SharingGroup.name).where(SharingGroup.id == event.sharing_group_id)
        )
    return EventParts(
        event=event,
        owner_name=event.owner_organisation.name,
        tags=owner_tags(session, event),
        indicators=indicators,
        sightings=_sightings(session, [indicator.id for indicator in indicators]),
        sharing_group_name=group_name,
    )


def _sightings(session: Session, indicator_ids: list[int]) -> dict[int, list[Sighting]]:
    found: dict[int, list[Sighting]] = {}
    for start in range(0, len(indicator_ids), _IDS_PER_QUERY):
        chunk = indicator_ids[start : start + _IDS_PER_QUERY]
        rows = session.scalars(
            select(Sighting).where(Sighting.indicator_id.in_(chunk)).order_by(Sighting.id)
        )
        for sighting in rows:
            found.setdefault(sighting.indicator_id, []).append(sighting)
    return found


def event_misp(session: Session, viewer: Viewer, event: Event) -> dict[str, Any]:
    """`{"Event": {...}}` of one event, as `viewer` may see it."""
    return {"Event": event_object(event_parts(session, viewer, event))}


def event_by_uuid(session: Session, viewer: Viewer, event_uuid: str) -> Event:
    """The published event with this UUID if the viewer may see it (a feed's event);
    `NotFound` alike when absent, hidden or unpublished."""
    event = session.scalar(published_events(viewer).where(Event.uuid == event_uuid))
    if event is None:
        raise NotFound(f"no event with uuid {event_uuid}", field="uuid", value=event_uuid)
    return event


def visible_parts(session: Session, viewer: Viewer, query: Select[Event]) -> Iterator[EventParts]:
    """The parts of each event `query` selects (already filtered by the predicate), by id,
    read in chunks of `EVENT_CHUNK` events so a large export holds few at a time."""
    for event in _events_in_chunks(session, query):
        parts = event_parts(session, viewer, event)
        yield parts
        _let_go(session, parts)


def visible_heads(session: Session, query: Select[Event]) -> Iterator[EventParts]:
    """Each event `query` selects with its owner's tags and no indicators: what a feed's
    manifest says of it, without reading a single indicator."""
    for event in _events_in_chunks(session, query):
        parts = EventParts(event, event.owner_organisation.name, owner_tags(session, event), [])
        yield parts
        _let_go(session, parts)


def _events_in_chunks(session: Session, query: Select[Event]) -> Iterator[Event]:
    last_id = 0
    while True:
        chunk = list(
            session.scalars(query.where(Event.id > last_id).order_by(Event.id).limit(EVENT_CHUNK))
        )
        if not chunk:
            return
        yield from chunk
        last_id = chunk[-1].id


def _let_go(session: Session, parts: EventParts) -> None:
    """Drop an exported event's rows from the session, so memory stays flat over many events
    (only these: the caller's own objects, such as its user, stay attached)."""
    rows: list[Any] = [parts.event, *parts.indicators]
    rows += [sighting for found in parts.sightings.values() for sighting in found]
    for row in rows:
        if row in session:
            session.expunge(row)


def events_misp(session: Session, viewer: Viewer, filters: EventFilter) -> Iterator[dict[str, Any]]:
    """`{"Event": {...}}` of each event the viewer may see that matches the filters."""
    # Built now, not when the first event is pulled: a bad filter is an error before a
    # streamed response has started, not a broken stream.
    query = filtered_events(viewer, filters)
    return ({"Event": event_object(parts)} for parts in visible_parts(session, viewer, query))


def published_events(viewer: Viewer) -> Select[Event]:
    """What a feed offers: the published events the viewer may see."""
    return visible_events(viewer).where(Event.published.is_(True))


def response_text(events: Iterator[dict[str, Any]]) -> Iterator[str]:
    """Events as a restSearch response (`{"response": [{"Event": ...}, ...]}`), piece by
    piece: one event's JSON per piece, so a writer holds one event at a time."""
    yield '{"response": ['
    for position, event in enumerate(events):
        yield ("," if position else "") + json.dumps(event, ensure_ascii=False)
    yield "]}"
