"""Tables of the sharing space: sharing groups, events, their published versions, indicators."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeEngine

from entente.core.access import AccessControlled
from entente.core.clock import utcnow
from entente.core.db import Base, UTCDateTime, str_enum
from entente.members.models import Organisation
from entente.sharing.choices import AnalysisState, CorrelationKind, SightingKind, ThreatLevel
from entente.sharing.indicators.types import Category, IndicatorType
from entente.vocabulary.markings import TLP


def _hex(length: int) -> TypeEngine[str]:
    """A hex string compared byte by byte: PostgreSQL's default collation would compare it
    with locale rules (strcoll), which made the digest and address-range indexes and joins
    several times slower to write and read. SQLite compares bytes already."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


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
    # backend, where a long URL or subject would overflow a PostgreSQL B-tree entry. Only
    # equality ever asks it, so PostgreSQL keeps it as a hash index: a quarter of the
    # B-tree's size (36 against 131 MB for a million indicators) and cheaper to write.
    # Correlation finds the networks of a bucket (or the bucketless wide ones): a bucket
    # holds many addresses but few networks, so only the networks are indexed (1 MB, where
    # indexing every row by type, bucket and address took 60; see `sharing.correlation`).
    __table_args__ = (
        Index("ix_indicator_value_digest", "value_digest", postgresql_using="hash"),
        Index(
            "ix_indicator_network_bucket",
            "net_bucket",
            "net_low",
            postgresql_where=text("type = 'cidr'"),
            sqlite_where=text("type = 'cidr'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    type: Mapped[IndicatorType] = mapped_column(str_enum(IndicatorType))
    value: Mapped[str] = mapped_column(Text)
    value_digest: Mapped[str] = mapped_column(_hex(64))
    category: Mapped[Category] = mapped_column(str_enum(Category))
    to_ids: Mapped[bool] = mapped_column(Boolean, default=False)
    comment: Mapped[str] = mapped_column(Text, default="")
    tlp: Mapped[TLP] = mapped_column(str_enum(TLP, 16))
    first_seen: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The address range of an ip or cidr value as fixed-width hex (IPv4 mapped into
    # ::ffff:0:0/96), so containment is a string range comparison on every backend; the
    # bucket narrows it to an equality join (see `sharing.indicators.addresses`).
    net_low: Mapped[str | None] = mapped_column(_hex(32), nullable=True, index=True)
    net_high: Mapped[str | None] = mapped_column(_hex(32), nullable=True)
    net_bucket: Mapped[str | None] = mapped_column(_hex(32), nullable=True)
    # Names of the warning lists the value hit when it was entered, comma-separated.
    warning_lists: Mapped[str] = mapped_column(String(500), default="")
    # Decay (`sharing.decay`): the score starts at `base_score` at `decay_from` and halves
    # every half-life of the type; `expires_at` is when it falls below the threshold.
    base_score: Mapped[int] = mapped_column(SmallInteger, default=100)
    decay_from: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)

    event: Mapped[Event] = relationship(back_populates="indicators")

    @property
    def warning_list_names(self) -> list[str]:
        return [name for name in self.warning_lists.split(",") if name]


class Sighting(Base):
    """A member's report that it saw an indicator (or found it a false positive, or expired)."""

    __tablename__ = "sighting"
    __table_args__ = (Index("ix_sighting_indicator_id_observed_at", "indicator_id", "observed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True)
    kind: Mapped[SightingKind] = mapped_column(str_enum(SightingKind))
    source: Mapped[str] = mapped_column(String(200), default="")
    count: Mapped[int] = mapped_column(Integer, default=1)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EventTag(Base):
    """A tag on an event. The owner organisation's tags are shared with the event; another
    organisation's tags are its own local labels, seen by nobody else (MISP's local tags).
    """

    __tablename__ = "event_tag"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Correlation(Base):
    """A link between indicators of two different events, stored in both directions.

    Rows are written set-based when indicators are added (`sharing.correlation`); reads
    filter the other side through the access predicate, so a link to an event the viewer
    may not see is never shown, nor counted.
    """

    __tablename__ = "correlation"

    # No foreign keys: two key checks per link row were a quarter of the cost of writing
    # links, and every read joins both indicators (through the access predicate), so a link
    # whose indicator is gone is never read. The event ids are copies of the indicators'
    # own, kept for per-event reads.
    indicator_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    other_indicator_id: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)
    event_id: Mapped[int] = mapped_column(Integer, index=True)
    other_event_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[CorrelationKind] = mapped_column(str_enum(CorrelationKind, 16))


class WarningListSetting(Base):
    """An admin's override of a shipped warning list's `enabled` switch."""

    __tablename__ = "warning_list_setting"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
