"""What the alert lifecycle's API reads and returns: transitions, assignments, comments, bulk
actions, the timeline and an alert's detail."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from entente.alerts.choices import AlertStatus, TimelineKind
from entente.core.schemas import PlainText
from entente.pipeline.findings import AlertPublic

MAX_COMMENT_CHARS = 10_000
MAX_REASON_CHARS = 2_000
MAX_BULK_ALERTS = 1_000
"""A bulk action changes at most this many alerts; narrow the filter for more."""

Reason = Annotated[str, Field(max_length=MAX_REASON_CHARS)]


class TransitionRequest(BaseModel):
    """Move an alert to `to`; reopening (from remediated, closed or false positive) needs a
    `reason`."""

    model_config = ConfigDict(extra="forbid")

    to: AlertStatus
    reason: Reason = ""


class AssignRequest(BaseModel):
    """Assign the alert to a user of its organisation, or to nobody (`null`)."""

    model_config = ConfigDict(extra="forbid")

    assignee_id: int | None = Field(default=None, ge=1)


class CommentCreate(BaseModel):
    """A comment in Markdown; rendered sanitised (no HTML, no scripts)."""

    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=MAX_COMMENT_CHARS)

    @model_validator(mode="after")
    def _not_blank(self) -> CommentCreate:
        if not self.body.strip():
            raise ValueError("a comment cannot be blank")
        return self


class BulkAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    CLOSE = "close"
    ASSIGN = "assign"


class BulkFilter(BaseModel):
    """Which alerts a bulk action takes: every readable alert matching all given fields (at
    least one must be given, so no bulk action takes every alert by accident)."""

    model_config = ConfigDict(extra="forbid")

    ids: list[Annotated[int, Field(ge=1)]] | None = Field(default=None, max_length=MAX_BULK_ALERTS)
    day_from: date | None = None
    day_to: date | None = None
    feed: PlainText | None = None
    taxonomy: PlainText | None = None
    type: PlainText | None = None
    status: AlertStatus | None = None

    @model_validator(mode="after")
    def _something_given(self) -> BulkFilter:
        if all(value is None for value in self.model_dump().values()):
            raise ValueError("give ids or at least one filter field")
        return self


class BulkRequest(BaseModel):
    """One action on every alert the filter matches; all or nothing."""

    model_config = ConfigDict(extra="forbid")

    action: BulkAction
    filter: BulkFilter
    assignee_id: int | None = Field(default=None, ge=1)
    reason: Reason = ""


class BulkReport(BaseModel):
    action: BulkAction
    changed: int
    alert_ids: list[int]


class TimelineEntryPublic(BaseModel):
    """One change: who, when, what (from -> to), why; a comment's Markdown in `body`."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    alert_id: int
    at: datetime
    actor: str
    kind: TimelineKind
    from_value: str
    to_value: str
    reason: str
    body: str


class AlertDetail(AlertPublic):
    """An alert with who works on it and what the viewer may do with it."""

    assignee_id: int | None = None
    assignee_username: str | None = None
    allowed_statuses: list[AlertStatus] = []
    may_change: bool = False
