"""Pydantic shapes of the collection admin API (`/api/v1/taxii/collections`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from entente.core.schemas import PlainText
from entente.members.schemas import RowId, Strict
from entente.sharing.schemas import TagText, Title
from entente.vocabulary.markings import TLP

# URL-safe, so a client may name the collection by it in the path (TAXII 2.1 section 5.2).
Alias = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")
]
MAX_PERMISSIONS = 500


class CollectionPermission(Strict):
    """What one organisation may do: read the collection, write envelopes into it."""

    organisation_id: RowId
    can_read: bool = True
    can_write: bool = False


class CollectionBase(Strict):
    description: PlainText = ""
    owner_organisation_id: RowId | None = Field(
        default=None, description="Only events of this organisation"
    )
    sharing_group_id: RowId | None = Field(
        default=None, description="Only events distributed to this sharing group"
    )
    tags: list[TagText] = Field(
        default_factory=list, max_length=100, description="Only events with one of these tags"
    )
    max_tlp: TLP = Field(default=TLP.AMBER, description="Only objects marked at most this")
    permissions: list[CollectionPermission] = Field(
        default_factory=list, max_length=MAX_PERMISSIONS
    )


class CollectionCreate(CollectionBase):
    title: Title
    alias: Alias | None = None


class CollectionUpdate(Strict):
    """Every field optional: absent leaves it as it is; `permissions` replaces the list."""

    title: Title | None = None
    alias: Alias | None = None
    description: PlainText | None = None
    owner_organisation_id: RowId | None = None
    sharing_group_id: RowId | None = None
    tags: list[TagText] | None = Field(default=None, max_length=100)
    max_tlp: TLP | None = None
    permissions: list[CollectionPermission] | None = Field(default=None, max_length=MAX_PERMISSIONS)


class CollectionPublic(BaseModel):
    id: str = Field(description="The collection's TAXII id (a UUID)")
    alias: str | None
    title: str
    description: str
    owner_organisation_id: int | None
    sharing_group_id: int | None
    tags: list[str]
    max_tlp: TLP
    permissions: list[CollectionPermission]
    created_at: datetime


class CollectionList(BaseModel):
    data: list[CollectionPublic]
    count: int
