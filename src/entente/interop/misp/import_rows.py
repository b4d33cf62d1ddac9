"""An imported event's indicators and sightings, written through the sharing bulk path.

The incoming attributes are built into columns by `indicator_rows.build_rows` (validated,
canonical, de-duplicated, with decay and address ranges), flagged against the warning lists,
stored by `indicator_store.store_rows` (COPY on PostgreSQL) and correlated in one statement.
Each indicator keeps its MISP attribute UUID, unless another event's indicator holds it
already (an attribute copied between MISP events): that one gets a fresh UUID.

On an update the event's indicators become the incoming set: an indicator whose (UUID, type,
value) is not among the incoming attributes is deleted (its sightings with it), one that is
gets the incoming category, IDS flag, comment, TLP and first/last seen in one executemany.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from entente.core.clock import utcnow
from entente.interop.misp.from_misp import IncomingEvent, IncomingIndicator, Rejection
from entente.sharing import decay
from entente.sharing.correlation import correlate
from entente.sharing.indicator_rows import NewRows, build_rows, value_digest
from entente.sharing.indicator_store import store_rows
from entente.sharing.indicators import IndicatorType
from entente.sharing.models import Event, Indicator, Sighting
from entente.sharing.warninglist_settings import active_warning_lists

# UUIDs per `IN (...)` probe: well under every driver's bound-parameter limit.
_UUIDS_PER_QUERY = 2_000
_Key = tuple[IndicatorType, str]


@dataclass(frozen=True, slots=True)
class StoredCounts:
    added: int
    removed: int
    sightings: int


def store_indicators(
    session: Session, event: Event, incoming: IncomingEvent, organisation_id: int
) -> StoredCounts:
    """Make the event's indicators the incoming ones; count what was added and removed."""
    now = utcnow()
    by_key = _first_by_key(incoming.indicators)
    removed = _remove_departed(session, event, by_key)
    _update_kept(session, event, by_key)
    built = build_rows(
        event, [item.item for item in incoming.indicators], now, decay.base_score(incoming.tags)
    )
    for rejection in built.rejected:
        place = incoming.indicators[rejection.index].place
        field = (rejection.field or "").partition(".")[2] or "value"
        incoming.rejected.append(Rejection(f"{place}.{field}", rejection.value, rejection.message))
    _keep_uuids(session, built.rows, by_key)
    hits = active_warning_lists(session).match_many(
        built.rows.columns["type"], built.rows.columns["value"]
    )
    built.rows.columns["warning_lists"] = [",".join(names) for names in hits]
    outcome = store_rows(session, event.id, built.rows)
    stored = outcome.added
    if stored:
        correlate(session, event.id, stored[0][0], stored[-1][0], outcome.same_values)
    sightings = _store_sightings(session, event, by_key, organisation_id, now)
    return StoredCounts(added=len(stored), removed=removed, sightings=sightings)


def _first_by_key(indicators: list[IncomingIndicator]) -> dict[_Key, IncomingIndicator]:
    """The first incoming attribute of each (type, value): the one an event keeps."""
    by_key: dict[_Key, IncomingIndicator] = {}
    for indicator in indicators:
        key = (indicator.item.type, value_digest(indicator.item.value))
        by_key.setdefault(key, indicator)
    return by_key


def _held(session: Session, event: Event) -> list[tuple[int, str, IndicatorType, str]]:
    """(id, uuid, type, digest) of each indicator the event holds now."""
    rows = session.execute(
        select(Indicator.id, Indicator.uuid, Indicator.type, Indicator.value_digest).where(
            Indicator.event_id == event.id
        )
    )
    return [(indicator_id, uuid, kind, digest) for indicator_id, uuid, kind, digest in rows]


def _remove_departed(session: Session, event: Event, by_key: dict[_Key, IncomingIndicator]) -> int:
    """Delete the event's indicators that the incoming version no longer holds."""
    departed = [
        indicator_id
        for indicator_id, uuid, kind, digest in _held(session, event)
        if (incoming := by_key.get((kind, digest))) is None
        or (incoming.uuid is not None and incoming.uuid != uuid)
    ]
    for start in range(0, len(departed), _UUIDS_PER_QUERY):
        chunk = departed[start : start + _UUIDS_PER_QUERY]
        session.execute(delete(Sighting).where(Sighting.indicator_id.in_(chunk)))
        session.execute(delete(Indicator).where(Indicator.id.in_(chunk)))
    return len(departed)


def _update_kept(session: Session, event: Event, by_key: dict[_Key, IncomingIndicator]) -> None:
    """The kept indicators take the incoming attributes' details, in one executemany."""
    params: list[dict[str, Any]] = []
    for indicator_id, _, kind, digest in _held(session, event):
        item = by_key[(kind, digest)].item
        params.append(
            {
                "b_id": indicator_id,
                "category": item.category or kind.default_category,
                "to_ids": item.to_ids,
                "comment": item.comment,
                "tlp": item.tlp or event.tlp,
                "first_seen": item.first_seen,
                "last_seen": item.last_seen,
            }
        )
    if params:
        table = cast(Table, Indicator.__table__)
        statement = update(table).where(table.c.id == bindparam("b_id"))
        session.execute(statement, params)


def _keep_uuids(session: Session, rows: NewRows, by_key: dict[_Key, IncomingIndicator]) -> None:
    """Give each new row its MISP attribute's UUID where no other indicator holds it yet."""
    keys = rows.keys()
    wanted = [by_key[key].uuid if key in by_key else None for key in keys]
    taken: set[str] = set()
    candidates = sorted({uuid for uuid in wanted if uuid})
    for start in range(0, len(candidates), _UUIDS_PER_QUERY):
        chunk = candidates[start : start + _UUIDS_PER_QUERY]
        taken.update(session.scalars(select(Indicator.uuid).where(Indicator.uuid.in_(chunk))))
    columns = rows.columns["uuid"]
    for position, uuid in enumerate(wanted):
        if uuid and uuid not in taken:
            columns[position] = uuid
            taken.add(uuid)


def _store_sightings(
    session: Session,
    event: Event,
    by_key: dict[_Key, IncomingIndicator],
    organisation_id: int,
    now: datetime,
) -> int:
    """Sightings of the incoming attributes not stored before, reported by the importer."""
    wanted = [(key, s) for key, indicator in by_key.items() for s in indicator.sightings]
    if not wanted:
        return 0
    ids = {(kind, digest): i for i, _, kind, digest in _held(session, event)}
    stored = session.execute(
        select(Sighting.indicator_id, Sighting.kind, Sighting.observed_at, Sighting.source)
        .join(Indicator, Indicator.id == Sighting.indicator_id)
        .where(Indicator.event_id == event.id, Sighting.organisation_id == organisation_id)
    )
    present = {(i, kind, at, source) for i, kind, at, source in stored}
    rows = []
    for key, sighting in wanted:
        indicator_id = ids.get(key)
        if indicator_id is None or sighting.observed_at > now:
            continue
        identity = (indicator_id, sighting.kind, sighting.observed_at, sighting.source)
        if identity in present:
            continue
        present.add(identity)
        rows.append(
            {
                "indicator_id": indicator_id,
                "organisation_id": organisation_id,
                "kind": sighting.kind,
                "source": sighting.source,
                "count": 1,
                "observed_at": sighting.observed_at,
                "created_at": now,
            }
        )
    if rows:
        session.execute(insert(Sighting), rows)
    return len(rows)
