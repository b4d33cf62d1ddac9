"""A collection's objects for one caller, a page at a time, in `date_added` order.

What a collection holds, for a caller: every object the STIX export would give that caller
(`interop.stix_export`) of the events the collection's filter selects, marked at most the
collection's maximum TLP. Two kinds of rows make them:

- a stored STIX object (`StixObject`: imported, or posted to a collection), as stored,
  when the export would write it (`stix_export.emitted_rows`); its `date_added` is its
  `imported_at`, the time this version was stored;
- an Entente indicator not made from a stored object, as the export converts it
  (`to_stix.indicator_objects`: the indicator and, where seen, its observed-data, SCO and
  relationship); their `date_added` is the indicator's `created_at`.

Both times are set once when the row is written and never change (a newer version of a
stored object is a new version with a new `date_added`), so `added_after` with the last
page's `X-TAXII-Date-Added-Last` returns exactly what was added since. Events' reports and
groupings, identities and sightings are not collection objects: they change as their events
change and have no stable time of addition (they are in the STIX export).

Paging is keyset, never OFFSET: rows are ordered by `(date_added, kind, row id)`, and `next`
encodes the last row read and how many of its objects were returned, so a page boundary may
fall inside an indicator's objects and rows added meanwhile never shift a page.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from entente.core.access import Viewer, visible_to
from entente.core.db import UTCDateTime
from entente.core.errors import BadValue
from entente.core.pagination import decode_cursor, encode_cursor
from entente.interop.choices import StixRole
from entente.interop.from_stix import OBSERVABLE_TYPES
from entente.interop.identifiers import parse_timestamp
from entente.interop.models import StixIndicatorLink, StixObject
from entente.interop.stix_export import IndicatorRow, emitted_rows
from entente.interop.taxii.collections import scope
from entente.interop.taxii.models import TaxiiCollection
from entente.interop.to_stix import EventContext, container_id, identity_id, indicator_objects
from entente.sharing.models import Event, Indicator
from entente.sharing.queries import INDICATOR_ACCESS

DEFAULT_LIMIT = 1_000
# A larger `limit` is served as this many (section 3.4: a server may return fewer).
MAX_LIMIT = 10_000
SPEC_VERSION = "2.1"
# What an indicator's conversion can give (`to_stix.indicator_objects`).
GENERATED_TYPES = (
    frozenset({"indicator", "observed-data", "relationship", "vulnerability", "note"})
    | OBSERVABLE_TYPES
)
_INDICATOR_COLUMNS = [getattr(Indicator, name) for name in IndicatorRow.__slots__]


class Kind(IntEnum):
    """The second part of the order: which kind of row an object comes from."""

    STORED = 0
    GENERATED = 1


def taxii_timestamp(moment: datetime) -> str:
    """Microsecond precision: a `date_added` sent back as `added_after` must name it exactly."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class TaxiiObject:
    """One object of a collection: its identity, version, time of addition and JSON."""

    stix_id: str
    type: str
    # Its `modified`, else `created`, else its `date_added` (an observable has neither).
    version_at: datetime
    spec_version: str
    date_added: datetime
    # Where it comes from: a stored object's row, or the indicator it was made from (and
    # whether it is the indicator's main object, which names it, or a companion).
    source: tuple[Kind, int, bool]
    text: str | None = None  # stored objects: the stored JSON, written out as it is
    content: dict[str, Any] | None = None  # generated objects

    @property
    def version(self) -> str:
        """As STIX writes `modified`: milliseconds, unless the version is finer."""
        moment = self.version_at
        if moment.microsecond % 1000:
            return taxii_timestamp(moment)
        return (
            moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{moment.microsecond // 1000:03d}Z"
        )

    def json_text(self) -> str:
        if self.text is not None:
            return self.text
        return json.dumps(self.content, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class ObjectFilter:
    """The `added_after` and `match[...]` parameters (TAXII 2.1 section 3.5)."""

    added_after: datetime | None = None
    ids: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()
    # The timestamps `match[version]` names. `first`, `last` and `all` select alike: a
    # collection holds one version of an object per event (the latest stored).
    versions: frozenset[datetime] = frozenset()
    spec_versions: frozenset[str] = frozenset()

    def matches(self, item: TaxiiObject) -> bool:
        if self.ids and item.stix_id not in self.ids:
            return False
        if self.types and item.type not in self.types:
            return False
        if self.spec_versions and item.spec_version not in self.spec_versions:
            return False
        return not self.versions or item.version_at in self.versions


@dataclass(frozen=True, slots=True)
class Position:
    """The last row read, and how many of its objects were handled (returned or not matched)."""

    date_added: datetime
    kind: Kind
    row_id: int
    consumed: int

    @property
    def key(self) -> tuple[datetime, int, int]:
        return (self.date_added, self.kind, self.row_id)

    def token(self) -> str:
        return encode_cursor(
            [taxii_timestamp(self.date_added), int(self.kind), self.row_id, self.consumed]
        )

    @classmethod
    def from_token(cls, token: str) -> Position:
        try:
            text, kind, row_id, consumed = decode_cursor(token, 4)
            return cls(parse_timestamp(text), Kind(kind), int(row_id), int(consumed))
        except (BadValue, ValueError, TypeError) as exc:
            raise BadValue("next is not a value this server gave", field="next") from exc


@dataclass(frozen=True, slots=True)
class ObjectQuery:
    """What a client asks for: its filters, a page size and where the last page ended."""

    filters: ObjectFilter
    limit: int = DEFAULT_LIMIT
    next: str | None = None


@dataclass
class ObjectPage:
    objects: list[TaxiiObject]
    more: bool
    next: str | None = None


@dataclass(frozen=True, slots=True)
class _Window:
    start: Position | None
    end: datetime | None = None


@dataclass
class _Row:
    key: tuple[datetime, int, int]
    expand: Callable[[], list[TaxiiObject]]


@dataclass
class _Reader:
    session: Session
    viewer: Viewer
    collection: TaxiiCollection
    filters: ObjectFilter
    events: dict[int, Event] = field(default_factory=dict)

    # ---- the two kinds of rows ------------------------------------------------------------

    def stored(self, window: _Window, count: int) -> list[_Row]:
        date_added = StixObject.imported_at
        query = (
            select(
                StixObject.id,
                date_added,
                StixObject.stix_id,
                StixObject.type,
                StixObject.spec_version,
                type_coerce(
                    func.coalesce(StixObject.modified, StixObject.created, date_added),
                    UTCDateTime(),
                ),
                StixObject.body,
            )
            .join(Event, Event.id == StixObject.event_id)
            .where(
                StixObject.role != StixRole.CONTAINER,
                emitted_rows(self.viewer),
                *scope(self.collection, StixObject.tlp),
                *self._within(date_added, StixObject.id, Kind.STORED, window),
            )
            .order_by(date_added, StixObject.id)
            .limit(count)
        )
        if self.filters.ids:
            query = query.where(StixObject.stix_id.in_(sorted(self.filters.ids)))
        if self.filters.types:
            query = query.where(StixObject.type.in_(sorted(self.filters.types)))
        rows: list[_Row] = []
        for row_id, added, stix_id, stix_type, spec, version, body in self.session.execute(query):
            source = (Kind.STORED, row_id, True)
            item = TaxiiObject(stix_id, stix_type, version, spec, added, source, text=body)
            rows.append(_Row((added, Kind.STORED, row_id), partial(_alone, item)))
        return rows

    def generated(self, window: _Window, count: int) -> list[_Row]:
        date_added = Indicator.created_at
        from_stored = select(StixIndicatorLink.indicator_id).where(
            StixIndicatorLink.indicator_id == Indicator.id
        )
        query = (
            select(*_INDICATOR_COLUMNS, Indicator.event_id)
            .join(Event, Event.id == Indicator.event_id)
            .where(
                visible_to(self.viewer, INDICATOR_ACCESS),
                *scope(self.collection, Indicator.tlp),
                ~exists(from_stored),
                *self._within(date_added, Indicator.id, Kind.GENERATED, window),
            )
            .order_by(date_added, Indicator.id)
            .limit(count)
        )
        found = [(IndicatorRow(*row[:-1]), row[-1]) for row in self.session.execute(query)]
        self._load_events({event_id for _, event_id in found})
        return [
            _Row(
                (indicator.created_at, Kind.GENERATED, indicator.id),
                partial(self._convert, indicator, event_id),
            )
            for indicator, event_id in found
        ]

    def _convert(self, indicator: IndicatorRow, event_id: int) -> list[TaxiiObject]:
        event = self.events[event_id]
        context = EventContext(
            container_id=container_id(event),
            owner_identity=identity_id(event.owner_organisation.name),
        )
        added = indicator.created_at
        return [
            TaxiiObject(
                content["id"],
                content["type"],
                parse_timestamp(content["modified"]) if "modified" in content else added,
                SPEC_VERSION,
                added,
                (Kind.GENERATED, indicator.id, position == 0),
                content=content,
            )
            for position, content in enumerate(indicator_objects(indicator, context))
        ]

    def _load_events(self, event_ids: set[int]) -> None:
        missing = sorted(event_ids - self.events.keys())
        if missing:
            for event in self.session.scalars(select(Event).where(Event.id.in_(missing))):
                self.events[event.id] = event

    def _within(
        self, date_added: Any, row_id: Any, kind: Kind, window: _Window
    ) -> list[ColumnElement[bool]]:
        """Rows from the window's position on (its own row included: part of it may be
        unread), up to its end."""
        conditions: list[ColumnElement[bool]] = []
        if self.filters.added_after is not None:
            conditions.append(date_added > self.filters.added_after)
        if window.end is not None:
            conditions.append(date_added <= window.end)
        position = window.start
        if position is None:
            return conditions
        if kind > position.kind:
            conditions.append(date_added >= position.date_added)
        elif kind < position.kind:
            conditions.append(date_added > position.date_added)
        else:
            # The plain bound first: an index seeks to it, where it would read the OR below
            # from the start of the index.
            conditions.append(date_added >= position.date_added)
            conditions.append(
                or_(
                    date_added > position.date_added,
                    and_(date_added == position.date_added, row_id >= position.row_id),
                )
            )
        return conditions

    def sources(self) -> list[Callable[[_Window, int], list[_Row]]]:
        """The kinds of rows that can hold what the filter asks for."""
        wanted = self.filters.types | {_id_type(stix_id) for stix_id in self.filters.ids}
        sources: list[Callable[[_Window, int], list[_Row]]] = [self.stored]
        if (not wanted or wanted & GENERATED_TYPES) and (
            not self.filters.spec_versions or SPEC_VERSION in self.filters.spec_versions
        ):
            sources.append(self.generated)
        return sources


def _alone(item: TaxiiObject) -> list[TaxiiObject]:
    return [item]


def _id_type(stix_id: str) -> str:
    return stix_id.partition("--")[0]


def read_page(
    session: Session, viewer: Viewer, collection: TaxiiCollection, query: ObjectQuery
) -> ObjectPage:
    """Up to `limit` objects after `next` (or from the start), and whether more follow.

    Rows are read from each kind in order, `limit + 1` at a time, and merged; a page ends
    at the first object past `limit` that matches, so `more` is exact.
    """
    filters, limit = query.filters, min(query.limit, MAX_LIMIT)
    reader = _Reader(session, viewer, collection, filters)
    position = Position.from_token(query.next) if query.next else None
    sources = reader.sources()
    found: list[TaxiiObject] = []
    batch = limit + 1
    while True:
        batches = _fetch(sources, position, batch)
        rows = sorted((row for rows in batches for row in rows), key=lambda row: row.key)
        # A kind that filled its batch may have rows beyond its last: merge only up to there.
        ends = [rows_of[-1].key for rows_of in batches if len(rows_of) == batch]
        boundary = min(ends) if ends else None
        for row in rows:
            if boundary is not None and row.key > boundary:
                break
            objects = row.expand()
            start = position.consumed if position is not None and row.key == position.key else 0
            for index in range(start, len(objects)):
                if not filters.matches(objects[index]):
                    continue
                if len(found) == limit:
                    after = Position(*_unpack(row.key), consumed=index)
                    return ObjectPage(found, more=True, next=after.token())
                found.append(objects[index])
            position = Position(*_unpack(row.key), consumed=len(objects))
        if boundary is None:
            return ObjectPage(found, more=False)


def _fetch(
    sources: list[Callable[[_Window, int], list[_Row]]], position: Position | None, batch: int
) -> list[list[_Row]]:
    """A batch of rows of each kind from `position`. Once one kind fills its batch, the
    others are read only up to its last time of addition: nothing beyond is merged into this
    round, and a kind with no rows here (all posted objects, no native indicators) is then
    not scanned to its end on every page."""
    batches: list[list[_Row]] = []
    end: datetime | None = None
    for source in sources:
        rows = source(_Window(position, end), batch)
        if len(rows) == batch and (end is None or rows[-1].key[0] < end):
            end = rows[-1].key[0]
        batches.append(rows)
    return batches


def _unpack(key: tuple[datetime, int, int]) -> tuple[datetime, Kind, int]:
    return key[0], Kind(key[1]), key[2]


def envelope_text(page: ObjectPage) -> str:
    """The envelope (section 3.7) as JSON text; stored objects are written as stored."""
    head: dict[str, Any] = {"more": page.more}
    if page.next is not None:
        head["next"] = page.next
    text = json.dumps(head, separators=(",", ":"))
    if not page.objects:
        return text
    objects = ",".join(item.json_text() for item in page.objects)
    return f'{text[:-1]},"objects":[{objects}]}}'


def date_added_headers(objects: Sequence[TaxiiObject]) -> dict[str, str]:
    """`X-TAXII-Date-Added-First` and `-Last` (section 3.4.2): the page's first and last."""
    if not objects:
        return {}
    return {
        "X-TAXII-Date-Added-First": taxii_timestamp(objects[0].date_added),
        "X-TAXII-Date-Added-Last": taxii_timestamp(objects[-1].date_added),
    }
