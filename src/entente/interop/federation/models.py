"""Tables of federation: this hub's identity, its peers, and where federated events came from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from entente.core.clock import utcnow
from entente.core.db import Base, UTCDateTime, str_enum
from entente.interop.federation.choices import Direction, SyncOutcome
from entente.vocabulary.markings import TLP


class HubIdentity(Base):
    """One row: this hub's stable id, made on first use and never changed.

    A table rather than a setting: the id must survive a lost configuration file, and two
    hubs restored from the same settings must not share it (a shared id would make each
    refuse the other's events as its own).
    """

    __tablename__ = "federation_hub"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hub_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Peer(Base):
    """Another hub this one syncs with, and the agreement that bounds what travels.

    `api_token` is the token this hub presents there; Entente must send it, so it is kept as
    given (protect the database as the tokens themselves) and never shown back or logged.
    The cursors are each hub's own clock: `pulled_until` the peer's, `pushed_until` ours.
    """

    __tablename__ = "federation_peer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    base_url: Mapped[str] = mapped_column(String(500))
    api_token: Mapped[str] = mapped_column(String(500))
    direction: Mapped[Direction] = mapped_column(str_enum(Direction, 8))
    organisations: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    sharing_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_tlp: Mapped[TLP] = mapped_column(str_enum(TLP, 16))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    remote_hub_uuid: Mapped[str | None] = mapped_column(String(36), unique=True, nullable=True)
    pulled_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    pushed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_sync_outcome: Mapped[SyncOutcome | None] = mapped_column(
        str_enum(SyncOutcome, 16), nullable=True
    )
    last_sync_counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_sync_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RemoteOrganisation(Base):
    """A local organisation record standing for an organisation of another hub (as MISP's
    non-local organisations): keyed by the origin hub and the organisation's id there, never
    by name, so a peer cannot make its events owned by one of this hub's members."""

    __tablename__ = "federation_remote_organisation"
    __table_args__ = (
        UniqueConstraint(
            "origin_hub_uuid",
            "origin_organisation_uuid",
            name="uq_federation_remote_organisation_origin",
        ),
    )

    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True
    )
    origin_hub_uuid: Mapped[str] = mapped_column(String(36))
    origin_organisation_uuid: Mapped[str] = mapped_column(String(36))
    origin_organisation_name: Mapped[str] = mapped_column(String(200))


class FederatedEvent(Base):
    """Where an event received from a peer came from: its origin hub and owner, the hubs it
    passed through, the peer that delivered it last and when (`received_at` is what a sync
    onward compares, since the event's own time is the origin's)."""

    __tablename__ = "federation_event"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), primary_key=True
    )
    origin_hub_uuid: Mapped[str] = mapped_column(String(36), index=True)
    origin_organisation_uuid: Mapped[str] = mapped_column(String(36))
    origin_organisation_name: Mapped[str] = mapped_column(String(200))
    hub_chain: Mapped[list[str]] = mapped_column(JSON, default=list)
    received_from_peer_id: Mapped[int | None] = mapped_column(
        ForeignKey("federation_peer.id", ondelete="SET NULL"), nullable=True, index=True
    )
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
