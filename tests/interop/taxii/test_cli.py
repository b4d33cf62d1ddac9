"""`entente taxii collection` end to end: real commands against migrated SQLite and
PostgreSQL databases."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from entente.core.audit import AuditEntry
from entente.core.db import create_db_engine
from entente.core.migrate import upgrade
from entente.interop.taxii.models import TaxiiCollection, TaxiiPermission
from tests.conftest import BACKENDS, make_settings
from tests.test_cli import create_org, db_session, run, table_rows


@pytest.fixture(scope="module", params=BACKENDS)
def url(request: pytest.FixtureRequest, scratch_database: Callable[[str], str]) -> str:
    database_url = scratch_database(request.param)
    engine = create_db_engine(make_settings(database_url))
    upgrade(engine)
    engine.dispose()
    return database_url


def test_add_list_and_remove_a_collection(url: str) -> None:
    for name in ("Taxii Reader CERT", "Taxii Writer CERT"):
        assert create_org(url, name).exit_code == 0
    added = run(
        url, "taxii", "collection", "add", "Phishing URLs", "--alias", "phishing",
        "--tag", "phishing", "--max-tlp", "green",
        "--read", "Taxii Reader CERT", "--write", "Taxii Writer CERT",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    rows = table_rows(run(url, "taxii", "collection", "list").stdout)
    assert len(rows) == 1
    assert rows[0][1:4] == ["phishing", "Phishing URLs", "tlp<=green tags=phishing"]
    with db_session(url) as session:
        collection = session.scalar(
            select(TaxiiCollection).where(TaxiiCollection.alias == "phishing")
        )
        assert collection is not None
        grants = session.execute(
            select(TaxiiPermission.can_read, TaxiiPermission.can_write).where(
                TaxiiPermission.collection_id == collection.id
            )
        ).all()
        assert sorted(grants) == [(True, False), (True, True)]
    removed = run(url, "taxii", "collection", "remove", "phishing")
    assert removed.exit_code == 0, removed.output
    assert table_rows(run(url, "taxii", "collection", "list").stdout) == []
    with db_session(url) as session:
        actions = set(
            session.scalars(
                select(AuditEntry.action).where(AuditEntry.object_type == "taxii_collection")
            )
        )
        assert actions == {"taxii.collection.create", "taxii.collection.delete"}


def test_bad_input_exits_2_naming_the_problem(url: str) -> None:
    unknown_org = run(url, "taxii", "collection", "add", "Nobody's", "--read", "No Such CERT")
    assert unknown_org.exit_code == 2
    assert "No Such CERT" in unknown_org.stderr
    bad_alias = run(url, "taxii", "collection", "add", "Bad alias", "--alias", "Not URL safe")
    assert bad_alias.exit_code == 2
    assert "alias" in bad_alias.stderr
    unknown = run(url, "taxii", "collection", "remove", "no-such-collection")
    assert unknown.exit_code == 2
    assert "no collection 'no-such-collection'" in unknown.stderr
