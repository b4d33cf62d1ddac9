"""Pydantic shapes of a MISP import's report."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

# The report lists at most this many events and rejections; the counts are always whole.
MAX_LISTED = 1_000


class MispOutcome(StrEnum):
    IMPORTED = "imported"  # a new event
    UPDATED = "updated"  # a newer version of an event imported before
    UNCHANGED = "unchanged"  # the same or an older version: nothing written
    REFUSED = "refused"  # not importable: see `rejected`


class MispRejection(BaseModel):
    source: str = Field(description="The file, or file and position, the event came from")
    event_uuid: str | None
    field: str | None = Field(description="The MISP field at fault, e.g. Event.Attribute[3].value")
    value: str | None
    message: str


class MispEventOutcome(BaseModel):
    source: str
    uuid: str | None
    event_id: int | None
    outcome: MispOutcome
    indicators_added: int = 0
    indicators_removed: int = 0
    sightings_added: int = 0


class MispImportResult(BaseModel):
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    indicators_added: int = 0
    events: list[MispEventOutcome] = Field(
        default_factory=list, description=f"The first {MAX_LISTED:,} events"
    )
    rejected: list[MispRejection] = Field(
        default_factory=list, description=f"The first {MAX_LISTED:,} parts not imported"
    )
    rejected_count: int = 0

    def record(self, outcome: MispEventOutcome) -> None:
        """Count one event's outcome and list it while the list has room."""
        setattr(self, outcome.outcome.value, getattr(self, outcome.outcome.value) + 1)
        self.indicators_added += outcome.indicators_added
        if len(self.events) < MAX_LISTED:
            self.events.append(outcome)

    def reject(self, rejection: MispRejection) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_LISTED:
            self.rejected.append(rejection)
