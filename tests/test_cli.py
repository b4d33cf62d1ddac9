"""The `entente` CLI end to end: real commands against migrated SQLite and PostgreSQL databases."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from entente.cli import app, hoist_global_options
from entente.core.audit import AuditEntry
from entente.core.db import create_db_engine, make_session_factory
from entente.core.errors import NotAuthenticated
from entente.core.migrate import upgrade
from entente.members import accounts
from entente.members.choices import Role
from entente.members.models import Organisation, User
from entente.members.reference_data import read_member_states
from tests.conftest import BACKENDS, make_settings

# Wide and colourless, so table rows come out one per line and can be parsed.
ENV = {"COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"}
STRONG = "a long pass phrase for tests"
runner = CliRunner()


def run(url: str, *args: str, input: str | None = None) -> Result:
    return runner.invoke(app, ["--database-url", url, *args], input=input, env=ENV)


def table_rows(output: str) -> list[list[str]]:
    """The body rows of a rich table (headers use heavy lines, body rows light ones)."""
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in output.splitlines()
        if line.startswith("│")
    ]


@contextmanager
def db_session(url: str) -> Iterator[Session]:
    settings = make_settings(url)
    engine = create_db_engine(settings)
    try:
        with make_session_factory(engine, settings)() as session:
            yield session
    finally:
        engine.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def url(request: pytest.FixtureRequest, scratch_database: Callable[[str], str]) -> str:
    """A migrated database shared by this module's tests, which each use names of their own."""
    database_url = scratch_database(request.param)
    engine = create_db_engine(make_settings(database_url))
    upgrade(engine)
    engine.dispose()
    return database_url


def create_org(url: str, name: str, country: str = "GH") -> Result:
    return run(url, "org", "create", name, "--type", "national_cert", "--country", country)


def create_user(url: str, username: str, org: str, role: str = "analyst") -> Result:
    return run(
        url,
        "user",
        "create",
        username,
        "--email",
        f"{username}@example.org",
        "--org",
        org,
        "--role",
        role,
        "--password",
        STRONG,
    )


# ---- member states ---------------------------------------------------------------------


def test_member_list_shows_all_194_member_states(url: str) -> None:
    result = run(url, "member", "list")
    assert result.exit_code == 0, result.output
    rows = table_rows(result.stdout)
    assert len(rows) == 194
    assert {row[0] for row in rows} == {state["alpha2"] for state in read_member_states()}
    assert "194 member states" in result.stdout


def test_member_list_filters_by_region_and_text(url: str) -> None:
    cis = table_rows(run(url, "member", "list", "--region", "cis").stdout)
    assert len(cis) == 10
    assert {row[3] for row in cis} == {"CIS"}
    assert [row[0] for row in table_rows(run(url, "member", "list", "--q", "ghana").stdout)] == [
        "GH"
    ]


def test_member_show_accepts_alpha3_and_refuses_unknown_codes(url: str) -> None:
    shown = run(url, "member", "show", "gha")
    assert shown.exit_code == 0, shown.output
    assert "Ghana (GH / GHA / 288)" in shown.stdout
    unknown = run(url, "member", "show", "ZZ")
    assert unknown.exit_code == 2
    assert "no ITU member state with code 'ZZ'" in unknown.stderr


# ---- organisations ---------------------------------------------------------------------


def test_org_create_then_list_and_the_write_is_audited(url: str) -> None:
    created = run(
        url,
        "org",
        "create",
        "Listed Test CERT",
        "--type",
        "sector_cert",
        "--country",
        "ke",
        "--short-name",
        "LT-CERT",
    )
    assert created.exit_code == 0, created.output
    rows = table_rows(run(url, "org", "list", "--country", "KE", "--type", "sector_cert").stdout)
    assert ["Listed Test CERT", "LT-CERT", "Sector CERT", "KE"] in [row[1:5] for row in rows]
    with db_session(url) as session:
        org_id = session.scalar(
            select(Organisation.id).where(Organisation.name == "Listed Test CERT")
        )
        entry = session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "organisation.create", AuditEntry.object_id == str(org_id)
            )
        )
    assert entry is not None
    assert entry.via == "cli"
    assert entry.actor.startswith("cli:")


