"""Shared events as STIX 2.1 bundles for one viewer, streamed object by object.

Every read goes through the access predicate: events through `visible_to(viewer, Event)`
(`sharing.search.filtered_events`), indicators through their own TLP within their event's
audience (`sharing.queries.INDICATOR_ACCESS`), stored STIX objects through their event and
their own TLP (`emitted_rows`). Nothing else is read, so a bundle holds nothing the viewer
could not open in the UI; who reported a sighting is named only to the indicator's owner
and the reporter, as in the UI.

Memory stays flat however large the event: indicators are read in chunks of `CHUNK` and let
go, stored objects are written as their stored text, and the ids the event's report or
grouping refers to are kept as 16-byte UUIDs (`RefCollector`) until it is written, last.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, not_, select
from sqlalchemy.orm import Session, aliased

from entente.core.access import AccessColumns, Viewer, visible_to
from entente.interop.bundles import Container, RawStix, StixOut, out_id, out_type
from entente.interop.choices import StixRole
from entente.interop.from_stix import OBSERVABLE_TYPES
from entente.interop.identifiers import parse_timestamp, stix_timestamp, uuid_text
from entente.interop.markings import tlp_marking_definitions
from entente.interop.models import StixIndicatorLink, StixObject
from entente.interop.to_stix import (
    EventContext,
    container_object,
    identity_id,
    identity_object,
    indicator_objects,
    sighting_object,
)
from entente.members.models import Organisation
from entente.sharing.choices import SightingKind
from entente.sharing.filters import EventFilter
from entente.sharing.indicators import Category, IndicatorType
from entente.sharing.models import Event, Indicator, Sighting
from entente.sharing.queries import indicator_access, visible_indicators
from entente.sharing.search import filtered_events
from entente.sharing.tags import owner_tags
from entente.vocabulary.markings import TLP

CHUNK = 1_000
EVENT_CHUNK = 100
# Objects a report or grouping does not list: who made things, how they are marked, and
# cyber observables (listed through the observed-data that holds them).
_UNLISTED_TYPES = frozenset({"identity", "marking-definition"}) | OBSERVABLE_TYPES

STORED_ACCESS = AccessColumns(
    access_type=Event.__access_type__,
    object_id=Event.id,
    owner_organisation_id=Event.owner_organisation_id,
    tlp=StixObject.tlp,
    distribution=Event.distribution,
    sharing_group_id=Event.sharing_group_id,
)


def stored_visible(viewer: Viewer) -> ColumnElement[bool]:
    """Stored objects (joined to their event) the viewer may see: the event, then the object.

    Both, because the object's TLP was capped by its event's TLP at import time only; an
    event tightened later must not leave its objects looser than itself.
    """
    return and_(visible_to(viewer, Event), visible_to(viewer, STORED_ACCESS))


def emitted_rows(viewer: Viewer) -> ColumnElement[bool]:
    """Stored objects an export writes: visible, and an indicator's STIX form only while
    every Entente indicator made from it is visible too (else those are written afresh)."""
    # Aliases, and the indicator's own event joined in: a caller's query may read these
    # tables itself, and the access predicate's subquery (named recipients) must correlate
    # to an event of this subquery, never to a bare `event` table (which would ask whether
    # the viewer is a recipient of any event at all).
    link = aliased(StixIndicatorLink)
    indicator = aliased(Indicator)
    event = aliased(Event)
    hidden_indicator = (
        select(link.indicator_id)
        .join(indicator, indicator.id == link.indicator_id)
        .join(event, event.id == indicator.event_id)
        .where(
            link.stix_object_id == StixObject.id,
            not_(visible_to(viewer, indicator_access(indicator, event))),
        )
    )
    linked = select(link.indicator_id).where(link.stix_object_id == StixObject.id)
    return and_(
        stored_visible(viewer),
        (StixObject.role != StixRole.INDICATOR) | and_(exists(linked), ~exists(hidden_indicator)),
    )


class RefCollector:
    """The ids a container lists, 16 bytes each: two million refs cost 32 MB, not 200."""

    def __init__(self) -> None:
        self._uuids: dict[str, bytearray] = {}
        self._other: list[str] = []  # ids whose UUID is not in canonical (lower-case) form

    def add(self, stix_id: str) -> None:
        stix_type, _, text = stix_id.partition("--")
        raw = bytes.fromhex(text.replace("-", ""))
        if uuid_text(raw) != text:
            self._other.append(stix_id)
            return
        self._uuids.setdefault(stix_type, bytearray()).extend(raw)

    def __len__(self) -> int:
        return sum(len(data) // 16 for data in self._uuids.values()) + len(self._other)

    def __iter__(self) -> Iterator[str]:
        for stix_type, data in self._uuids.items():
            for start in range(0, len(data), 16):
                yield f"{stix_type}--{uuid_text(bytes(data[start : start + 16]))}"
        yield from self._other


@dataclass
class ExportRun:
    """One export: the identities written so far, and stored objects already written (an
    ATT&CK technique imported into several events is written once per bundle)."""

    session: Session
    viewer: Viewer
    identities: set[int] = field(default_factory=set)  # organisation ids
    organisations: dict[int, Organisation] = field(default_factory=dict)
    stored_written: set[str] = field(default_factory=set)

    def identity(self, organisation: Organisation) -> Iterator[dict[str, Any]]:
        """The organisation's identity, the first time it is needed."""
        if organisation.id not in self.identities:
            self.identities.add(organisation.id)
            yield identity_object(organisation)

    def organisation(self, organisation_id: int) -> Organisation:
        if organisation_id not in self.organisations:
            self.organisations[organisation_id] = self.session.get_one(
                Organisation, organisation_id
            )
        return self.organisations[organisation_id]


