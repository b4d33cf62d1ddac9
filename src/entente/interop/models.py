"""Tables of the interop capability: STIX objects kept as they came, linked to events.

An imported bundle becomes Entente data where Entente has a shape for it (an indicator
whose pattern is a simple comparison becomes typed indicators); every object is also kept
here as its JSON text, so exporting the event gives back the same ids, timestamps,
markings, labels and external references (`stix_export`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from entente.core.clock import utcnow
from entente.core.db import Base, UTCDateTime, str_enum
from entente.interop.choices import StixRole
from entente.vocabulary.markings import TLP

# The longest STIX id: a type of up to 250 characters, "--" and a UUID (STIX 2.1 section 2.9).
MAX_STIX_ID = 300


class StixObject(Base):
    """One STIX object (its latest version) held by an event.

    It reaches the event's audience narrowed by `tlp`, the stricter of the event's TLP and
    the TLP markings the object carries (`interop.markings.object_tlp`); reads check both
    (`stix_export.stored_visible`), so an object is never looser than its event, even after
    the event's TLP is tightened.
    """

    __tablename__ = "stix_object"
    # Exports read an event's objects in id order, a chunk after the last id: this index
    # seeks there (the unique one, ordered by STIX id, made every chunk read the whole event).
    __table_args__ = (
        UniqueConstraint("event_id", "stix_id"),
        Index("ix_stix_object_event_id_id", "event_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    stix_id: Mapped[str] = mapped_column(String(MAX_STIX_ID))
    type: Mapped[str] = mapped_column(String(250))
    spec_version: Mapped[str] = mapped_column(String(8))
    # Cyber observables have neither; a newer `modified` replaces the stored version.
    created: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    modified: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    role: Mapped[StixRole] = mapped_column(str_enum(StixRole, 16))
    tlp: Mapped[TLP] = mapped_column(str_enum(TLP, 16))
    # The object as compact JSON text, written out as it is: exporting tens of thousands of
    # kept objects (an ATT&CK import) then costs no parse and no re-serialisation.
    body: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StixIndicatorLink(Base):
    """An Entente indicator made from a stored STIX object (a pattern may OR several values)."""

    __tablename__ = "stix_indicator_link"

    stix_object_id: Mapped[int] = mapped_column(
        ForeignKey("stix_object.id", ondelete="CASCADE"), primary_key=True
    )
    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("indicator.id", ondelete="CASCADE"), primary_key=True, index=True
    )