def test_names_that_look_like_rich_markup_are_printed_as_they_are(url: str) -> None:
    created = create_org(url, "Bracket [/] [bold]CERT")
    assert created.exit_code == 0, created.output
    assert "Bracket [/] [bold]CERT" in created.stdout
    listed = run(url, "org", "list", "--country", "GH")
    assert "Bracket [/] [bold]CERT" in listed.stdout


def test_duplicate_org_name_exits_2_with_a_clear_message(url: str) -> None:
    assert create_org(url, "Duplicate Test CERT").exit_code == 0
    again = create_org(url, "duplicate test cert", country="KE")
    assert again.exit_code == 2
    assert "error: an organisation named 'duplicate test cert' already exists" in again.stderr
    assert "(field: name)" in again.stderr
    assert again.stdout == ""


def test_unknown_country_exits_2_naming_the_country_field(url: str) -> None:
    result = create_org(url, "Nowhere Test CERT", country="XX")
    assert result.exit_code == 2
    assert "no ITU member state with code 'XX'" in result.stderr
    assert "(field: member_state)" in result.stderr
    with db_session(url) as session:
        assert (
            session.scalar(select(Organisation).where(Organisation.name == "Nowhere Test CERT"))
            is None
        )


def test_malformed_country_code_exits_2_naming_the_field(url: str) -> None:
    result = create_org(url, "Malformed Test CERT", country="GHAN")
    assert result.exit_code == 2
    assert "(field: member_state)" in result.stderr


def test_unknown_org_type_is_refused_with_the_choices(url: str) -> None:
    result = run(url, "org", "create", "Typo Test CERT", "--type", "cert", "--country", "GH")
    assert result.exit_code == 2
    assert "national_cert" in result.output


def test_org_list_refuses_an_unknown_country(url: str) -> None:
    result = run(url, "org", "list", "--country", "QQ")
    assert result.exit_code == 2
    assert "'QQ'" in result.stderr


# ---- users -----------------------------------------------------------------------------


def test_user_create_with_weak_password_exits_2_and_stores_nothing(url: str) -> None:
    assert create_org(url, "Weak Password Test CERT").exit_code == 0
    for weak in ("short", "weakling-weakling"):  # too short; contains the username
        result = run(
            url,
            "user",
            "create",
            "weakling",
            "--email",
            "weakling@example.org",
            "--org",
            "Weak Password Test CERT",
            "--role",
            "analyst",
            "--password",
            weak,
        )
        assert result.exit_code == 2, weak
        assert "(field: password)" in result.stderr
        assert weak not in result.output  # a password is never echoed back
    with db_session(url) as session:
        assert session.scalar(select(User).where(User.username == "weakling")) is None
        audited = session.scalar(
            select(func.count(AuditEntry.id)).where(
                AuditEntry.action == "user.create",
                AuditEntry.detail["username"].as_string() == "weakling",
            )
        )
    assert audited == 0


def test_user_create_prompts_for_a_hidden_password_with_confirmation(url: str) -> None:
    assert create_org(url, "Prompt Test CERT").exit_code == 0
    result = run(
        url,
        "user",
        "create",
        "prompted",
        "--email",
        "prompted@example.org",
        "--org",
        "Prompt Test CERT",
        "--role",
        "reader",
        input=f"{STRONG}\n{STRONG}\n",
    )
    assert result.exit_code == 0, result.output
    assert STRONG not in result.output
    with db_session(url) as session:
        user = accounts.authenticate(session, "prompted", STRONG, "127.0.0.1")
        assert user.role is Role.READER
        assert user.organisation.name == "Prompt Test CERT"


def test_user_create_finds_the_org_by_id_or_short_name_and_refuses_unknown_ones(url: str) -> None:
    created = run(
        url,
        "org",
        "create",
        "Short Name Test CERT",
        "--type",
        "government",
        "--country",
        "FJ",
        "--short-name",
        "SN-TEST",
    )
    assert created.exit_code == 0, created.output
    org_id = re.search(r"created organisation (\d+)", created.stdout).group(1)  # type: ignore[union-attr]
    assert create_user(url, "by.short.name", "sn-test").exit_code == 0
    assert create_user(url, "by.id", org_id).exit_code == 0
    unknown = create_user(url, "nobody.home", "No Such Org")
    assert unknown.exit_code == 2
    assert "no organisation named 'No Such Org'" in unknown.stderr
    rows = table_rows(run(url, "user", "list", "--org", "Short Name Test CERT").stdout)
    assert sorted(row[1] for row in rows) == ["by.id", "by.short.name"]