def event_bundle(session: Session, viewer: Viewer, event: Event) -> Iterator[StixOut]:
    """The objects of one event the caller has loaded for `viewer` (`get_event`)."""
    yield from tlp_marking_definitions()
    yield from _event_objects(ExportRun(session, viewer), event)


def events_bundle(session: Session, viewer: Viewer, filters: EventFilter) -> Iterator[StixOut]:
    """The objects of every event `viewer` may see that match `filters`, oldest first.

    The filters are checked here, before the first object: a streamed response has sent
    its status by the time the stream runs, so a bad filter must fail before that.
    """
    query = filtered_events(viewer, filters)
    return _events_objects(ExportRun(session, viewer), query)


def _events_objects(run: ExportRun, query: Select[Event]) -> Iterator[StixOut]:
    yield from tlp_marking_definitions()
    last = 0
    while True:
        chunk = query.where(Event.id > last).order_by(Event.id).limit(EVENT_CHUNK)
        events = list(run.session.scalars(chunk))
        if not events:
            return
        for event in events:
            yield from _event_objects(run, event)
        last = events[-1].id


# ---- one event ---------------------------------------------------------------------------


@dataclass
class _EventOutput:
    """What one event has written: the ids its container lists, and (only when the event
    also holds stored objects, which may repeat them) the ids Entente generated."""

    refs: RefCollector = field(default_factory=RefCollector)
    generated: set[str] | None = None

    def note(self, item: StixOut) -> StixOut:
        if out_type(item) not in _UNLISTED_TYPES:
            self.refs.add(out_id(item))
        return item


