"""Tables of the sharing space: sharing groups, events, their published versions, indicators."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from entente.core.access import AccessControlled
from entente.core.clock import utcnow
from entente.core.db import Base, UTCDateTime, str_enum
from entente.members.models import Organisation
from entente.sharing.choices import AnalysisState, ThreatLevel
from entente.sharing.indicators.types import Category, IndicatorType
from entente.vocabulary.markings import TLP


class SharingGroup(Base):
    __tablename__ = "sharing_group"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    releasability: Mapped[str] = mapped_column(Text, default="")
    creator_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SharingGroupMember(Base):
    __tablename__ = "sharing_group_member"

    sharing_group_id: Mapped[int] = mapped_column(
        ForeignKey("sharing_group.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Event(AccessControlled, Base):
    """A reported threat or incident: the unit members share, with indicators inside.

    `version` counts publications: publishing freezes the current state as an
    `EventVersion`; an edit after publishing marks the event as having unpublished changes
    until it is published again as the next version.
    """

    __tablename__ = "event"
    __access_type__ = "event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    event_date: Mapped[date] = mapped_column(Date, index=True)
    threat_level: Mapped[ThreatLevel] = mapped_column(str_enum(ThreatLevel))
    analysis: Mapped[AnalysisState] = mapped_column(str_enum(AnalysisState))
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    owner_organisation: Mapped[Organisation] = relationship(lazy="joined")
    indicators: Mapped[list[Indicator]] = relationship(
        back_populates="event", order_by="Indicator.id"
    )


class EventVersion(Base):
    """A frozen copy of an event as it was published, for the visible history."""

    __tablename__ = "event_version"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by: Mapped[str] = mapped_column(String(100))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)


class Indicator(Base):
    """A typed, canonical observable inside an event.

    It inherits its event's audience (owner, distribution, sharing group, recipients) and
    may only tighten the TLP; `access.indicator_columns` combines the two for queries.
    """

    __tablename__ = "indicator"
    # Exact lookups go through a digest of the value: a fixed 64 bytes indexes on every
    # backend, where a long URL or subject would overflow a PostgreSQL B-tree entry.
    __table_args__ = (Index("ix_indicator_type_value_digest", "type", "value_digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    type: Mapped[IndicatorType] = mapped_column(str_enum(IndicatorType))
    value: Mapped[str] = mapped_column(Text)
    value_digest: Mapped[str] = mapped_column(String(64), index=True)
    category: Mapped[Category] = mapped_column(str_enum(Category))
    to_ids: Mapped[bool] = mapped_column(Boolean, default=False)
    comment: Mapped[str] = mapped_column(Text, default="")
    tlp: Mapped[TLP] = mapped_column(str_enum(TLP, 16))
    first_seen: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    event: Mapped[Event] = relationship(back_populates="indicators")
