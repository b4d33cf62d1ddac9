"""Alerts: one row per organisation, day, feed and classification, counting the findings.

The pipeline adds to these rows set-based after each stored batch (`alerts.service`); the
findings themselves stay in the columnar event store, so an alert holds counts, the time
span and a few sample rows, not millions of rows.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from entente.alerts.choices import AlertStatus, TimelineKind
from entente.core.clock import utcnow
from entente.core.db import Base, UTCDateTime, str_enum


class Alert(Base):
    __tablename__ = "alert"
    __table_args__ = (
        UniqueConstraint(
            "organisation_id",
            "day",
            "feed_name",
            "taxonomy",
            "type",
            "identifier",
            name="uq_alert_finding",
        ),
        Index("ix_alert_organisation_id_day", "organisation_id", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date, index=True)
    feed_name: Mapped[str] = mapped_column(String(100))
    # Classification per RSIT (`classification.taxonomy/type/identifier`); "" when absent, so
    # the unique key holds on every backend (NULLs never conflict).
    taxonomy: Mapped[str] = mapped_column(String(60), default="")
    type: Mapped[str] = mapped_column(String(60), default="")
    identifier: Mapped[str] = mapped_column(String(120), default="")
    rows: Mapped[int] = mapped_column(Integer, default=0)
    matched_rows: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    samples: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[AlertStatus] = mapped_column(str_enum(AlertStatus, 16), default=AlertStatus.NEW)
    # A user of the alert's organisation who works on it (alerts.actions.assign).
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AlertTimelineEntry(Base):
    """One change to an alert: a status change, an assignment, a comment or a return.

    Written with every change and never edited, so the timeline answers who did what, when,
    from which value to which and why. `actor` keeps the name even if the user is deleted;
    automatic transitions are by "system".
    """

    __tablename__ = "alert_timeline_entry"
    __table_args__ = (Index("ix_alert_timeline_entry_alert_id_at", "alert_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[TimelineKind] = mapped_column(str_enum(TimelineKind, 16))
    # Status values for STATUS and RETURNED, user names for ASSIGNMENT ("" = nobody).
    from_value: Mapped[str] = mapped_column(String(100), default="")
    to_value: Mapped[str] = mapped_column(String(100), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    # A comment's Markdown as written; sanitised when rendered (core.markdown).
    body: Mapped[str] = mapped_column(Text, default="")
