"""Pydantic shapes of shared events and indicators."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from entente.members.schemas import RowId, Strict
from entente.sharing.choices import AnalysisState, SightingKind, ThreatLevel
from entente.sharing.indicators import Category, IndicatorType
from entente.vocabulary.markings import TLP, Distribution

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]
Markdown = Annotated[str, StringConstraints(max_length=100_000)]
Comment = Annotated[str, StringConstraints(max_length=5_000)]
TagText = Annotated[str, StringConstraints(min_length=1, max_length=255)]

# At most this many indicators in one request; larger sets go through the bulk importers.
MAX_INDICATORS_PER_REQUEST = 10_000


class EventCreate(Strict):
    title: Title
    description: Markdown = ""
    event_date: date
    threat_level: ThreatLevel = ThreatLevel.UNDEFINED
    analysis: AnalysisState = AnalysisState.INITIAL
    tlp: TLP
    distribution: Distribution
    sharing_group_id: RowId | None = None
    recipient_organisation_ids: list[RowId] = Field(default_factory=list, max_length=500)
    tags: list[TagText] = Field(default_factory=list, max_length=100)


class EventUpdate(Strict):
    title: Title | None = None
    description: Markdown | None = None
    event_date: date | None = None
    threat_level: ThreatLevel | None = None
    analysis: AnalysisState | None = None
    tlp: TLP | None = None
    distribution: Distribution | None = None
    sharing_group_id: RowId | None = None


class EventPublic(BaseModel):
    id: int
    uuid: str
    title: str
    description: str
    event_date: date
    threat_level: ThreatLevel
    analysis: AnalysisState
    tlp: TLP
    distribution: Distribution
    sharing_group_id: int | None
    owner_organisation_id: int
    owner_organisation_name: str
    owner_member_state: str = Field(description="ISO 3166 alpha-2 of the owner's member state")
    published: bool
    version: int
    indicator_count: int
    tags: list[str] = Field(description="The owner's tags, and your organisation's own")
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None


class EventVersionPublic(BaseModel):
    version: int
    published_at: datetime
    published_by: str
    title: str
    indicator_count: int


class IndicatorCreate(Strict):
    type: IndicatorType
    value: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    category: Category | None = Field(
        default=None, description="Defaults to the type's usual category"
    )
    to_ids: bool = False
    comment: Comment = ""
    tlp: TLP | None = Field(default=None, description="Defaults to the event's; never looser")
    first_seen: AwareDatetime | None = None
    last_seen: AwareDatetime | None = None


class IndicatorBatch(Strict):
    indicators: list[IndicatorCreate] = Field(min_length=1, max_length=MAX_INDICATORS_PER_REQUEST)


class IndicatorPublic(BaseModel):
    id: int
    uuid: str
    event_id: int
    type: IndicatorType
    value: str
    category: Category
    to_ids: bool
    comment: str
    tlp: TLP
    first_seen: datetime | None
    last_seen: datetime | None
    created_at: datetime
    score: int = Field(description="Decay score 0-100 now; 0 once expired")
    expires_at: datetime | None = Field(description="When it leaves matching; null: never")
    warning_lists: list[str] = Field(description="Known-benign lists the value hit on entry")


class IndicatorRejection(BaseModel):
    index: int
    field: str | None
    value: str | None
    message: str


class IndicatorBatchResult(BaseModel):
    added: list[IndicatorPublic] = Field(description="The first 1,000 added, in input order")
    added_count: int
    duplicates: int = Field(description="Values already in the event, not added again")
    rejected: list[IndicatorRejection]


class TagCreate(Strict):
    tag: TagText


class SightingCreate(Strict):
    kind: SightingKind = SightingKind.SEEN
    source: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    count: int = Field(default=1, ge=1, le=1_000_000_000)
    observed_at: AwareDatetime | None = Field(default=None, description="Defaults to now")


class SightingPublic(BaseModel):
    id: int
    indicator_id: int
    kind: SightingKind
    source: str
    count: int
    observed_at: datetime
    organisation_name: str | None = Field(
        description="Shown to the indicator's owner and the reporter only; null otherwise"
    )


class SightingSummary(BaseModel):
    """Sightings of one indicator, summed per kind, with the first and last time seen."""

    indicator_id: int
    seen: int
    false_positive: int
    expired: int
    first_sighted_at: datetime | None
    last_sighted_at: datetime | None


class TimelinePoint(BaseModel):
    day: date
    kind: SightingKind
    count: int


class CorrelatedEventPublic(BaseModel):
    event_id: int
    title: str
    event_date: date
    tlp: TLP
    owner_organisation_name: str
    links: int = Field(description="Linked indicator pairs you may see")
    sample_values: list[str]
