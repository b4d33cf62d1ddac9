"""Alerts: one row per organisation, day, feed and classification, counting the findings.

The pipeline adds to these rows set-based after each stored batch (`alerts.service`); the
findings themselves stay in the columnar event store, so an alert holds counts, the time
span and a few sample rows, not millions of rows.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from entente.alerts.choices import AlertStatus
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
