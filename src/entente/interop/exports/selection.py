"""What an export holds: the indicators a viewer may see that match its filters, streamed.

Every query starts from `sharing.queries.visible_indicators` (the access predicate on the
indicator's own TLP within its event's audience) and adds the event conditions of the
sharing search (`sharing.search.event_conditions`), so an export never holds a value the
viewer could not find in the UI. Rows come from one streamed query, `CHUNK` at a time
(a server-side cursor on PostgreSQL), as plain tuples the session does not keep: memory
stays flat however many indicators match.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, select
from sqlalchemy.orm import Session

from entente.core.access import Viewer
from entente.sharing import decay
from entente.sharing.filters import IndicatorFilter
from entente.sharing.indicators import Category, IndicatorType
from entente.sharing.models import Event, EventTag, Indicator
from entente.sharing.queries import visible_indicators
from entente.sharing.search import active_at, event_conditions
from entente.sharing.tags import canonical_tag, tags_seen_by
from entente.vocabulary.markings import TLP

CHUNK = 2_000


@dataclass(frozen=True, slots=True)
class ExportFilter:
    """Which indicators an export holds; the defaults are what a detection tool wants.

    By default only indicators marked for detection (`to_ids`) and not expired by decay
    (`sharing.decay`) are exported, as MISP's `to_ids` and decaying-model defaults do.
    A tuple filter keeps indicators matching any of its values; different filters combine.
    `seen_within_days` keeps indicators last seen (else created) in that many days.
    """

    types: tuple[IndicatorType, ...] = ()
    tags: tuple[str, ...] = ()
    tlps: tuple[TLP, ...] = ()
    event_ids: tuple[int, ...] = ()
    organisation_id: int | None = None
    published_only: bool = False
    include_not_for_detection: bool = False
    include_expired: bool = False
    min_score: int | None = None
    since: date | None = None
    until: date | None = None
    seen_within_days: int | None = None

    def canonical(self) -> ExportFilter:
        """The same filter written one way (sorted, tags canonical), for the cache key."""
        return ExportFilter(
            types=tuple(sorted(set(self.types))),
            tags=tuple(sorted({canonical_tag(tag) for tag in self.tags})),
            tlps=tuple(sorted(set(self.tlps), key=lambda tlp: tlp.rank)),
            event_ids=tuple(sorted(set(self.event_ids))),
            organisation_id=self.organisation_id,
            published_only=self.published_only,
            include_not_for_detection=self.include_not_for_detection,
            include_expired=self.include_expired,
            min_score=self.min_score,
            since=self.since,
            until=self.until,
            seen_within_days=self.seen_within_days,
        )

    @property
    def depends_on_the_hour(self) -> bool:
        """True when the result moves with the clock (a score floor, a seen window)."""
        return self.min_score is not None or self.seen_within_days is not None


@dataclass(frozen=True, slots=True)
class Selection:
    """One export's reader: who looks, with which filter, at which moment.

    `now` decides expiry (exactly: the cache key counts expired indicators at `now`);
    `hour` (now, truncated to the hour) decides scores and seen windows, so that a cached
    export of such a filter lives at most until the next hour.
    """

    session: Session
    viewer: Viewer
    filters: ExportFilter
    now: datetime

    @property
    def hour(self) -> datetime:
        return self.now.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class ExportedIndicator:
    """An indicator's exported columns and its event's, never kept by the session."""

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
    expires_at: datetime | None
    base_score: int
    decay_from: datetime
    event_id: int
    event_uuid: str
    event_title: str


_COLUMNS = [
    *(getattr(Indicator, name) for name in ExportedIndicator.__slots__[:14]),
    Event.id,
    Event.uuid,
    Event.title,
]


def indicator_conditions(selection: Selection) -> list[ColumnElement[bool]]:
    """The filter as SQL, beside the access predicate that `visible_indicators` holds."""
    viewer, filters = selection.viewer, selection.filters
    shared = IndicatorFilter(
        organisation_id=filters.organisation_id, since=filters.since, until=filters.until
    )
    conditions = event_conditions(viewer, shared)
    if not filters.include_not_for_detection:
        conditions.append(Indicator.to_ids.is_(True))
    if not filters.include_expired:
        conditions.append(active_at(selection.now))
    if filters.types:
        conditions.append(Indicator.type.in_(filters.types))
    if filters.tlps:
        conditions.append(Indicator.tlp.in_(filters.tlps))
    if filters.event_ids:
        conditions.append(Indicator.event_id.in_(filters.event_ids))
    if filters.published_only:
        conditions.append(Event.published.is_(True))
    if filters.tags:
        conditions.append(tagged_with(viewer, filters.tags))
    if filters.seen_within_days is not None:
        cutoff = selection.hour - timedelta(days=filters.seen_within_days)
        conditions.append(func.coalesce(Indicator.last_seen, Indicator.created_at) >= cutoff)
    return conditions


def tagged_with(viewer: Viewer, tags: tuple[str, ...]) -> ColumnElement[bool]:
    """Events carrying any of `tags` among the tags the viewer sees on them (the owner's and
    its own organisation's local ones, never a third organisation's)."""
    names = sorted({canonical_tag(tag) for tag in tags})
    tagged = (
        select(EventTag.event_id)
        .where(EventTag.event_id == Event.id, EventTag.name.in_(names), tags_seen_by(viewer))
        .correlate(Event)
    )
    return exists(tagged)


def _query(selection: Selection, columns: list[Any]) -> Select[Any]:
    return (
        visible_indicators(selection.viewer)
        .with_only_columns(*columns)
        .where(*indicator_conditions(selection))
        .execution_options(yield_per=CHUNK)
    )


def indicator_chunks(selection: Selection) -> Iterator[list[ExportedIndicator]]:
    """The selected indicators in id order, a chunk at a time (for one line per indicator)."""
    query = _query(selection, _COLUMNS).order_by(Indicator.id)
    for partition in selection.session.execute(query).partitions():
        yield _scored([ExportedIndicator(*row) for row in partition], selection)


def distinct_values(selection: Selection) -> Iterator[tuple[IndicatorType, str]]:
    """Each selected (type, value) once, ordered by value (for lists of values).

    Duplicates (the same value in several events) are adjacent in this order, so they are
    dropped by comparing with the previous row: nothing is held but that row. Only the two
    columns are read, unless a score floor needs the decay columns: converting the other
    columns of every row cost more than the query.
    """
    previous: tuple[IndicatorType, str] | None = None
    for pair in _pairs_by_value(selection):
        if pair != previous:
            yield pair
        previous = pair


def _pairs_by_value(selection: Selection) -> Iterator[tuple[IndicatorType, str]]:
    order = (Indicator.value, Indicator.type)
    session = selection.session
    if selection.filters.min_score is None:
        pairs = _query(selection, [Indicator.type, Indicator.value]).order_by(*order)
        for partition in session.execute(pairs).partitions():
            yield from ((indicator_type, value) for indicator_type, value in partition)
        return
    scored = _query(selection, _COLUMNS).order_by(*order)
    for partition in session.execute(scored).partitions():
        chunk = _scored([ExportedIndicator(*row) for row in partition], selection)
        yield from ((indicator.type, indicator.value) for indicator in chunk)


def _scored(chunk: list[ExportedIndicator], selection: Selection) -> list[ExportedIndicator]:
    """The chunk without indicators scoring under the filter's floor at the hour."""
    floor = selection.filters.min_score
    if floor is None or not chunk:
        return chunk
    scores = decay.scores(
        [i.type for i in chunk],
        [i.base_score for i in chunk],
        [i.decay_from for i in chunk],
        [i.expires_at for i in chunk],
        selection.hour,
    )
    return [indicator for indicator, score in zip(chunk, scores, strict=True) if score >= floor]
