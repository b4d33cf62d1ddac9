"""The demo partnership behind `entente demo`: invented organisations, users, groups, tokens,
and a lively sharing space between them (`demo_sharing`).

The data lives in `demo_data.toml` (TOML because the standard library reads it and people
can edit it). Loading goes through the same services as the API, so the audit log shows
every demo write, and it is idempotent: what already exists, by its unique name, is left
alone, so a second run adds nothing. Every demo user logs in with `DEMO_PASSWORD`, which is
published here on purpose, so loading refuses to run on a production hub.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.core.audit import Actor
from entente.core.config import Environment, Settings
from entente.core.errors import PermissionDenied
from entente.demo_sharing import (
    DemoEvent,
    SharingLoad,
    check_event_references,
    ensure_event,
    switch_off_warning_lists,
)
from entente.members import accounts, service
from entente.members.choices import ConstituencyKind, Role
from entente.members.constituencies import add_constituency, canonical_for, find_existing
from entente.members.constituency_schemas import ConstituencyCreate
from entente.members.models import ApiToken, Organisation, User
from entente.members.schemas import OrganisationCreate, TokenCreate, UserCreate
from entente.sharing import groups
from entente.sharing.group_schemas import GroupCreate
from entente.sharing.models import SharingGroup

# Twelve characters or more, five or more distinct ones, none of the demo usernames in it:
# it passes `accounts.check_password_strength` with the default settings.
DEMO_PASSWORD = "entente-demo-2026"


class _DemoRow(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DemoUser(_DemoRow):
    username: str
    full_name: str
    role: Role
    organisation: str  # short name of a demo organisation


class DemoSharingGroup(_DemoRow):
    name: str
    creator: str
    releasability: str
    members: list[str]


class DemoConstituency(_DemoRow):
    organisation: str  # short name of a demo organisation
    kind: ConstituencyKind
    value: str


class DemoToken(_DemoRow):
    username: str
    name: str
    days: int


class DemoData(_DemoRow):
    """The whole demo file; references between rows are checked when it is read."""

    organisations: list[OrganisationCreate]
    users: list[DemoUser]
    sharing_groups: list[DemoSharingGroup]
    tokens: list[DemoToken]
    constituencies: list[DemoConstituency] = Field(default_factory=list)
    # Switched off by the demo's first admin before any indicator is entered.
    disabled_warning_lists: list[str] = Field(default_factory=list)
    events: list[DemoEvent] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references_resolve(self) -> Self:
        short_names = {org.short_name for org in self.organisations if org.short_name}
        if len(short_names) != len(self.organisations):
            raise ValueError("every demo organisation needs a unique short_name")
        referenced = {user.organisation for user in self.users}
        referenced |= {entry.organisation for entry in self.constituencies}
        for group in self.sharing_groups:
            referenced |= {group.creator, *group.members}
        if unknown := referenced - short_names:
            raise ValueError(f"unknown organisations referenced: {sorted(unknown)}")
        if unknown := {t.username for t in self.tokens} - {u.username for u in self.users}:
            raise ValueError(f"tokens for unknown users: {sorted(unknown)}")
        if self.disabled_warning_lists and self.admin_username is None:
            raise ValueError("switching warning lists off needs a demo user with role 'admin'")
        roles = {user.username: user.role for user in self.users}
        check_event_references(self.events, roles, {group.name for group in self.sharing_groups})
        return self

    @property
    def admin_username(self) -> str | None:
        return next((user.username for user in self.users if user.role is Role.ADMIN), None)


@dataclass(frozen=True, slots=True)
class DemoLogin:
    username: str
    role: Role
    organisation: str


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token created by this run; `clear` exists nowhere else, so it is printed once."""

    username: str
    name: str
    clear: str


@dataclass(slots=True)
class DemoSummary:
    created: dict[str, int] = field(default_factory=dict)
    logins: list[DemoLogin] = field(default_factory=list)
    new_tokens: list[NewToken] = field(default_factory=list)

    def count(self, what: str, added: int = 1) -> None:
        if added:
            self.created[what] = self.created.get(what, 0) + added


StepCallback = Callable[[str], None]


def read_demo_data() -> DemoData:
    """The demo partnership shipped with the package."""
    text = resources.files("entente").joinpath("demo_data.toml").read_text("utf-8")
    return DemoData.model_validate(tomllib.loads(text))


def step_count(data: DemoData) -> int:
    """How many times `load_demo` calls its `on_step`: the total of a progress bar."""
    return (
        len(data.organisations)
        + len(data.users)
        + len(data.sharing_groups)
        + len(data.tokens)
        + len(data.constituencies)
        + len(data.events)
    )


