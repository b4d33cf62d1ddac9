"""Builders of test rows through the real services, so tests exercise the same code paths."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from entente.core.audit import SYSTEM
from entente.members import accounts, service
from entente.members.choices import OrganisationType, Role
from entente.members.models import Organisation, User
from entente.members.schemas import OrganisationCreate, TokenCreate, UserCreate
from entente.sharing import groups
from entente.sharing.group_schemas import GroupCreate
from entente.sharing.models import SharingGroup

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)


def make_organisation(
    session: Session,
    member_state: str = "GH",
    type: OrganisationType = OrganisationType.NATIONAL_CERT,
    name: str | None = None,
) -> Organisation:
    name = name or f"Test CERT {next(_counter)}"
    return service.create_organisation(
        session, SYSTEM, OrganisationCreate(name=name, type=type, member_state=member_state)
    )


def make_user(
    session: Session,
    organisation: Organisation,
    role: Role = Role.ANALYST,
    username: str | None = None,
) -> User:
    username = username or f"user{next(_counter)}"
    data = UserCreate(
        username=username,
        email=f"{username}@example.org",
        password=PASSWORD,
        role=role,
        organisation_id=organisation.id,
    )
    return accounts.create_user(session, SYSTEM, None, data)


def make_token(session: Session, user: User, name: str = "test", days: int | None = None) -> str:
    _token, clear = accounts.create_token(
        session, SYSTEM, user, TokenCreate(name=name, expires_in_days=days)
    )
    return clear


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_sharing_group(
    session: Session, creator: Organisation, members: list[Organisation], name: str | None = None
) -> SharingGroup:
    """A sharing group of `creator` and `members`, made by the system as a platform admin would."""
    data = GroupCreate(
        name=name or f"Test group {next(_counter)}",
        creator_organisation_id=creator.id,
        member_organisation_ids=[organisation.id for organisation in members],
    )
    return groups.create_group(session, SYSTEM, None, data)
