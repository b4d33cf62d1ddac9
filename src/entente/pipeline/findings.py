"""What a member reads of the pipeline: its alerts, and its stored findings summed per day
and per source country (the findings page's table, trend chart and map).

Findings concern one member's networks and are routed to that member alone; they are not
shared objects under TLP (see `alerts.service.visible_alerts`). A member's users read their
own organisation's; the hub's operators (admin role) read every member's, as they run the
feeds. Every read here takes that scope from the principal, never from a parameter, so no
filter can widen it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from entente.alerts.choices import AlertStatus
from entente.alerts.models import Alert
from entente.alerts.service import all_alerts, visible_alerts
from entente.core.clock import utcnow
from entente.core.errors import BadValue
from entente.core.pagination import Order, Page, PageRequest, paginate
from entente.members.accounts import Principal
from entente.members.choices import Role
from entente.members.models import Organisation
from entente.pipeline.filters import AlertFilter, FindingsFilter
from entente.pipeline.store import EventFilters, EventStore

FINDINGS_DAYS = 30
"""The charts' default span: the last 30 days, today included."""
MAX_SUMMARY_DAYS = 3660
"""About ten years: a longer range is a typo, and the trend chart would have a bar a day."""
COUNTRY = "source.geolocation.cc"


class AlertPublic(BaseModel):
    """One alert: the findings of one day, report and classification for one member."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    organisation_id: int
    organisation_name: str = ""
    day: date
    feed_name: str
    taxonomy: str
    type: str
    identifier: str
    rows: int
    matched_rows: int
    first_seen: datetime
    last_seen: datetime
    samples: list[dict[str, Any]]
    status: AlertStatus


class DayCount(BaseModel):
    day: date
    count: int


class CountryCount(BaseModel):
    country: str | None
    count: int


class FindingsSummary(BaseModel):
    """Stored findings in a day range: per UTC day (every day listed, empty ones as 0) and
    per source country (most first; `null`: no country known)."""

    day_from: date
    day_to: date
    total: int
    days: list[DayCount]
    countries: list[CountryCount]


def sees_every_member(principal: Principal) -> bool:
    """The hub's operators read every member's findings; everyone else their own."""
    return principal.user.role is Role.ADMIN


def alerts_for(principal: Principal) -> Select[Alert]:
    """The alerts the principal may read (see the module docstring)."""
    return all_alerts() if sees_every_member(principal) else visible_alerts(principal.viewer)


def list_alerts(
    session: Session, principal: Principal, filters: AlertFilter, page: PageRequest
) -> Page[AlertPublic]:
    """The principal's alerts matching the filters, newest first."""
    _check_days(filters.day_from, filters.day_to)
    query = _filtered(alerts_for(principal), filters)
    # Keyed by id alone: core.pagination's cursors cannot carry a date or a UTCDateTime
    # key yet (they come back as text), which (day, id) or (last_seen, id) would need.
    found = paginate(session, query, (Alert.id,), page, Order.DESC)
    return Page(alert_publics(session, found.items), found.next_cursor, found.count)


def _filtered(query: Select[Alert], filters: AlertFilter) -> Select[Alert]:
    if filters.day_from is not None:
        query = query.where(Alert.day >= filters.day_from)
    if filters.day_to is not None:
        query = query.where(Alert.day <= filters.day_to)
    for column, value in (
        (Alert.feed_name, filters.feed),
        (Alert.taxonomy, filters.taxonomy),
        (Alert.type, filters.type),
        (Alert.status, filters.status),
    ):
        if value is not None:
            query = query.where(column == value)
    return query


def alert_publics(session: Session, alerts: list[Alert]) -> list[AlertPublic]:
    """Alerts with their organisation's name, read in one query for the whole page."""
    ids = {alert.organisation_id for alert in alerts}
    rows = session.execute(
        select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))
    )
    names = {organisation_id: name for organisation_id, name in rows}
    return [
        AlertPublic.model_validate(alert).model_copy(
            update={"organisation_name": names.get(alert.organisation_id, "")}
        )
        for alert in alerts
    ]


def has_alerts(session: Session, principal: Principal) -> bool:
    """Whether any alert reached the principal at all (else the page explains routing)."""
    readable = alerts_for(principal).with_only_columns(Alert.id).limit(1)
    return session.scalar(readable) is not None


def alert_choices(session: Session, principal: Principal) -> dict[str, list[str]]:
    """The reports, taxonomies and types among the principal's alerts: the filter's options."""
    readable = alerts_for(principal).subquery()
    return {
        name: list(
            session.scalars(
                select(readable.c[column])
                .where(readable.c[column] != "")
                .distinct()
                .order_by(readable.c[column])
            )
        )
        for name, column in (("feed", "feed_name"), ("taxonomy", "taxonomy"), ("type", "type"))
    }


def findings_summary(
    store: EventStore, principal: Principal, filters: FindingsFilter
) -> FindingsSummary:
    """The principal's stored findings per day and per source country (see FindingsSummary)."""
    day_to = filters.day_to or utcnow().date()
    # Clamped at date.min, so a day_to in year 1 is a short range, not an overflow.
    span = min(FINDINGS_DAYS - 1, (day_to - date.min).days)
    day_from = filters.day_from or day_to - timedelta(days=span)
    _check_days(day_from, day_to)
    if (day_to - day_from).days >= MAX_SUMMARY_DAYS:
        raise BadValue(
            f"the day range spans more than {MAX_SUMMARY_DAYS} days",
            field="day_from",
            value=day_from,
        )
    scope = EventFilters(
        day_from=day_from,
        day_to=day_to,
        feed=filters.feed,
        organisation_id=None if sees_every_member(principal) else principal.user.organisation_id,
    )
    days = _every_day(store.daily_counts(scope), day_from, day_to)
    countries = store.by_country(scope).rename({COUNTRY: "country"})
    return FindingsSummary(
        day_from=day_from,
        day_to=day_to,
        total=int(days["count"].sum()),
        days=[DayCount.model_validate(row) for row in days.to_dicts()],
        countries=[CountryCount.model_validate(row) for row in countries.to_dicts()],
    )


def _every_day(daily: pl.DataFrame, day_from: date, day_to: date) -> pl.DataFrame:
    """The counts with the days that had none as 0, so the trend chart shows the gaps."""
    calendar = pl.DataFrame({"day": pl.date_range(day_from, day_to, "1d", eager=True)})
    return calendar.join(daily, on="day", how="left").with_columns(pl.col("count").fill_null(0))


def country_counts(summary: FindingsSummary) -> dict[str, float]:
    """Findings per ISO 3166 alpha-2 code, as the world map's metric reads them."""
    return {item.country: float(item.count) for item in summary.countries if item.country}


def _check_days(day_from: date | None, day_to: date | None) -> None:
    if day_from is not None and day_to is not None and day_from > day_to:
        raise BadValue(
            f"day_to ({day_to}) is before day_from ({day_from})", field="day_to", value=day_to
        )
