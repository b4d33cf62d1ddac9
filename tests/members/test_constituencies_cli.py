"""`entente constituency` end to end: real commands against migrated SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from entente.core.audit import AuditEntry
from entente.core.db import create_db_engine
from entente.core.migrate import upgrade
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


def test_add_list_and_remove_entries(url: str) -> None:
    assert create_org(url, "Cli Constituency CERT", "GH").exit_code == 0
    for kind, value in [("prefix", "192.0.2.0/24"), ("asn", "AS64496"), ("country", "gh")]:
        added = run(url, "constituency", "add", kind, value, "--org", "Cli Constituency CERT")
        assert added.exit_code == 0, added.output
    listed = run(url, "constituency", "list", "--org", "Cli Constituency CERT")
    assert listed.exit_code == 0, listed.output
    rows = table_rows(listed.stdout)
    assert [row[1:3] for row in rows] == [
        ["prefix", "192.0.2.0/24"],
        ["asn", "64496"],
        ["country", "GH"],
    ]
    covering = table_rows(run(url, "constituency", "list", "--q", "192.0.2.77").stdout)
    assert [row[2:] for row in covering] == [["192.0.2.0/24", "Cli Constituency CERT"]]
    removed = run(url, "constituency", "remove", rows[0][0])
    assert removed.exit_code == 0, removed.output
    assert "removed ip prefix 192.0.2.0/24 of Cli Constituency CERT" in removed.stdout
    with db_session(url) as session:
        entry = session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "constituency.remove", AuditEntry.object_id == rows[0][0]
            )
        )
    assert entry is not None
    assert entry.via == "cli"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["prefix", "192.0.2.1/24"], "the prefix is written 192.0.2.0/24 (field: value)"),
        (["asn", "AS0"], "(field: value)"),
        (["country", "FR"], "the country it may declare is KE (field: value)"),
        (["domain", "https://example.org"], "no scheme"),
    ],
)
def test_bad_values_exit_2_with_the_reason_and_field(
    url: str, args: list[str], message: str
) -> None:
    create_org(url, "Cli Bad Values CERT", "KE")
    result = run(url, "constituency", "add", *args, "--org", "Cli Bad Values CERT")
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())


def test_unknown_organisation_and_kind_exit_2(url: str) -> None:
    unknown = run(url, "constituency", "add", "asn", "64496", "--org", "Nobody At All")
    assert unknown.exit_code == 2
    assert "no organisation named 'Nobody At All'" in unknown.stderr
    bad_kind = run(url, "constituency", "add", "subnet", "192.0.2.0/24", "--org", "x")
    assert bad_kind.exit_code == 2


def test_import_csv_reports_bad_lines_and_stores_the_rest(url: str, tmp_path: Path) -> None:
    create_org(url, "Cli Import CERT")
    csv_file = tmp_path / "ranges.csv"
    csv_file.write_text(
        "kind,value,contact_email\n"
        "prefix,198.51.100.0/24,noc@example.org\n"
        "prefix,198.51.100.1/24,\n"
        "asn,64497,\n"
    )
    result = run(url, "constituency", "import", str(csv_file), "--org", "Cli Import CERT")
    assert result.exit_code == 0, result.output
    assert "2 added, 0 already declared, 1 refused, 1 contact added" in result.stdout
    refused = table_rows(result.stdout)
    assert refused[0][:2] == ["3", "value"]
    again = run(url, "constituency", "import", str(csv_file), "--org", "Cli Import CERT")
    assert "0 added, 2 already declared" in again.stdout
    contacts = table_rows(
        run(url, "constituency", "contact", "list", "--org", "Cli Import CERT").stdout
    )
    assert [row[1:4] for row in contacts] == [
        ["noc@example.org", "Cli Import CERT", "198.51.100.0/24"]
    ]


def test_import_ripe_needs_an_organisation_and_a_readable_file(url: str, tmp_path: Path) -> None:
    create_org(url, "Cli Ripe CERT")
    ripe = tmp_path / "export.db"
    ripe.write_text("aut-num: AS64510\n")
    missing_org = run(url, "constituency", "import", str(ripe), "--format", "ripe")
    assert missing_org.exit_code == 2
    assert "(field: organisation)" in missing_org.stderr
    missing_file = run(url, "constituency", "import", str(tmp_path / "absent.csv"))
    assert missing_file.exit_code == 2
    assert "cannot read" in missing_file.stderr
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("kind,value,colour\n")
    parse = run(url, "constituency", "import", str(bad_header), "--org", "Cli Ripe CERT")
    assert parse.exit_code == 2
    assert "line 1, column colour: unknown column 'colour'" in " ".join(parse.stderr.split())


def test_contacts_add_list_remove_and_refuse_short_key_ids(url: str) -> None:
    create_org(url, "Cli Contact CERT")
    short = run(
        url, "constituency", "contact", "add", "--org", "Cli Contact CERT",
        "--email", "cert@example.org", "--pgp", "89ABCDEF",
    )  # fmt: skip
    assert short.exit_code == 2
    assert "short key ids can be forged (field: pgp_fingerprint)" in " ".join(short.stderr.split())
    added = run(
        url, "constituency", "contact", "add", "--org", "Cli Contact CERT",
        "--email", "cert@example.org", "--pgp", "A" * 40, "--format", "stix",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    rows = table_rows(
        run(url, "constituency", "contact", "list", "--org", "Cli Contact CERT").stdout
    )
    assert [row[1:] for row in rows] == [
        ["cert@example.org", "Cli Contact CERT", "everything", "stix", "A" * 40]
    ]
    removed = run(url, "constituency", "contact", "remove", rows[0][0])
    assert removed.exit_code == 0, removed.output
    assert (
        table_rows(run(url, "constituency", "contact", "list", "--org", "Cli Contact CERT").stdout)
        == []
    )