def _event_objects(run: ExportRun, event: Event) -> Iterator[StixOut]:
    session, viewer = run.session, run.viewer
    owner = event.owner_organisation
    stored_container = session.scalar(
        _stored(viewer, event).where(StixObject.role == StixRole.CONTAINER)
    )
    head = (
        json.loads(stored_container.body)
        if stored_container is not None
        else container_object(event, identity_id(owner.name), owner_tags(session, event))
    )
    context = EventContext(container_id=head["id"], owner_identity=identity_id(owner.name))
    output = _EventOutput()
    if session.scalar(select(exists(_stored(viewer, event).where(_not_container())))):
        output.generated = set()
    for item in _indicator_objects(run, event, context, output.generated is not None):
        if output.generated is not None and not isinstance(item, RawStix):
            output.generated.add(out_id(item))
        yield output.note(item)
    for raw in _stored_objects(run, event):
        if raw.stix_id in run.stored_written or (
            output.generated is not None and raw.stix_id in output.generated
        ):
            output.note(raw)  # in the bundle already: listed, not written twice
            continue
        run.stored_written.add(raw.stix_id)
        yield output.note(raw)
    listed_nothing = len(output.refs) == 0  # then the container lists the owner
    container = _container(event, head, stored_container, output.refs)
    if stored_container is None or listed_nothing:
        yield from run.identity(owner)
    yield container


def _not_container() -> ColumnElement[bool]:
    return StixObject.role != StixRole.CONTAINER


def _stored(viewer: Viewer, event: Event) -> Select[StixObject]:
    return (
        select(StixObject)
        .join(Event, Event.id == StixObject.event_id)
        .where(StixObject.event_id == event.id, stored_visible(viewer))
    )


def _container(
    event: Event, head: dict[str, Any], stored: StixObject | None, refs: RefCollector
) -> Container:
    """The event's report or grouping, last, listing what this bundle holds of the event.

    An imported container keeps its own properties and the order of its refs (those still
    visible); what the event gained since is appended, and an event changed after the
    import shows it in `modified`.
    """
    if not len(refs):
        # STIX requires at least one ref; an event with nothing the viewer may see (or
        # nothing at all) lists its owner, which is what the viewer does know of it.
        refs.add(identity_id(event.owner_organisation.name))
    if stored is None:
        return Container(head, refs)
    stored_refs = [ref for ref in head.pop("object_refs", []) if isinstance(ref, str)]
    written = set(refs)
    listed = set(stored_refs)
    merged = [ref for ref in stored_refs if ref in written]
    merged.extend(ref for ref in refs if ref not in listed)
    if event.updated_at > stored.imported_at:
        modified = max(parse_timestamp(head["modified"]), event.updated_at)
        head["modified"] = stix_timestamp(modified)
    return Container(head, merged)


@dataclass(frozen=True, slots=True)
class IndicatorRow:
    """An indicator's exported columns: lighter than the ORM row, and never kept by the
    session, so a million of them pass through without the identity map growing."""

    id: int
    uuid: str
    type: IndicatorType
    value: str
    category: Category
    to_ids: bool
    comment: str
    tlp: TLP
    first_seen: datetime | None
    last_seen: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SightingRow:
    id: int
    indicator_id: int
    organisation_id: int
    kind: SightingKind
    source: str
    count: int
    observed_at: datetime
    created_at: datetime


_INDICATOR_COLUMNS = [getattr(Indicator, name) for name in IndicatorRow.__slots__]
_SIGHTING_COLUMNS = [getattr(Sighting, name) for name in SightingRow.__slots__]


def _indicator_objects(
    run: ExportRun, event: Event, context: EventContext, has_stored: bool
) -> Iterator[StixOut]:
    """Each visible indicator as STIX (or as the stored object it came from), and its
    sightings, a chunk of indicators at a time.

    One query, streamed (a server-side cursor on PostgreSQL): asking again per chunk for
    the ids after the last made PostgreSQL, which cannot read the event's indicators in id
    order from its index on `event_id`, gather and sort the rest of the event every time.
    """
    session, viewer = run.session, run.viewer
    query = (
        visible_indicators(viewer)
        .with_only_columns(*_INDICATOR_COLUMNS)
        .where(Indicator.event_id == event.id)
        .order_by(Indicator.id)
        .execution_options(yield_per=CHUNK)
    )
    for partition in session.execute(query).partitions():
        chunk = [IndicatorRow(*row) for row in partition]
        ids = [indicator.id for indicator in chunk]
        linked = _linked_ids(session, viewer, ids) if has_stored else {}
        sightings = _sightings(session, ids)
        for indicator in chunk:
            target = linked.get(indicator.id)
            if target is None:
                # The owner's identity only where something written names it: an event
                # imported whole refers to its producer's identity instead.
                yield from run.identity(event.owner_organisation)
                generated = indicator_objects(indicator, context)
                yield from generated
                target = generated[0]["id"]
            for sighting in sightings.get(indicator.id, ()):
                yield from _sighting(run, event, indicator, sighting, target)