def test_set_role_changes_the_role_and_refuses_unknown_roles(url: str) -> None:
    assert create_org(url, "Role Test CERT").exit_code == 0
    assert create_user(url, "role.changer", "Role Test CERT", role="analyst").exit_code == 0
    changed = run(url, "user", "set-role", "role.changer", "org_admin")
    assert changed.exit_code == 0, changed.output
    with db_session(url) as session:
        user = accounts.get_user_by_username(session, "role.changer")
        assert user.role is Role.ORG_ADMIN
        assert (
            session.scalar(
                select(AuditEntry.id).where(
                    AuditEntry.action == "user.update", AuditEntry.object_id == str(user.id)
                )
            )
            is not None
        )
    assert run(url, "user", "set-role", "role.changer", "superuser").exit_code == 2
    missing = run(url, "user", "set-role", "no.such.user", "reader")
    assert missing.exit_code == 2
    assert "no user named 'no.such.user'" in missing.stderr


# ---- tokens ----------------------------------------------------------------------------


def test_token_create_prints_a_token_that_authenticates_until_revoked(url: str) -> None:
    assert create_org(url, "Token Test CERT").exit_code == 0
    assert create_user(url, "token.owner", "Token Test CERT").exit_code == 0
    created = run(url, "token", "create", "token.owner", "--name", "ci job", "--days", "7")
    assert created.exit_code == 0, created.output
    clear = re.search(r"^(ent_\S+)$", created.stdout, re.MULTILINE).group(1)  # type: ignore[union-attr]
    token_id = re.search(r"token (\d+) 'ci job'", created.stdout).group(1)  # type: ignore[union-attr]
    with db_session(url) as session:
        assert accounts.authenticate_token(session, clear).username == "token.owner"

    revoked = run(url, "token", "revoke", token_id)
    assert revoked.exit_code == 0, revoked.output
    with db_session(url) as session, pytest.raises(NotAuthenticated, match="revoked"):
        accounts.authenticate_token(session, clear)


def test_token_for_an_unknown_user_or_with_bad_days_exits_2(url: str) -> None:
    assert run(url, "token", "create", "ghost.user", "--name", "x").exit_code == 2
    assert create_org(url, "Token Days Test CERT").exit_code == 0
    assert create_user(url, "days.owner", "Token Days Test CERT").exit_code == 0
    assert run(url, "token", "create", "days.owner", "--name", "x", "--days", "0").exit_code == 2


def test_revoking_an_unknown_token_id_exits_2(url: str) -> None:
    result = run(url, "token", "revoke", "987654")
    assert result.exit_code == 2
    assert "no token with id 987654" in result.stderr


# ---- the root: global options, databases, errors ---------------------------------------


def test_database_url_may_follow_the_sub_command(url: str) -> None:
    result = runner.invoke(app, ["member", "show", "GH", "--database-url", url], env=ENV)
    assert result.exit_code == 0, result.output
    assert "Ghana" in result.stdout


def test_hoisting_leaves_other_arguments_in_order() -> None:
    args = [
        "org",
        "create",
        "X",
        "--database-url=sqlite://",
        "--type",
        "government",
        "--",
        "--database-url",
    ]
    assert hoist_global_options(args) == [
        "--database-url=sqlite://",
        "org",
        "create",
        "X",
        "--type",
        "government",
        "--",
        "--database-url",
    ]


def test_db_upgrade_migrates_an_empty_database(
    backend: str, scratch_database: Callable[[str], str]
) -> None:
    empty = scratch_database(backend)
    assert "revision none" in run(empty, "db", "current").stdout
    upgraded = run(empty, "db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert "up to date" in run(empty, "db", "current").stdout
    assert len(table_rows(run(empty, "member", "list").stdout)) == 194


def test_an_unreachable_database_exits_3_with_a_one_line_message() -> None:
    result = run("postgresql://postgres@127.0.0.1:1/nowhere", "member", "list")
    assert result.exit_code == 3
    assert result.stderr.startswith("error: database unavailable")
    assert "Traceback" not in result.output


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"], env=ENV)
    assert result.exit_code == 0
    for command in ("serve", "demo", "db", "member", "org", "user", "token", "--database-url"):
        assert command in result.stdout
