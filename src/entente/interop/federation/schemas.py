"""Pydantic shapes of federation: the peer ladder, a sync's report, and the wire envelope."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from entente.interop.federation.choices import Direction, SyncOutcome
from entente.members.choices import OrganisationType
from entente.members.schemas import Patch, Strict
from entente.vocabulary.markings import TLP

PeerName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=100)]
Token = Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=500)]
FilterItem = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# What the peer's filter names; empty means "no restriction" for organisations and tags, and
# "no sharing-group event travels" for sharing groups (docs/federation.md).
FilterList = Annotated[list[FilterItem], Field(max_length=200)]


def _base_url(value: AnyHttpUrl) -> AnyHttpUrl:
    if value.query or value.fragment:
        raise ValueError("the hub's base URL takes no query or fragment")
    return value


class PeerBase(Strict):
    name: PeerName
    base_url: AnyHttpUrl = Field(description="The other hub's address, e.g. https://hub.example")
    direction: Direction = Direction.BOTH
    organisations: FilterList = Field(default_factory=list)
    tags: FilterList = Field(default_factory=list)
    sharing_groups: FilterList = Field(default_factory=list)
    max_tlp: TLP = Field(
        default=TLP.GREEN, description="Nothing stricter is ever sent to or accepted from it"
    )
    enabled: bool = True
    remote_hub_uuid: UUID | None = Field(
        default=None, description="The peer's hub id; learned on the first sync when left out"
    )

    _check_url = field_validator("base_url")(_base_url)


class PeerCreate(PeerBase):
    api_token: Token = Field(description="The token this hub presents there; never shown back")


class PeerUpdate(Patch):
    clearable = frozenset({"remote_hub_uuid"})

    name: PeerName | None = None
    base_url: AnyHttpUrl | None = None
    api_token: Token | None = None
    direction: Direction | None = None
    organisations: FilterList | None = None
    tags: FilterList | None = None
    sharing_groups: FilterList | None = None
    max_tlp: TLP | None = None
    enabled: bool | None = None
    remote_hub_uuid: UUID | None = None

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: AnyHttpUrl | None) -> AnyHttpUrl | None:
        return None if value is None else _base_url(value)


class PeerPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    base_url: str
    token_hint: str = Field(description="The token masked: its last four characters only")
    direction: Direction
    organisations: list[str]
    tags: list[str]
    sharing_groups: list[str]
    max_tlp: TLP
    enabled: bool
    remote_hub_uuid: str | None
    pulled_until: datetime | None
    pushed_until: datetime | None
    last_sync_at: datetime | None
    last_sync_outcome: SyncOutcome | None
    last_sync_counts: dict[str, Any]
    last_sync_error: str | None
    created_at: datetime


class PeerList(BaseModel):
    data: list[PeerPublic]
    count: int


class HubInfo(BaseModel):
    hub_uuid: str


class TransferCounts(BaseModel):
    """What one direction of a sync did, event by event."""

    offered: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    looped: int = 0
    refusals: list[str] = Field(default_factory=list, description="The first 50 reasons")
    event_uuids: list[str] = Field(
        default_factory=list, description="The first 200 events written (or sent)"
    )

    def refuse(self, reason: str) -> None:
        self.refused += 1
        if len(self.refusals) < 50:
            self.refusals.append(reason)

    def note(self, event_uuid: str) -> None:
        if len(self.event_uuids) < 200:
            self.event_uuids.append(event_uuid)


class SyncResult(BaseModel):
    peer: str
    outcome: SyncOutcome
    pulled: TransferCounts | None = None
    pushed: TransferCounts | None = None
    error: str | None = None


class OriginOrganisation(BaseModel):
    uuid: UUID
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
    type: OrganisationType
    member_state: Annotated[str, StringConstraints(min_length=2, max_length=2)]


class Envelope(BaseModel):
    """Beside each `Event` on the wire: where it comes from and the hubs it has been on,
    origin first. A hub never sends an event to a hub in its chain and refuses one that
    names itself (loop prevention over any number of hubs)."""

    origin_hub: UUID
    chain: Annotated[list[UUID], Field(min_length=1, max_length=50)]
    organisation: OriginOrganisation
