"""Pydantic shapes of STIX import requests and results."""

from __future__ import annotations

from pydantic import BaseModel, Field

from entente.members.schemas import RowId, Strict
from entente.sharing.schemas import Title
from entente.vocabulary.markings import TLP, Distribution

# A result lists at most this many rejected objects; the count is always whole.
MAX_LISTED_REJECTIONS = 1_000


class NewEventTarget(Strict):
    """Import into a new event of the caller's organisation.

    TLP: this one if given, else the TLP marking of the bundle's report or grouping when it
    comes early in the file (within the first batch), else TLP:AMBER. Distribution defaults
    to the own organisation only: what a bundle may be shared with is for a person to say.
    """

    title: Title
    tlp: TLP | None = None
    distribution: Distribution = Distribution.ORGANISATION
    sharing_group_id: RowId | None = None


class StixRejection(BaseModel):
    index: int = Field(description="Position of the object in the bundle's `objects`, from 0")
    object_id: str | None = Field(description="The object's STIX id, when it has a readable one")
    field: str | None = Field(description="The property at fault")
    message: str


class StixImportResult(BaseModel):
    event_id: int
    created_event: bool = Field(description="A new event was made for the bundle")
    objects_read: int
    indicators_added: int = Field(description="New Entente indicators made from patterns")
    indicator_duplicates: int = Field(description="Values the event already held")
    objects_stored: int = Field(description="STIX objects stored for the first time")
    objects_updated: int = Field(description="Stored objects replaced by a newer `modified`")
    objects_unchanged: int = Field(description="Already stored at this version (or newer)")
    objects_skipped: int = Field(description="Official TLP 2.0 markings, which Entente writes")
    rejected: list[StixRejection] = Field(description="The first 1,000 objects not imported")
    rejected_count: int
