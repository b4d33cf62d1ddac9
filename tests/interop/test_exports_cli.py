"""`entente export FORMAT` end to end, as named users, on SQLite and PostgreSQL; bad input
exits with code 2 and a message naming the option."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import dns.zone
import pytest
from typer.testing import Result

from entente.cli import app
from entente.core.db import create_db_engine
from entente.core.migrate import upgrade
from tests.conftest import BACKENDS, make_settings
from tests.interop.rule_grammar import parse_rules
from tests.test_cli import ENV, create_org, create_user, run, runner


@pytest.fixture(scope="module", params=BACKENDS)
def url(request: pytest.FixtureRequest, scratch_database: Callable[[str], str]) -> str:
    database_url = scratch_database(request.param)
    engine = create_db_engine(make_settings(database_url))
    upgrade(engine)
    engine.dispose()
    assert create_org(database_url, "Export Owner CERT").exit_code == 0
    assert create_user(database_url, "export.owner", "Export Owner CERT").exit_code == 0
    assert create_org(database_url, "Export Peer CERT", "KE").exit_code == 0
    assert create_user(database_url, "export.peer", "Export Peer CERT").exit_code == 0
    created = run(
        database_url, "event", "create", "--as", "export.owner", "--title", "Harbour lights",
        "--date", "2026-11-20", "--tlp", "green", "--distribution", "all_members", "--json",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    event_id = str(json.loads(created.stdout)["id"])
    for indicator_type, value in (("domain", "harbour.example"), ("ipv4", "198.51.100.20")):
        added = run(
            database_url, "indicator", "add", event_id, "--as", "export.owner",
            "--type", indicator_type, "--value", value, "--to-ids",
        )  # fmt: skip
        assert added.exit_code == 0, added.output
    return database_url


def export(url: str, data_dir: Path, *args: str) -> Result:
    """`entente export ...` with the export cache in the test's directory."""
    env = {**ENV, "ENTENTE_DATA_DIR": str(data_dir)}
    return runner.invoke(app, ["--database-url", url, "export", *args], env=env)


def test_export_writes_each_format_to_a_file(url: str, tmp_path: Path) -> None:
    rules = tmp_path / "entente.rules"
    done = export(url, tmp_path, "suricata", "--as", "export.peer", "-o", str(rules))
    assert done.exit_code == 0, done.output
    assert f"to {rules}" in done.stdout and "(rendered)" in done.stdout
    parsed = parse_rules(rules.read_text())
    assert {rule.protocol for rule in parsed} == {"ip", "dns", "tls", "http"}
    again = export(url, tmp_path, "suricata", "--as", "export.peer", "-o", str(rules))
    assert "(from the cache)" in again.stdout
    zone_file = tmp_path / "rpz.zone"
    zoned = export(
        url, tmp_path, "rpz", "--as", "export.peer", "--rpz-zone", "rpz.cert.example",
        "-o", str(zone_file),
    )  # fmt: skip
    assert zoned.exit_code == 0, zoned.output
    zone = dns.zone.from_text(zone_file.read_text(), origin="rpz.cert.example.")
    assert zone.get_node("harbour.example") is not None
    assert zone.get_node("*.harbour.example") is not None


def test_export_to_standard_output_with_filters(url: str, tmp_path: Path) -> None:
    listed = export(url, tmp_path, "text", "--as", "export.peer", "--type", "ipv4", "-o", "-")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines() == ["198.51.100.20"]
    tagged = export(url, tmp_path, "text", "--as", "export.peer", "--tag", "nothing-tagged")
    assert tagged.exit_code == 0 and tagged.stdout == ""


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["csv", "--as", "export.peer", "--sid-base", "9"], "--sid-base"),
        (["text", "--as", "export.peer", "--rpz-zone", "x.example"], "--rpz-zone"),
        (["rpz", "--as", "export.peer", "--rpz-zone", "not a zone!"], "--rpz-zone"),
        (["text", "--as", "export.peer", "--type", "nope"], "--type"),
        (["text", "--as", "export.peer", "--tlp", "purple"], "--tlp"),
        (["suricata", "--as", "export.peer", "--sid-base", "3000000000"], "--sid-base"),
        (["text", "--as", "nobody"], "--as"),
        (["text", "--as", "export.peer", "--tag", "tlp:red"], "--tag"),
    ],
)
def test_bad_input_exits_2_naming_the_option(
    url: str, tmp_path: Path, args: list[str], named: str
) -> None:
    result = export(url, tmp_path, *args, "-o", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert named in result.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.part").exists()


def test_an_unknown_format_or_option_is_a_usage_error(url: str, tmp_path: Path) -> None:
    assert export(url, tmp_path, "pdf", "--as", "export.peer").exit_code == 2
    assert export(url, tmp_path, "csv", "--as", "export.peer", "--min-score", "0").exit_code == 2