def _sighting(
    run: ExportRun, event: Event, indicator: IndicatorRow, sighting: SightingRow, target: str
) -> Iterator[dict[str, Any]]:
    reporter = None
    if run.viewer.organisation_id in (event.owner_organisation_id, sighting.organisation_id):
        organisation = run.organisation(sighting.organisation_id)
        yield from run.identity(organisation)
        reporter = identity_id(organisation.name)
    yield sighting_object(sighting, indicator, target, reporter)


def _linked_ids(session: Session, viewer: Viewer, indicator_ids: list[int]) -> dict[int, str]:
    """For indicators made from a stored object the export writes: that object's id.

    The links of the chunk first, then which of their objects are written: in one join,
    PostgreSQL checked every stored object of the event against the access rule per chunk.
    """
    links = session.execute(
        select(StixIndicatorLink.indicator_id, StixIndicatorLink.stix_object_id)
        .where(StixIndicatorLink.indicator_id.in_(indicator_ids))
        .order_by(StixIndicatorLink.stix_object_id)
    ).all()
    if not links:
        return {}
    rows = session.execute(
        select(StixObject.id, StixObject.stix_id)
        .join(Event, Event.id == StixObject.event_id)
        .where(StixObject.id.in_({row_id for _, row_id in links}), emitted_rows(viewer))
    )
    written = {row_id: stix_id for row_id, stix_id in rows}
    found: dict[int, str] = {}
    for indicator_id, row_id in links:
        if row_id in written:
            found.setdefault(indicator_id, written[row_id])
    return found


def _sightings(session: Session, indicator_ids: list[int]) -> dict[int, list[SightingRow]]:
    found: dict[int, list[SightingRow]] = {}
    query = (
        select(*_SIGHTING_COLUMNS)
        .where(Sighting.indicator_id.in_(indicator_ids))
        .order_by(Sighting.id)
    )
    for row in session.execute(query):
        sighting = SightingRow(*row)
        found.setdefault(sighting.indicator_id, []).append(sighting)
    return found


def _stored_objects(run: ExportRun, event: Event) -> Iterator[RawStix]:
    """The event's stored objects the viewer may see (its container apart), as stored."""
    last = 0
    while True:
        rows = run.session.execute(
            select(StixObject.id, StixObject.stix_id, StixObject.type, StixObject.body)
            .join(Event, Event.id == StixObject.event_id)
            .where(
                StixObject.event_id == event.id,
                StixObject.id > last,
                _not_container(),
                emitted_rows(run.viewer),
            )
            .order_by(StixObject.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        for _row_id, stix_id, stix_type, body in rows:
            yield RawStix(stix_id, stix_type, body)
        last = rows[-1][0]


def bundle_objects(items: Iterable[StixOut]) -> Iterator[dict[str, Any]]:
    """Exported objects as plain dicts (stored text parsed, refs listed), for callers that
    filter or re-shape objects (TAXII, tests) rather than write a bundle."""
    for item in items:
        if isinstance(item, RawStix):
            yield json.loads(item.text)
        elif isinstance(item, Container):
            yield {**item.head, "object_refs": list(item.refs)}
        else:
            yield item
