"""The audit log: every write records who did what, to which object, when and from where."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime
from sqlalchemy import JSON, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from entente.core.clock import utcnow
from entente.core.db import Base, UTCDateTime
from entente.core.pagination import Order, Page, PageRequest, paginate
from entente.core.schemas import PlainText


class AuditEntry(Base):
    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id"), nullable=True, index=True
    )
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(40), index=True)
    object_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    via: Mapped[str] = mapped_column(String(8))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who performed a write and through which door (ui, api, cli, system)."""

    label: str
    via: str
    user_id: int | None = None
    client_address: str | None = None


SYSTEM = Actor(label="system", via="system")


def record(
    session: Session, actor: Actor, action: str, obj: tuple[str, object | None], **detail: Any
) -> AuditEntry:
    """Add one audit entry to the session; it commits with the write it describes."""
    object_type, object_id = obj
    entry = AuditEntry(
        at=utcnow(),
        actor_user_id=actor.user_id,
        actor=actor.label,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        client_address=actor.client_address,
        via=actor.via,
        detail=detail,
    )
    session.add(entry)
    return entry


def actions(session: Session) -> list[str]:
    """The distinct actions recorded so far, for the audit log's filter."""
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))


@dataclass(frozen=True, slots=True)
class AuditFilter:
    action: PlainText | None = None
    actor: PlainText | None = None
    object_type: PlainText | None = None
    # Aware only: a naive time is ambiguous, so it is a 422 naming the field, not a guess.
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None


def list_entries(session: Session, filters: AuditFilter, page: PageRequest) -> Page[AuditEntry]:
    """Newest first, filtered by action, actor, object type and time range."""
    query = select(AuditEntry)
    if filters.action:
        query = query.where(AuditEntry.action == filters.action)
    if filters.actor:
        query = query.where(AuditEntry.actor == filters.actor)
    if filters.object_type:
        query = query.where(AuditEntry.object_type == filters.object_type)
    if filters.since is not None:
        query = query.where(AuditEntry.at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEntry.at < filters.until)
    return paginate(session, query, [AuditEntry.id], page, Order.DESC)
