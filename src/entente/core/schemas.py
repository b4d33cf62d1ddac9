"""Shapes shared by every capability's API: health and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


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
