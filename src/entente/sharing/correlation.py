"""Correlation: which indicators of other events share a value with, or contain, this one.

Links are computed when indicators are added, set-based: a handful of `INSERT ... SELECT`
statements join the new rows against the whole table through indexes (the value digest for
equal values; the address bucket and range for network containment, see
`indicators.addresses`), so a 10,000-indicator event is correlated in one round of SQL
rather than a Python loop over pairs. Rows are stored in both directions, so either event
reads its links with one indexed lookup.

Links are stored whatever their markings; *reads* pass both ends through the access
predicate. A link to an indicator the viewer may not see is never returned or counted, so
correlation never reveals that a hidden event exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    CompoundSelect,
    FromClause,
    Select,
    and_,
    case,
    func,
    insert,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.orm import QueryableAttribute, Session, aliased

from entente.core.access import Viewer, visible_to
from entente.sharing.choices import CorrelationKind
from entente.sharing.indicators.addresses import COARSE_HEX_DIGITS, IPV4_MAPPED_HEX
from entente.sharing.indicators.types import IndicatorType
from entente.sharing.models import Correlation, Event, Indicator
from entente.sharing.queries import indicator_access
from entente.vocabulary.markings import TLP

_COLUMNS = ["indicator_id", "other_indicator_id", "event_id", "other_event_id", "kind"]
_EXACT = CorrelationKind.EXACT.value


def correlate(
    session: Session,
    event_id: int,
    first_id: int,
    last_id: int,
    same_values: FromClause | None = None,
) -> int:
    """Link the event's indicators with ids in [first_id, last_id] to other events'.

    `same_values` (id, event_id, value_digest), if given, holds every other indicator
    sharing a value with the new ones, as the writer found them (`indicator_store`): equal
    values are then joined with it rather than looked up in the digest index again.
    Returns the number of links found (each stored twice, once per direction).
    """
    # Both directions in one statement from links found once (MATERIALIZED: not re-run per
    # direction), which also spares reading the first direction back to write the second.
    links = _links(event_id, first_id, last_id, same_values)
    found = links.cte("found").prefix_with("MATERIALIZED")
    forward = select(*found.c)
    c = list(found.c)
    backward = select(c[1], c[0], c[3], c[2], c[4])
    store = insert(Correlation).from_select(_COLUMNS, union_all(forward, backward))
    if session.get_bind().dialect.name == "postgresql":
        # Stored by a data-modifying WITH and counted from `found` in the same statement:
        # counting the stored rows afterwards read back all of a large event's links.
        stored = store.cte("stored")
        return int(session.scalar(select(func.count()).select_from(found).add_cte(stored)) or 0)
    session.execute(store)
    # Counted, not taken from the cursor: the drivers report no row count for this statement.
    count = session.scalar(
        select(func.count())
        .select_from(Correlation)
        .where(
            Correlation.event_id == event_id,
            Correlation.indicator_id.between(first_id, last_id),
        )
    )
    return int(count or 0)


def _links(
    event_id: int, first_id: int, last_id: int, same_values: FromClause | None
) -> CompoundSelect[Any]:
    """(new id, other id, new event, other event, kind) for each link of the new indicators."""
    new = _new_rows(event_id, first_id, last_id).c
    old = aliased(Indicator, name="old")
    elsewhere = old.event_id != event_id
    different_value = old.value_digest != new.value_digest
    old_is_network = _is_network(old.type)

    def pairs(kind: CorrelationKind) -> Select[int, int, int, int, str]:
        return select(new.id, old.id, new.event_id, old.event_id, literal(kind.value))

    if same_values is None:
        same_value = (
            pairs(CorrelationKind.EXACT)
            .join(old, old.value_digest == new.value_digest)
            .where(elsewhere)
        )
    else:
        known = same_values.c
        same_value = (
            select(new.id, known.id, new.event_id, known.event_id, literal(_EXACT))
            .join(same_values, known.value_digest == new.value_digest)
            .where(known.event_id != event_id)
        )
    # New address or network inside an older network of at least bucket length...
    inside_bucketed = (
        pairs(CorrelationKind.CIDR)
        .join(old, and_(old_is_network, old.net_bucket == new.net_bucket))
        # Said outright, so the six in ten new rows that are no address skip the probe.
        .where(new.net_bucket.is_not(None), elsewhere, different_value, _contains(old, new))
    )
    # ...or inside one of the few wider networks, which have no bucket: those within a
    # coarse bucket are met by hashing on it, the very widest by comparing ranges.
    wide = _wide_networks()
    # The widest apart, read once, so each new address meets only them (a handful at most).
    widest = select(wide).where(wide.c.coarse.is_(None)).cte("widest").prefix_with("MATERIALIZED")
    inside_wide = [
        select(
            new.id, table.c.id, new.event_id, table.c.event_id, literal(CorrelationKind.CIDR.value)
        )
        .join(table, and_(meeting, _contains(table.c, new)))
        .where(
            new.net_low.is_not(None),  # only addresses and networks meet the wide networks
            table.c.event_id != event_id,
            table.c.value_digest != new.value_digest,
        )
        for table, meeting in (
            (wide, wide.c.coarse == _coarse(new.net_low)),
            (widest, literal(True)),
        )
    ]
    # New network around older addresses or smaller networks: a range scan of `net_low`.
    # (An equal range is an address here: two equal networks share their value.)
    around = (
        pairs(CorrelationKind.CIDR)
        .join(old, and_(old.net_low >= new.net_low, old.net_low <= new.net_high))
        .where(
            elsewhere,
            new.type == IndicatorType.CIDR,
            different_value,
            old.net_high <= new.net_high,
        )
    )
    return union_all(same_value, inside_bucketed, *inside_wide, around)


def _new_rows(event_id: int, first_id: int, last_id: int) -> CTE:
    """The batch's indicators, read once (MATERIALIZED) for the five joins of `_links`.

    Found by their id range in the primary key: `event_id + 0` keeps the planner off the
    event index, through which it read all of a large event's indicators, once per join,
    to keep the batch's.
    """
    return (
        select(
            Indicator.id,
            Indicator.event_id,
            Indicator.type,
            Indicator.value_digest,
            Indicator.net_low,
            Indicator.net_high,
            Indicator.net_bucket,
        )
        .where(Indicator.id.between(first_id, last_id), Indicator.event_id + 0 == event_id)
        .cte("new")
        .prefix_with("MATERIALIZED")
    )


def _wide_networks() -> CTE:
    """Networks wider than a bucket, with their coarse bucket (None: wider still).

    They are few, so they are read once (MATERIALIZED) rather than searched again for each
    new address (the planner, expecting a new event to be small, would otherwise probe the
    index once per new row); comparing every new address with every one of them was most of
    a 10,000-indicator correlation, so those that fit a coarse bucket are hash-joined on it.
    """
    low, high = Indicator.net_low, Indicator.net_high
    return (
        select(
            Indicator.id,
            Indicator.event_id,
            Indicator.value_digest,
            low,
            high,
            case((_coarse(low) == _coarse(high), _coarse(low))).label("coarse"),
        )
        .where(
            _is_network(Indicator.type),
            Indicator.net_bucket.is_(None),
            low.is_not(None),
        )
        .cte("wide_network")
        .prefix_with("MATERIALIZED")
    )


def _coarse(address: Any) -> ColumnElement[str | None]:
    """The coarse bucket of a hex address (see `indicators.addresses`): /8 for IPv4, /16 for
    IPv6, the sizes of the widest networks commonly shared (a RIR block, an ISP's space)."""
    return case(
        (address.startswith(IPV4_MAPPED_HEX), func.substr(address, 1, COARSE_HEX_DIGITS[4])),
        else_=func.substr(address, 1, COARSE_HEX_DIGITS[6]),
    )


def _contains(outer: Any, inner: Any) -> ColumnElement[bool]:
    return and_(outer.net_low <= inner.net_low, outer.net_high >= inner.net_high)


@dataclass(frozen=True, slots=True)
class CorrelatedEvent:
    """Another event sharing indicators with this one, as far as the viewer may see."""

    event_id: int
    title: str
    event_date: date
    tlp: TLP
    owner_organisation_name: str
    links: int
    sample_values: tuple[str, ...]


def correlated_events(
    session: Session, viewer: Viewer, event_id: int, limit: int = 100
) -> list[CorrelatedEvent]:
    """The events linked to `event_id` through indicators the viewer may see at both ends.

    The caller has already checked that the viewer may see `event_id` itself.
    """
    links = _visible_links(viewer).where(Correlation.event_id == event_id).subquery()
    rows = session.execute(
        select(
            links.c.other_event_id,
            func.count(),
            func.min(links.c.other_value),
        )
        .group_by(links.c.other_event_id)
        .order_by(func.count().desc(), links.c.other_event_id)
        .limit(limit)
    ).all()
    if not rows:
        return []
    other_ids = [row[0] for row in rows]
    events = {
        event.id: event for event in session.scalars(select(Event).where(Event.id.in_(other_ids)))
    }
    samples = _sample_values(session, viewer, event_id, other_ids)
    return [
        CorrelatedEvent(
            event_id=other_id,
            title=events[other_id].title,
            event_date=events[other_id].event_date,
            tlp=events[other_id].tlp,
            owner_organisation_name=events[other_id].owner_organisation.name,
            links=int(count),
            sample_values=samples.get(other_id, (first_value,)),
        )
        for other_id, count, first_value in rows
    ]


_SAMPLES_PER_EVENT = 5


def _sample_values(
    session: Session, viewer: Viewer, event_id: int, other_ids: list[int]
) -> dict[int, tuple[str, ...]]:
    links = (
        _visible_links(viewer)
        .where(Correlation.event_id == event_id, Correlation.other_event_id.in_(other_ids))
        .subquery()
    )
    ranked = select(
        links.c.other_event_id,
        links.c.my_value,
        func.row_number()
        .over(partition_by=links.c.other_event_id, order_by=links.c.my_value)
        .label("position"),
    ).subquery()
    samples: dict[int, list[str]] = {}
    for other_id, value in session.execute(
        select(ranked.c.other_event_id, ranked.c.my_value).where(
            ranked.c.position <= _SAMPLES_PER_EVENT
        )
    ):
        samples.setdefault(other_id, []).append(value)
    return {other_id: tuple(values) for other_id, values in samples.items()}


def indicator_link_counts(
    session: Session, viewer: Viewer, indicator_ids: list[int]
) -> dict[int, int]:
    """For each indicator, how many indicators of other events it is linked to (visible ones)."""
    if not indicator_ids:
        return {}
    links = _visible_links(viewer).where(Correlation.indicator_id.in_(indicator_ids)).subquery()
    rows = session.execute(
        select(links.c.indicator_id, func.count()).group_by(links.c.indicator_id)
    )
    return {indicator_id: int(count) for indicator_id, count in rows}


def _visible_links(viewer: Viewer) -> Select[int, int, int, str, str]:
    """Correlation rows whose two indicators the viewer may both see, with their values."""
    mine, other = aliased(Indicator, name="mine"), aliased(Indicator, name="other")
    my_event, other_event = aliased(Event, name="my_event"), aliased(Event, name="other_event")
    return (
        select(
            Correlation.indicator_id,
            Correlation.other_indicator_id,
            Correlation.other_event_id,
            mine.value.label("my_value"),
            other.value.label("other_value"),
        )
        .join(mine, mine.id == Correlation.indicator_id)
        .join(my_event, my_event.id == Correlation.event_id)
        .join(other, other.id == Correlation.other_indicator_id)
        .join(other_event, other_event.id == Correlation.other_event_id)
        .where(
            visible_to(viewer, indicator_access(mine, my_event)),
            visible_to(viewer, indicator_access(other, other_event)),
        )
    )


def _is_network(type_column: QueryableAttribute[IndicatorType]) -> ColumnElement[bool]:
    """`type = 'cidr'` with the value written out, not bound: PostgreSQL uses the partial
    index on networks (`ix_indicator_network_bucket`) only when the query states its
    condition, and a bound value hides it from a prepared statement's generic plan."""
    return type_column == literal_column(f"'{IndicatorType.CIDR.value}'")
