"""The demo partnership: complete, idempotent, audited, and usable with its documented password."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from entente import demo
from entente.cli import app
from entente.core.audit import Actor, AuditEntry
from entente.core.config import Environment
from entente.core.db import create_db_engine, make_session_factory
from entente.core.errors import PermissionDenied
from entente.core.migrate import upgrade
from entente.members import accounts
from entente.members.choices import ItuRegion, OrganisationType, Role
from entente.members.models import ApiToken, MemberState, Organisation, User
from entente.sharing.models import SharingGroup, SharingGroupMember
from tests.conftest import BACKENDS, make_settings

ACTOR = Actor(label="cli:tester", via="cli")
COUNTED = (Organisation, User, SharingGroup, SharingGroupMember, ApiToken, AuditEntry)


@dataclass
class LoadedDemo:
    sessions: sessionmaker[Session]
    summary: demo.DemoSummary
    steps: list[str]


def row_counts(session: Session) -> dict[str, int]:
    return {
        model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
        for model in COUNTED
    }


@pytest.fixture(scope="module", params=BACKENDS)
def loaded(
    request: pytest.FixtureRequest, scratch_database: Callable[[str], str]
) -> Iterator[LoadedDemo]:
    """The demo loaded once into a fresh, migrated database of each backend."""
    settings = make_settings(scratch_database(request.param))
    engine = create_db_engine(settings)
    upgrade(engine)
    sessions = make_session_factory(engine, settings)
    steps: list[str] = []
    with sessions() as session:
        summary = demo.load_demo(session, ACTOR, demo.read_demo_data(), steps.append)
    yield LoadedDemo(sessions, summary, steps)
    engine.dispose()


def test_first_load_creates_everything_in_the_data_file(loaded: LoadedDemo) -> None:
    data = demo.read_demo_data()
    assert loaded.summary.created == {
        "organisations": len(data.organisations),
        "users": len(data.users),
        "sharing groups": len(data.sharing_groups),
        "group memberships": sum(len(group.members) for group in data.sharing_groups),
        "API tokens": len(data.tokens),
    }
    assert len(loaded.steps) == demo.step_count(data)
    assert 30 <= len(data.organisations) <= 40


def test_loading_again_adds_nothing(loaded: LoadedDemo) -> None:
    with loaded.sessions() as session:
        before = row_counts(session)
        again = demo.load_demo(session, ACTOR, demo.read_demo_data(), lambda _label: None)
        after = row_counts(session)
    assert after == before
    assert again.created == {}
    assert again.new_tokens == []
    assert [login.username for login in again.logins] == [
        login.username for login in loaded.summary.logins
    ]


def test_every_role_has_a_user(loaded: LoadedDemo) -> None:
    with loaded.sessions() as session:
        roles = set(session.scalars(select(User.role).distinct()))
    assert roles == set(Role)


def test_every_itu_region_and_organisation_type_is_represented(loaded: LoadedDemo) -> None:
    with loaded.sessions() as session:
        regions = set(session.scalars(select(MemberState.region).join(Organisation).distinct()))
        types = list(session.scalars(select(Organisation.type)))
    assert regions == set(ItuRegion)
    assert set(types) == set(OrganisationType)
    assert types.count(OrganisationType.INTERNATIONAL_ORGANISATION) == 2


def test_demo_admin_logs_in_with_the_documented_password(loaded: LoadedDemo) -> None:
    with loaded.sessions() as session:
        admin = accounts.authenticate(session, "admin", demo.DEMO_PASSWORD, "127.0.0.1")
        assert admin.role is Role.ADMIN
        reader = next(login for login in loaded.summary.logins if login.role is Role.READER)
        user = accounts.authenticate(session, reader.username, demo.DEMO_PASSWORD, "127.0.0.1")
        assert user.role is Role.READER


def test_demo_tokens_authenticate_as_their_owners(loaded: LoadedDemo) -> None:
    assert len(loaded.summary.new_tokens) == len(demo.read_demo_data().tokens)
    with loaded.sessions() as session:
        for token in loaded.summary.new_tokens:
            assert accounts.authenticate_token(session, token.clear).username == token.username


def test_africa_cert_community_holds_african_organisations_only(loaded: LoadedDemo) -> None:
    with loaded.sessions() as session:
        regions = list(
            session.scalars(
                select(MemberState.region)
                .join(Organisation)
                .join(SharingGroupMember, SharingGroupMember.organisation_id == Organisation.id)
                .join(SharingGroup)
                .where(SharingGroup.name == "Africa CERT community")
            )
        )
    assert len(regions) >= 5
    assert set(regions) == {ItuRegion.AFRICA}


def test_every_demo_write_is_audited_under_the_given_actor(loaded: LoadedDemo) -> None:
    with loaded.sessions() as session:
        by_action = dict(
            session.execute(
                select(AuditEntry.action, func.count(AuditEntry.id))
                .where(AuditEntry.actor == ACTOR.label)
                .group_by(AuditEntry.action)
            ).all()
        )
    created = loaded.summary.created
    assert by_action == {
        "organisation.create": created["organisations"],
        "user.create": created["users"],
        "sharing_group.create": created["sharing groups"],
        "sharing_group.add_member": created["group memberships"],
        "token.create": created["API tokens"],
    }


def test_demo_refuses_a_production_hub(scratch_database: Callable[[str], str]) -> None:
    settings = make_settings(
        scratch_database("sqlite"), environment=Environment.PRODUCTION, secret_key="s" * 40
    )
    engine = create_db_engine(settings)
    upgrade(engine)
    with make_session_factory(engine, settings)() as session:
        with pytest.raises(PermissionDenied, match="published password"):
            demo.load_demo(session, ACTOR, demo.read_demo_data(), lambda _label: None)
        assert session.scalar(select(func.count(User.id))) == 0
    engine.dispose()


def test_demo_data_with_a_dangling_reference_is_refused() -> None:
    data = demo.read_demo_data().model_dump()
    data["users"][0]["organisation"] = "NO-SUCH-CERT"
    with pytest.raises(ValidationError, match="NO-SUCH-CERT"):
        demo.DemoData.model_validate(data)


def test_demo_command_migrates_loads_and_prints_the_logins(
    scratch_database: Callable[[str], str],
) -> None:
    # SQLite only: the `loaded` fixture already loads into PostgreSQL, and a load costs seconds
    # (seventeen argon2 hashes).
    url = scratch_database("sqlite")  # empty: the command migrates it itself
    args = ["demo", "--no-serve", "--port", "8123", "--database-url", url]
    env = {"COLUMNS": "200", "NO_COLOR": "1"}
    first = CliRunner().invoke(app, args, env=env)
    assert first.exit_code == 0, first.output
    assert "loaded the demo" in first.stdout
    assert f"Password for every demo login: {demo.DEMO_PASSWORD}" in first.stdout
    assert "│ admin " in first.stdout and "Platform admin" in first.stdout
    assert "http://127.0.0.1:8123/" in first.stdout
    assert first.stdout.count("(shown once)") == len(demo.read_demo_data().tokens)

    second = CliRunner().invoke(app, args, env=env)
    assert second.exit_code == 0, second.output
    assert "nothing added" in second.stdout
    assert "(shown once)" not in second.stdout
