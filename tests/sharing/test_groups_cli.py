"""`entente group` end to end: real commands against migrated SQLite and PostgreSQL databases."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from entente.core.audit import AuditEntry
from entente.core.db import create_db_engine
from entente.core.migrate import upgrade
from entente.sharing.models import SharingGroup
from tests.conftest import BACKENDS, make_settings
from tests.test_cli import create_org, db_session, run, table_rows


@pytest.fixture(scope="module", params=BACKENDS)
def url(request: pytest.FixtureRequest, scratch_database: Callable[[str], str]) -> str:
    """A migrated database shared by this module's tests, which each use names of their own."""
    database_url = scratch_database(request.param)
    engine = create_db_engine(make_settings(database_url))
    upgrade(engine)
    engine.dispose()
    return database_url


def test_create_add_list_and_remove_members(url: str) -> None:
    for name in ("Group Creator CERT", "Group Member CERT"):
        assert create_org(url, name).exit_code == 0
    created = run(
        url, "group", "create", "Gulf of Guinea", "--org", "Group Creator CERT",
        "--releasability", "CERTs only",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    added = run(url, "group", "add-member", "gulf of guinea", "Group Member CERT")
    assert added.exit_code == 0, added.output
    rows = table_rows(run(url, "group", "list", "--org", "Group Member CERT").stdout)
    assert [row[1:] for row in rows] == [
        ["Gulf of Guinea", "Group Creator CERT", "Group Creator CERT, Group Member CERT"]
    ]
    removed = run(url, "group", "remove-member", "Gulf of Guinea", "Group Member CERT")
    assert removed.exit_code == 0, removed.output
    assert table_rows(run(url, "group", "list", "--org", "Group Member CERT").stdout) == []
    with db_session(url) as session:
        group_id = session.scalar(
            select(SharingGroup.id).where(SharingGroup.name == "Gulf of Guinea")
        )
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.object_id == str(group_id))
        )
        via = set(
            session.scalars(select(AuditEntry.via).where(AuditEntry.object_id == str(group_id)))
        )
        assert set(actions) >= {
            "sharing_group.create",
            "sharing_group.add_member",
            "sharing_group.remove_member",
        }
        assert via == {"cli"}


def test_removing_the_creator_fails_with_exit_code_2(url: str) -> None:
    assert create_org(url, "Lonely Creator CERT").exit_code == 0
    assert run(url, "group", "create", "Lonely", "--org", "Lonely Creator CERT").exit_code == 0
    refused = run(url, "group", "remove-member", "Lonely", "Lonely Creator CERT")
    assert refused.exit_code == 2
    assert "always stays a member" in refused.stderr


def test_unknown_organisation_or_group_is_reported(url: str) -> None:
    unknown_org = run(url, "group", "create", "Nobody's", "--org", "No Such CERT")
    assert unknown_org.exit_code == 2
    assert "no organisation named 'No Such CERT'" in unknown_org.stderr
    unknown_group = run(url, "group", "add-member", "No Such Group", "No Such CERT")
    assert unknown_group.exit_code == 2
    assert "no sharing group named 'No Such Group'" in unknown_group.stderr


def test_duplicate_name_is_refused_naming_the_field(url: str) -> None:
    assert create_org(url, "Twice CERT").exit_code == 0
    assert run(url, "group", "create", "Twice", "--org", "Twice CERT").exit_code == 0
    again = run(url, "group", "create", "TWICE", "--org", "Twice CERT")
    assert again.exit_code == 2
    assert "(field: name)" in again.stderr
