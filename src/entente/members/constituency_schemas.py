"""Pydantic input and output shapes of constituencies, their contacts and their imports."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, EmailStr, Field, StringConstraints

from entente.members.choices import ConstituencyKind, ReportFormat
from entente.members.constituency_values import MAX_VALUE_LENGTH, canonical_fingerprint
from entente.members.schemas import RowId, Strict

ConstituencyValue = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_VALUE_LENGTH)
]
Fingerprint = Annotated[str, AfterValidator(canonical_fingerprint)]


class ImportFormat(StrEnum):
    """What an import reads: our CSV, or RPSL objects as the RIPE database exports them."""

    CSV = "csv"
    RIPE = "ripe"

    @property
    def label(self) -> str:
        return "CSV" if self is ImportFormat.CSV else "RIPE database objects (RPSL)"


class ConstituencyCreate(Strict):
    organisation_id: RowId
    kind: ConstituencyKind
    value: ConstituencyValue = Field(
        description="192.0.2.0/24, 2001:db8::/32, AS64496 or 64496, example.org, or an "
        "alpha-2 country code (national CERTs, their own country). Stored in canonical form."
    )


class ConstituencyPublic(BaseModel):
    id: int
    organisation_id: int
    organisation_name: str
    kind: ConstituencyKind
    value: str
    created_at: datetime


class ContactCreate(Strict):
    organisation_id: RowId
    email: EmailStr
    pgp_fingerprint: Fingerprint | None = Field(
        default=None, description="40 hex digits; spaces and colons are dropped"
    )
    preferred_format: ReportFormat = ReportFormat.CSV
    constituency_id: RowId | None = Field(
        default=None,
        description="Only for alerts routed through this entry of the organisation's "
        "constituency; leave out for the whole organisation",
    )


class ContactPublic(BaseModel):
    id: int
    organisation_id: int
    organisation_name: str
    constituency_id: int | None
    constituency: str | None = Field(description="The entry's value, or null for all of them")
    email: str
    pgp_fingerprint: str | None
    preferred_format: ReportFormat
    created_at: datetime


class ImportedRow(BaseModel):
    line: int = Field(description="1-based line of the input the row comes from")
    organisation_id: int
    kind: ConstituencyKind
    value: str = Field(description="The canonical value")


class RejectedRow(BaseModel):
    line: int
    field: str | None = Field(description="What is wrong: organisation, kind, value, ...")
    value: str
    reason: str


class ImportReport(BaseModel):
    """What an import did; it only ever adds, so nothing stored before is lost."""

    format: ImportFormat
    added: list[ImportedRow]
    duplicates: list[ImportedRow] = Field(
        description="Already stored, or repeated in the input: nothing to add"
    )
    rejected: list[RejectedRow] = Field(description="Rows that could not be used, with why")
    contacts_added: int
    ignored_objects: int = Field(
        default=0, description="RPSL objects of other classes (person, mntner, ...)"
    )
