"""Tables of member states, organisations, users, API tokens, login attempts and constituencies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from entente.core.clock import utcnow
from entente.core.db import Base, UTCDateTime, str_enum
from entente.members.choices import (
    ConstituencyKind,
    ItuRegion,
    OrganisationType,
    ReportFormat,
    Role,
)


class MemberState(Base):
    """An ITU member state, identified by its ISO 3166-1 alpha-2 code."""

    __tablename__ = "member_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alpha2: Mapped[str] = mapped_column(String(2), unique=True)
    alpha3: Mapped[str] = mapped_column(String(3), unique=True)
    numeric: Mapped[str] = mapped_column(String(3))
    name: Mapped[str] = mapped_column(String(120))
    region: Mapped[ItuRegion] = mapped_column(str_enum(ItuRegion), index=True)

    organisations: Mapped[list[Organisation]] = relationship(back_populates="member_state")


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    short_name: Mapped[str | None] = mapped_column(String(40))
    type: Mapped[OrganisationType] = mapped_column(str_enum(OrganisationType), index=True)
    member_state_id: Mapped[int] = mapped_column(ForeignKey("member_state.id"), index=True)
    website: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    member_state: Mapped[MemberState] = relationship(back_populates="organisations")
    users: Mapped[list[User]] = relationship(back_populates="organisation")


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(str_enum(Role))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    organisation: Mapped[Organisation] = relationship(back_populates="users")
    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored, so a database dump reveals no usable token."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship(back_populates="tokens")


class LoginAttempt(Base):
    """Failed logins, counted per username and per client address to slow password guessing."""

    __tablename__ = "login_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    client_address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Constituency(Base):
    """One thing an organisation is responsible for: a prefix, an AS number, a domain, a country.

    `value` is canonical text (members/constituency_values.py), so the unique constraint
    catches the same prefix spelt twice. `sort_key` lists the kinds in routing order and each
    kind naturally (prefixes by address, AS numbers by number, domains parent first);
    prefixes also keep their first and last address as 32 hex digits, as indicators do, so
    "which prefixes cover this address" is two string comparisons on any database.
    """

    __tablename__ = "constituency"
    __table_args__ = (UniqueConstraint("kind", "value", "organisation_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    kind: Mapped[ConstituencyKind] = mapped_column(str_enum(ConstituencyKind, 16))
    value: Mapped[str] = mapped_column(String(255))
    sort_key: Mapped[str] = mapped_column(String(255), index=True)
    net_low: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    net_high: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship()


class ConstituencyContact(Base):
    """Where an organisation's alerts go: for its whole constituency, or for one entry of it.

    A contact with a `constituency_id` receives what is routed through that entry; one
    without receives everything else of the organisation (see `contacts_of_constituency`).
    """

    __tablename__ = "constituency_contact"
    __table_args__ = (UniqueConstraint("organisation_id", "constituency_id", "email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    constituency_id: Mapped[int | None] = mapped_column(
        ForeignKey("constituency.id", ondelete="CASCADE"), nullable=True, index=True
    )
    email: Mapped[str] = mapped_column(String(254))
    # The full 40-hex-digit OpenPGP v4 fingerprint, upper case: short key ids can be forged.
    pgp_fingerprint: Mapped[str | None] = mapped_column(String(40), nullable=True)
    preferred_format: Mapped[ReportFormat] = mapped_column(str_enum(ReportFormat, 16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship()
    constituency: Mapped[Constituency | None] = relationship()
