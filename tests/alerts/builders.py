"""Alerts as the pipeline leaves them, for the lifecycle's tests."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from entente.alerts.choices import AlertStatus
from entente.alerts.models import Alert
from entente.members.models import Organisation

FEED = "scan_http"
_identifiers = itertools.count(1)


def make_alert(
    session: Session,
    organisation: Organisation,
    day: date = date(2026, 11, 20),
    status: AlertStatus = AlertStatus.NEW,
    feed: str = FEED,
    identifier: str | None = None,
) -> Alert:
    """One alert of `organisation`; a fresh classification identifier unless one is given, so
    each call is a finding key of its own."""
    seen = datetime(day.year, day.month, day.day, 6, tzinfo=UTC)
    alert = Alert(
        organisation_id=organisation.id,
        day=day,
        feed_name=feed,
        taxonomy="vulnerable",
        type="vulnerable-system",
        identifier=identifier if identifier is not None else f"finding-{next(_identifiers)}",
        rows=3,
        matched_rows=0,
        first_seen=seen,
        last_seen=seen,
        samples=[],
        status=status,
    )
    session.add(alert)
    session.commit()
    return alert
