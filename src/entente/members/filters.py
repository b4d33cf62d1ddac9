"""Query parameters of the member lists, declared once for the API, the UI and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from entente.members.choices import ItuRegion, OrganisationType, Role


@dataclass(frozen=True, slots=True)
class MemberStateFilter:
    region: ItuRegion | None = None
    q: str | None = None


@dataclass(frozen=True, slots=True)
class OrganisationFilter:
    member_state: str | None = None
    type: OrganisationType | None = None
    region: ItuRegion | None = None
    q: str | None = None


@dataclass(frozen=True, slots=True)
class UserFilter:
    organisation_id: int | None = None
    role: Role | None = None
    q: str | None = None
