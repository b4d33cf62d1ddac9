"""The demo partnership: complete, idempotent, audited, and usable with its documented password."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from entente import demo
from entente.alerts.models import Alert
from entente.cli import app
from entente.core.audit import Actor, AuditEntry
from entente.core.config import Environment
from entente.core.db import create_db_engine, make_session_factory
from entente.core.errors import PermissionDenied
from entente.core.migrate import upgrade
from entente.members import accounts
from entente.members.choices import ItuRegion, OrganisationType, Role
from entente.members.models import ApiToken, MemberState, Organisation, User
from entente.sharing import correlation, sightings
from entente.sharing.choices import CorrelationKind
from entente.sharing.models import (
    Correlation,
    Event,
    EventTag,
    EventVersion,
    Indicator,
    SharingGroup,
    SharingGroupMember,
    Sighting,
    WarningListSetting,
)
from entente.sharing.queries import visible_events
from tests.conftest import BACKENDS, make_settings
from tests.test_cli import db_session

ACTOR = Actor(label="cli:tester", via="cli")
COUNTED = (
    Organisation,
    User,
    SharingGroup,
    SharingGroupMember,
    ApiToken,
    AuditEntry,
    Event,
    Indicator,
    EventTag,
    EventVersion,
    Sighting,
    Correlation,
    WarningListSetting,
)


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
        "group memberships": sum(
            len({group.creator, *group.members}) for group in data.sharing_groups
        ),
        "API tokens": len(data.tokens),
        "constituencies": len(data.constituencies),
        "warning lists switched off": len(data.disabled_warning_lists),
        "events": len(data.events),
        "indicators": sum(len(e.indicators) + len(e.second_version) for e in data.events),
        "tags": sum(len(event.tags) for event in data.events),
        "publications": sum(event.publish + bool(event.second_version) for event in data.events),
        "sightings": sum(len(s.days_ago) for event in data.events for s in event.sightings),
    }
    assert len(loaded.steps) == demo.step_count(data)
    assert 30 <= len(data.organisations) <= 40
    assert 20 <= len(data.events) <= 30


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


def test_every_demo_write_is_audited_under_the_given_actor_or_its_author(
    loaded: LoadedDemo,
) -> None:
    usernames = {user.username for user in demo.read_demo_data().users}
    with loaded.sessions() as session:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.action, func.count(AuditEntry.id)).group_by(
                AuditEntry.actor, AuditEntry.action
            )
        ).all()
        group_entries = list(
            session.scalars(select(AuditEntry).where(AuditEntry.action == "sharing_group.create"))
        )
    by_operator = {action: count for actor, action, count in rows if actor == ACTOR.label}
    by_people: Counter[str] = Counter()
    for actor, action, count in rows:
        # Logins come from the login test sharing this loaded demo, not from loading it.
        if actor != ACTOR.label and action != "user.login":
            assert actor in usernames, actor
            by_people[action] += count
    created = loaded.summary.created
    # The partnership is set up by the operator running the command...
    assert by_operator == {
        "organisation.create": created["organisations"],
        "user.create": created["users"],
        "sharing_group.create": created["sharing groups"],
        "token.create": created["API tokens"],
        "constituency.add": created["constituencies"],
    }
    # ...each group created with its members by `sharing.groups`, which names them...
    assert (
        sum(len(entry.detail["members"]) for entry in group_entries)
        == (created["group memberships"])
    )
    # ...and the sharing space by the demo's people, each write under its author's name.
    data = demo.read_demo_data()
    assert dict(by_people) == {
        "warninglist.switch": created["warning lists switched off"],
        "event.create": created["events"],
        "indicator.add": len(data.events) + sum(bool(e.second_version) for e in data.events),
        "event.tag": created["tags"],
        "event.publish": created["publications"],
        "sighting.add": created["sightings"],
    }


def test_the_sharing_space_spans_regions_and_correlates_for_an_analyst(
    loaded: LoadedDemo,
) -> None:
    analyst = next(u for u in demo.read_demo_data().users if u.role is Role.ANALYST)
    with loaded.sessions() as session:
        regions = set(
            session.scalars(
                select(MemberState.region)
                .join(Organisation)
                .join(Event, Event.owner_organisation_id == Organisation.id)
                .distinct()
            )
        )
        kinds = set(session.scalars(select(Correlation.kind).distinct()))
        viewer = accounts.load_viewer(
            session, accounts.get_user_by_username(session, analyst.username)
        )
        visible = list(session.scalars(visible_events(viewer).order_by(Event.id)))
        linked = {
            event.id: correlation.correlated_events(session, viewer, event.id) for event in visible
        }
    assert len(regions) >= 3
    assert kinds == set(CorrelationKind)  # equal values and CIDR containment
    assert len(visible) >= 10
    assert sum(1 for links in linked.values() if links) >= 3


def test_members_sighted_others_indicators_over_the_last_month(loaded: LoadedDemo) -> None:
    with loaded.sessions() as session:
        days = set(session.scalars(select(func.date(Sighting.observed_at)).distinct()))
        own = session.scalar(
            select(func.count(Sighting.id))
            .join(Indicator, Indicator.id == Sighting.indicator_id)
            .join(Event, Event.id == Indicator.event_id)
            .where(Sighting.organisation_id == Event.owner_organisation_id)
        )
        busiest = session.scalars(
            select(Event)
            .join(Indicator, Indicator.event_id == Event.id)
            .join(Sighting, Sighting.indicator_id == Indicator.id)
            .group_by(Event.id)
            .order_by(func.count(func.distinct(func.date(Sighting.observed_at))).desc())
        ).first()
        assert busiest is not None
        owner = accounts.load_viewer(
            session,
            session.scalars(
                select(User).where(User.organisation_id == busiest.owner_organisation_id)
            ).first(),
        )
        timeline = sightings.event_timeline(session, owner, busiest)
    assert len(days) >= 15
    assert own == 0
    assert len({point.day for point in timeline}) >= 4


def test_published_versions_and_a_few_warning_list_hits(loaded: LoadedDemo) -> None:
    with loaded.sessions() as session:
        second_versions = session.scalar(
            select(func.count()).select_from(EventVersion).where(EventVersion.version == 2)
        )
        drafts = session.scalar(select(func.count(Event.id)).where(Event.version == 0))
        flagged = list(
            session.scalars(select(Indicator.value).where(Indicator.warning_lists != ""))
        )
        indicators = session.scalar(select(func.count(Indicator.id))) or 0
    assert second_versions and second_versions >= 3
    assert drafts and drafts >= 2
    # Documentation addresses would all hit "special-ranges", switched off for the demo.
    assert 1 <= len(flagged) <= indicators // 10
    assert "8.8.8.8" in flagged


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


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda event: event.update(author="camila.rojas"), "may write"),  # a reader
        (lambda event: event.update(sharing_group="No such group"), "No such group"),
        (lambda event: event["sightings"][0].update(value="192.0.2.254"), "not listed"),
        (lambda event: event["sightings"][0].update(days_ago=[99]), "before it"),
    ],
)
def test_demo_events_with_a_bad_reference_are_refused(
    change: Callable[[dict[str, Any]], None], message: str
) -> None:
    data = demo.read_demo_data().model_dump()
    change(data["events"][0])
    with pytest.raises(ValidationError, match=message):
        demo.DemoData.model_validate(data)


def test_demo_command_migrates_loads_and_prints_the_logins(
    scratch_database: Callable[[str], str], tmp_path: Path
) -> None:
    # SQLite only: the `loaded` fixture already loads into PostgreSQL, and a load costs seconds
    # (seventeen argon2 hashes).
    url = scratch_database("sqlite")  # empty: the command migrates it itself
    args = ["demo", "--no-serve", "--port", "8123", "--database-url", url]
    env = {"COLUMNS": "200", "NO_COLOR": "1", "ENTENTE_DATA_DIR": str(tmp_path)}
    first = CliRunner().invoke(app, args, env=env)
    assert first.exit_code == 0, first.output
    assert "loaded the demo" in first.stdout
    assert "constituencies" in first.stdout
    assert re.search(r"\b[1-9][0-9]* findings\b", first.stdout), first.stdout
    assert f"Password for every demo login: {demo.DEMO_PASSWORD}" in first.stdout
    assert "│ admin " in first.stdout and "Platform admin" in first.stdout
    assert "http://127.0.0.1:8123/" in first.stdout
    assert first.stdout.count("(shown once)") == len(demo.read_demo_data().tokens)

    second = CliRunner().invoke(app, args, env=env)
    assert second.exit_code == 0, second.output
    assert "nothing added" in second.stdout
    assert "(shown once)" not in second.stdout
    # The sample reports were routed: the Ghanaian national CERT has alerts to act on.
    with db_session(url) as session:
        gh = session.scalar(select(Organisation).where(Organisation.short_name == "CERT-GH"))
        assert gh is not None
        routed = session.scalar(select(func.sum(Alert.rows)).where(Alert.organisation_id == gh.id))
    assert routed and routed > 0
