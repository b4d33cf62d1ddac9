"""Pydantic shapes of feeds and their runs (API, CLI and UI input and output)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from entente.core.errors import BadValue
from entente.pipeline.choices import FeedSourceKind, FetchOutcome, RunStatus
from entente.pipeline.parsers import parsers
from entente.pipeline.taxii_source import masked


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


class SourceStatePublic(BaseModel):
    """What the last look at the feed's source found (`entente feed fetch` / `run`)."""

    model_config = ConfigDict(from_attributes=True)

    checked_at: datetime | None = Field(description="When the source was last looked at")
    changed_at: datetime | None = Field(description="When it last gave something new")
    outcome: FetchOutcome | None = Field(description="What the last look found")
    etag: str = Field(description="The ETag the next fetch sends back (If-None-Match)")
    last_modified: str = Field(
        description="The Last-Modified the next fetch sends back (a taxii feed: added_after)"
    )
    file: str = Field(description="The last download (a file, or a directory of MISP events)")
    bytes: int = Field(description="Its size")
    error: str = Field(description="Why the last look failed, else empty")
    failures: int = Field(description="Failed looks in a row")


class FeedPublic(FeedBase):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_at: datetime
    last_run: RunPublic | None = None
    source_state: SourceStatePublic | None = None
    next_due: datetime | None = Field(
        default=None, description="When `entente feed run --due` runs it next; null: not scheduled"
    )

    @field_validator("options")
    @classmethod
    def _credentials_masked(cls, value: dict[str, Any]) -> dict[str, Any]:
        """A TAXII feed's password or token is shown as `********`, never as given."""
        return masked(value)


class LookPublic(BaseModel):
    """What a fetch found: new data or not, the files waiting to be read, the download."""

    feed: str
    outcome: FetchOutcome
    files: list[str]
    download: str | None
    bytes: int
    note: str


class FeedRunReport(BaseModel):
    """A run of a feed from its source: the look, then a run per file read (failed runs
    included, with the parser's error)."""

    look: LookPublic
    runs: list[RunPublic]
    failures: list[str]
