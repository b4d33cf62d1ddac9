"""Query parameters of the pipeline's lists, declared once for the API and the UI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from entente.alerts.choices import AlertStatus
from entente.core.schemas import PlainText


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Days are inclusive UTC days of the findings; `feed` is the report an alert counts
    (a Shadowserver feed names each report, `scan_http`, ...), `taxonomy` and `type` its
    RSIT classification."""

    day_from: date | None = None
    day_to: date | None = None
    feed: PlainText | None = None
    taxonomy: PlainText | None = None
    type: PlainText | None = None
    status: AlertStatus | None = None


@dataclass(frozen=True, slots=True)
class FindingsFilter:
    """Which stored findings the charts sum: a day range (default: the last 30 days) and a
    report."""

    day_from: date | None = None
    day_to: date | None = None
    feed: PlainText | None = None


@dataclass(frozen=True, slots=True)
class QuarantineFilter:
    """`feed` is the feed that put the row aside, `field` the field it was refused for, `q`
    text searched in the raw row, the reason and the file name."""

    feed: PlainText | None = None
    field: PlainText | None = None
    q: PlainText | None = None
