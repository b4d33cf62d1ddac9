"""Pydantic shapes of feeds and their runs (API, CLI and UI input and output)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from entente.core.errors import BadValue
from entente.pipeline.choices import FeedSourceKind, RunStatus
from entente.pipeline.parsers import parsers


class FeedBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parser: str = Field(description="parser name: see docs/feeds.md (`entente feed parsers`)")
    source_kind: FeedSourceKind = FeedSourceKind.UPLOAD
    source: str = Field(default="", max_length=2000)
    options: dict[str, Any] = Field(default_factory=dict)
    interval_minutes: int | None = Field(default=None, ge=5, le=7 * 24 * 60)
    enabled: bool = True
    provider: str = Field(default="", max_length=100)
    description: str = Field(default="", max_length=2000)

    @field_validator("parser")
    @classmethod
    def _known_parser(cls, value: str) -> str:
        if value not in parsers():
            known = ", ".join(sorted(parsers()))
            raise BadValue(f"unknown parser {value!r}; known: {known}", field="parser", value=value)
        return value


class FeedCreate(FeedBase):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")


class RunPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    file: str
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    rows_in: int
    rows_stored: int
    duplicates: int
    quarantined: int
    unrouted: int
    matched: int
    seconds: float
    rows_per_second: float
    error: str


class FeedPublic(FeedBase):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_at: datetime
    last_run: RunPublic | None = None