def load_demo(session: Session, actor: Actor, data: DemoData, on_step: StepCallback) -> DemoSummary:
    """Add whatever of the demo is missing, through the services; `on_step` follows progress."""
    _refuse_in_production(session)
    summary = DemoSummary()
    organisations = {
        spec.short_name or spec.name: _ensure_organisation(session, actor, spec, summary, on_step)
        for spec in data.organisations
    }
    for user_spec in data.users:
        organisation = organisations[user_spec.organisation]
        _ensure_user(session, actor, user_spec, organisation, summary)
        summary.logins.append(
            DemoLogin(
                user_spec.username, user_spec.role, organisation.short_name or organisation.name
            )
        )
        on_step(f"user {user_spec.username}")
    for group_spec in data.sharing_groups:
        _ensure_sharing_group(session, actor, group_spec, organisations, summary)
        on_step(f"sharing group {group_spec.name}")
    for token_spec in data.tokens:
        _ensure_token(session, actor, token_spec, summary)
        on_step(f"token {token_spec.name}")
    for entry in data.constituencies:
        _ensure_constituency(session, actor, entry, organisations[entry.organisation], summary)
        on_step(f"constituency {entry.value}")
    # The sharing space is written by the demo's people themselves, each under their name.
    load = SharingLoad(session, actor.via, summary.count)
    if data.admin_username is not None:
        switch_off_warning_lists(load, data.admin_username, data.disabled_warning_lists)
    for event_spec in data.events:
        ensure_event(load, event_spec)
        on_step(f"event {event_spec.title}")
    return summary


def _ensure_constituency(
    session: Session,
    actor: Actor,
    spec: DemoConstituency,
    organisation: Organisation,
    summary: DemoSummary,
) -> None:
    value = canonical_for(session, organisation, spec.kind, spec.value).value
    if find_existing(session, organisation.id, spec.kind, value) is None:
        data = ConstituencyCreate(organisation_id=organisation.id, kind=spec.kind, value=value)
        add_constituency(session, actor, None, data)
        summary.count("constituencies")


def _refuse_in_production(session: Session) -> None:
    settings = session.info.get("settings")
    if isinstance(settings, Settings) and settings.environment is Environment.PRODUCTION:
        raise PermissionDenied(
            "the demo creates users with a published password; it never loads into production"
        )


def _ensure_organisation(
    session: Session,
    actor: Actor,
    spec: OrganisationCreate,
    summary: DemoSummary,
    on_step: StepCallback,
) -> Organisation:
    organisation = session.scalar(select(Organisation).where(Organisation.name == spec.name))
    if organisation is None:
        organisation = service.create_organisation(session, actor, spec)
        summary.count("organisations")
    on_step(f"organisation {spec.short_name}")
    return organisation


def _ensure_user(
    session: Session, actor: Actor, spec: DemoUser, organisation: Organisation, summary: DemoSummary
) -> None:
    if session.scalar(select(User.id).where(User.username == spec.username)) is not None:
        return
    data = UserCreate(
        username=spec.username,
        email=demo_email(spec.username, organisation),
        full_name=spec.full_name,
        password=DEMO_PASSWORD,
        role=spec.role,
        organisation_id=organisation.id,
    )
    accounts.create_user(session, actor, None, data)
    summary.count("users")


def demo_email(username: str, organisation: Organisation) -> str:
    """`first.last@<short-name>.example.org`: addresses that can never reach a real person."""
    domain = re.sub(r"[^a-z0-9]+", "-", (organisation.short_name or organisation.name).lower())
    return f"{username}@{domain.strip('-')}.example.org"


def _ensure_sharing_group(
    session: Session,
    actor: Actor,
    spec: DemoSharingGroup,
    organisations: dict[str, Organisation],
    summary: DemoSummary,
) -> None:
    """Through `sharing.groups`, as an operator would: a new group with its members, or the
    members a group already there is missing, each audited by the service.
    """
    members = [organisations[short_name] for short_name in spec.members]
    group = session.scalar(select(SharingGroup).where(SharingGroup.name == spec.name))
    if group is None:
        data = GroupCreate(
            name=spec.name,
            releasability=spec.releasability,
            creator_organisation_id=organisations[spec.creator].id,
            member_organisation_ids=[organisation.id for organisation in members],
        )
        group = groups.create_group(session, actor, None, data)
        summary.count("sharing groups")
        summary.count("group memberships", len(groups.member_ids(session, group)))
        return
    present = groups.member_ids(session, group)
    for organisation in members:
        if organisation.id not in present:
            groups.add_member(session, actor, None, group, organisation.id)
            summary.count("group memberships")


def _ensure_token(session: Session, actor: Actor, spec: DemoToken, summary: DemoSummary) -> None:
    owner = accounts.get_user_by_username(session, spec.username)
    exists = session.scalar(
        select(ApiToken.id).where(ApiToken.user_id == owner.id, ApiToken.name == spec.name)
    )
    if exists is not None:
        return
    _token, clear = accounts.create_token(
        session, actor, owner, TokenCreate(name=spec.name, expires_in_days=spec.days)
    )
    summary.new_tokens.append(NewToken(owner.username, spec.name, clear))
    summary.count("API tokens")
