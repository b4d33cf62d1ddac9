"""Sightings: members report that they saw an indicator, found it a false positive, or expired.

Any member that may see an indicator may report on it. Who reported is shown only to the
indicator's owner and to the reporter itself: a member's "we saw this in our network" is
itself sensitive. Everyone who sees the indicator sees the sums and the timeline.

A sighting feeds decay (`decay.py`): "seen" restarts the clock from the time observed,
"false positive" halves the base score, "expired" ends the indicator's matching life now.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from entente.core import audit
from entente.core.access import Viewer, visible_to
from entente.core.clock import utcnow
from entente.core.errors import BadValue
from entente.core.pagination import Order, Page, PageRequest, paginate
from entente.members.accounts import Principal
from entente.members.models import Organisation
from entente.sharing import decay
from entente.sharing.choices import SightingKind
from entente.sharing.models import Event, Indicator, Sighting
from entente.sharing.permissions import require_writer
from entente.sharing.queries import INDICATOR_ACCESS
from entente.sharing.schemas import SightingCreate, SightingPublic, SightingSummary, TimelinePoint


def add_sighting(
    session: Session, principal: Principal, indicator: Indicator, data: SightingCreate
) -> Sighting:
    """Record a sighting of an indicator the caller can see (the caller has loaded it so)."""
    require_writer(principal)
    now = utcnow()
    observed_at = data.observed_at or now
    if observed_at > now:
        raise BadValue("a sighting cannot be in the future", field="observed_at", value=None)
    sighting = Sighting(
        indicator_id=indicator.id,
        organisation_id=principal.user.organisation_id,
        user_id=principal.user.id,
        kind=data.kind,
        source=data.source,
        count=data.count,
        observed_at=observed_at,
        created_at=now,
    )
    session.add(sighting)
    _refresh_decay(indicator, data.kind, observed_at)
    audit.record(
        session,
        principal.actor(),
        "sighting.add",
        ("indicator", indicator.id),
        kind=data.kind.value,
        count=data.count,
    )
    session.commit()
    return sighting


def _refresh_decay(indicator: Indicator, kind: SightingKind, observed_at: datetime) -> None:
    if kind is SightingKind.EXPIRED:
        indicator.expires_at = observed_at
        return
    if kind is SightingKind.SEEN:
        indicator.decay_from = max(indicator.decay_from, observed_at)
        indicator.expires_at = decay.expiry(
            indicator.type, indicator.base_score, indicator.decay_from
        )
        return
    indicator.base_score = indicator.base_score // 2
    halved = decay.expiry(indicator.type, indicator.base_score, indicator.decay_from)
    # A false positive only shortens a life: one already ended ("expired") stays ended.
    indicator.expires_at = _earlier(indicator.expires_at, halved)


def _earlier(first: datetime | None, second: datetime | None) -> datetime | None:
    """The earlier of two expiry times, None meaning never."""
    if first is None or second is None:
        return second if first is None else first
    return min(first, second)


def sighting_public(sighting: Sighting, reporter: str | None) -> SightingPublic:
    return SightingPublic(
        id=sighting.id,
        indicator_id=sighting.indicator_id,
        kind=sighting.kind,
        source=sighting.source,
        count=sighting.count,
        observed_at=sighting.observed_at,
        organisation_name=reporter,
    )


def list_sightings(
    session: Session, viewer: Viewer, indicator: Indicator, page: PageRequest
) -> Page[SightingPublic]:
    """Sightings of a visible indicator, newest first; reporters named only where allowed."""
    query = select(Sighting).where(Sighting.indicator_id == indicator.id)
    result = paginate(session, query, [Sighting.id], page, Order.DESC)
    owner_id = indicator.event.owner_organisation_id
    names = _organisation_names(session, {s.organisation_id for s in result.items})
    items = [
        sighting_public(
            sighting,
            names[sighting.organisation_id]
            if viewer.organisation_id in (owner_id, sighting.organisation_id)
            else None,
        )
        for sighting in result.items
    ]
    return Page(items, result.next_cursor, result.count)


def _organisation_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(Organisation.id, Organisation.name).where(Organisation.id.in_(sorted(ids)))
    )
    return {organisation_id: name for organisation_id, name in rows}


def summary(session: Session, indicator_id: int) -> SightingSummary:
    """Sums of one indicator's sightings, zero where there are none."""
    found = summaries(session, [indicator_id]).get(indicator_id)
    return found or SightingSummary(
        indicator_id=indicator_id,
        seen=0,
        false_positive=0,
        expired=0,
        first_sighted_at=None,
        last_sighted_at=None,
    )


def summaries(session: Session, indicator_ids: list[int]) -> dict[int, SightingSummary]:
    """Sums per kind for indicators the caller has already loaded for its viewer."""
    if not indicator_ids:
        return {}

    def total(kind: SightingKind) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((Sighting.kind == kind, Sighting.count), else_=0)), 0)

    rows = session.execute(
        select(
            Sighting.indicator_id,
            total(SightingKind.SEEN),
            total(SightingKind.FALSE_POSITIVE),
            total(SightingKind.EXPIRED),
            func.min(Sighting.observed_at),
            func.max(Sighting.observed_at),
        )
        .where(Sighting.indicator_id.in_(indicator_ids))
        .group_by(Sighting.indicator_id)
    )
    return {
        row[0]: SightingSummary(
            indicator_id=row[0],
            seen=int(row[1]),
            false_positive=int(row[2]),
            expired=int(row[3]),
            first_sighted_at=row[4],
            last_sighted_at=row[5],
        )
        for row in rows
    }


def event_timeline(session: Session, viewer: Viewer, event: Event) -> list[TimelinePoint]:
    """Sightings per day and kind of the event's indicators the viewer may see, for a chart."""
    day = _observed_day(session)
    rows = session.execute(
        select(day, Sighting.kind, func.sum(Sighting.count))
        .join(Indicator, Indicator.id == Sighting.indicator_id)
        .join(Event, Event.id == Indicator.event_id)
        .where(Indicator.event_id == event.id, visible_to(viewer, INDICATOR_ACCESS))
        .group_by(day, Sighting.kind)
        .order_by(day, Sighting.kind)
    )
    return [
        TimelinePoint(day=_as_date(raw_day), kind=kind, count=int(count))
        for raw_day, kind, count in rows
    ]


def _observed_day(session: Session) -> ColumnElement[Any]:
    """The UTC calendar day a sighting was observed on, as every time in the API is UTC."""
    # PostgreSQL's date() of a timestamptz takes the session's time zone, so a server set to
    # another zone would move late sightings to the next day; SQLite stores UTC text already.
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", Sighting.observed_at))
    return func.date(Sighting.observed_at)


def _as_date(raw: object) -> date:
    # SQLite's date() returns text, PostgreSQL's a date.
    return raw if isinstance(raw, date) else date.fromisoformat(str(raw))
