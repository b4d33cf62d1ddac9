"""Shapes shared by every capability's API: health and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel


def refuse_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL and no honest input has one: refuse it at the edge."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# Free text from a query string or path, safe to hand to any database.
PlainText = Annotated[str, AfterValidator(refuse_nul)]


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


class AuditEntryPublic(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_user_id: int | None
    action: str
    object_type: str
    object_id: str | None
    client_address: str | None
    via: str
    detail: dict[str, Any]
