"""Query parameters of the member lists, declared once for the API, the UI and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from entente.core.schemas import PlainText
from entente.members.choices import ConstituencyKind, ItuRegion, OrganisationType, Role
from entente.members.schemas import RowId


@dataclass(frozen=True, slots=True)
class MemberStateFilter:
    region: ItuRegion | None = None
    q: PlainText | None = None


@dataclass(frozen=True, slots=True)
class OrganisationFilter:
    member_state: PlainText | None = None
    type: OrganisationType | None = None
    region: ItuRegion | None = None
    q: PlainText | None = None


@dataclass(frozen=True, slots=True)
class UserFilter:
    organisation_id: RowId | None = None
    role: Role | None = None
    q: PlainText | None = None


@dataclass(frozen=True, slots=True)
class ConstituencyFilter:
    """`q` is what a value covers or looks like: an address finds the prefixes containing it,
    a host name the domains above it, AS64496 that AS, any other text a part of a value."""

    organisation_id: RowId | None = None
    kind: ConstituencyKind | None = None
    q: PlainText | None = None


@dataclass(frozen=True, slots=True)
class ContactFilter:
    organisation_id: RowId | None = None
    constituency_id: RowId | None = None
