"""Tables of the TAXII server: collections, who may read or write them, where each writer's
objects go, and the status resources of envelopes written.

A collection stores no objects: it is a filter over the sharing space (owner organisation,
sharing group, tags, maximum TLP), and every read is further limited by the access predicate
for the caller (`collections.scope`, `objects`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from entente.core.clock import utcnow
from entente.core.db import Base, UTCDateTime, str_enum
from entente.interop.models import StixObject
from entente.sharing.models import Indicator
from entente.vocabulary.markings import TLP

# A collection is read in `date_added` order, a page after the last row read (`objects`):
# these indexes let each page start where the last ended and stop after one page of rows,
# instead of sorting everything added so far. They belong to the TAXII server's reads, so
# they are declared here, on the tables whose rows make collection objects.
STORED_DATE_ADDED_INDEX = Index(
    "ix_stix_object_imported_at_id", StixObject.imported_at, StixObject.id
)
GENERATED_DATE_ADDED_INDEX = Index("ix_indicator_created_at_id", Indicator.created_at, Indicator.id)

# TAXII 2.1 section 5.2: a collection's id is a UUID, its alias a URL-safe name.
UUID_LENGTH = 36


class TaxiiCollection(Base):
    """A TAXII collection: a named view of the events that match its filter."""

    __tablename__ = "taxii_collection"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(UUID_LENGTH), unique=True)
    alias: Mapped[str | None] = mapped_column(String(100), unique=True, nullable=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    # The filter; an empty part does not narrow. Tags are the owner's tags of the event.
    owner_organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id"), nullable=True
    )
    sharing_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("sharing_group.id"), nullable=True
    )
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_tlp: Mapped[TLP] = mapped_column(str_enum(TLP, 16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TaxiiPermission(Base):
    """What one organisation may do with a collection (TAXII `can_read`, `can_write`)."""

    __tablename__ = "taxii_permission"

    collection_id: Mapped[int] = mapped_column(
        ForeignKey("taxii_collection.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    can_read: Mapped[bool] = mapped_column(Boolean, default=True)
    can_write: Mapped[bool] = mapped_column(Boolean, default=False)


class TaxiiInbox(Base):
    """The event an organisation's envelopes posted to a collection are imported into."""

    __tablename__ = "taxii_inbox"

    collection_id: Mapped[int] = mapped_column(
        ForeignKey("taxii_collection.id", ondelete="CASCADE"), primary_key=True
    )
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)


class TaxiiStatus(Base):
    """A status resource (TAXII 2.1 section 4.3.1): the outcome of one posted envelope.

    Envelopes are processed before the response, so a status is always `complete`; the
    per-object lists are kept as JSON, written once, read whole.
    """

    __tablename__ = "taxii_status"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(UUID_LENGTH), unique=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("taxii_collection.id", ondelete="CASCADE"), index=True
    )
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    request_timestamp: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    total_count: Mapped[int] = mapped_column(Integer)
    success_count: Mapped[int] = mapped_column(Integer)
    failure_count: Mapped[int] = mapped_column(Integer)
    successes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    failures: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
