"""Pydantic input and output shapes of sharing groups (never ORM objects on the wire)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from entente.core.schemas import PlainText
from entente.members.schemas import Patch, RowId, Strict

GroupName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
Releasability = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]

# A group of every organisation of the hub is "all members" distribution, not a group; the
# bound keeps one request from naming an unbounded list.
MAX_INITIAL_MEMBERS = 1000


class GroupCreate(Strict):
    name: GroupName = Field(description="Unique across the hub (case-insensitive)")
    releasability: Releasability = Field(
        default="", description="Who the group's data may be passed on to, in plain words"
    )
    creator_organisation_id: RowId | None = Field(
        default=None,
        description="The organisation that manages the group; default: the caller's own. "
        "Only platform admins may name another organisation.",
    )
    member_organisation_ids: list[RowId] = Field(
        default_factory=list,
        max_length=MAX_INITIAL_MEMBERS,
        description="Further member organisations; the creator is always a member",
    )


class GroupUpdate(Patch):
    name: GroupName | None = None
    releasability: Releasability | None = None


class GroupMemberPublic(BaseModel):
    id: int
    name: str
    member_state: str = Field(description="ISO 3166-1 alpha-2 code of the member state")


class GroupPublic(BaseModel):
    id: int
    name: str
    releasability: str
    creator_organisation_id: int
    creator_organisation_name: str
    created_at: datetime
    member_count: int
    members: list[GroupMemberPublic] = Field(description="Member organisations, by name")


@dataclass(frozen=True, slots=True)
class GroupFilter:
    q: PlainText | None = None
    organisation_id: RowId | None = None
