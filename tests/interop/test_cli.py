"""`entente stix export | import` end to end, as named users, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from entente.core.db import create_db_engine
from entente.core.migrate import upgrade
from tests.conftest import BACKENDS, make_settings
from tests.interop.builders import assert_strictly_valid
from tests.interop.test_import import SAMPLE_PATH
from tests.test_cli import create_org, create_user, run


@pytest.fixture(scope="module", params=BACKENDS)
def url(request: pytest.FixtureRequest, scratch_database: Callable[[str], str]) -> str:
    database_url = scratch_database(request.param)
    engine = create_db_engine(make_settings(database_url))
    upgrade(engine)
    engine.dispose()
    assert create_org(database_url, "Stix Owner CERT").exit_code == 0
    assert create_user(database_url, "stix.owner", "Stix Owner CERT").exit_code == 0
    assert create_org(database_url, "Stix Peer CERT", "KE").exit_code == 0
    assert create_user(database_url, "stix.peer", "Stix Peer CERT").exit_code == 0
    return database_url


def test_export_then_import_on_another_organisation(url: str, tmp_path: Path) -> None:
    created = run(
        url, "event", "create", "--as", "stix.owner", "--title", "Lagoon wave",
        "--date", "2026-11-20", "--tlp", "green", "--distribution", "all_members", "--json",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    event_id = json.loads(created.stdout)["id"]
    added = run(
        url, "indicator", "add", str(event_id), "--as", "stix.owner",
        "--type", "domain", "--value", "lagoon.example",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    bundle = tmp_path / "lagoon.json"
    exported = run(
        url, "stix", "export", "--as", "stix.owner", "--event", str(event_id), "-o", str(bundle)
    )
    assert exported.exit_code == 0, exported.output
    # The five TLP definitions, the owner's identity, the indicator and the grouping.
    assert f"wrote 8 STIX objects to {bundle}" in exported.stdout
    assert_strictly_valid(bundle.read_text())
    imported = run(url, "stix", "import", str(bundle), "--as", "stix.peer", "--new-event", "Copy")
    assert imported.exit_code == 0, imported.output
    assert "1 indicators added" in imported.stdout and "0 rejected" in imported.stdout
    again = run(url, "stix", "import", str(bundle), "--as", "stix.peer", "--new-event", "Copy")
    assert "0 indicators added" in again.stdout and "0 objects stored" in again.stdout
    filtered = run(url, "stix", "export", "--as", "stix.peer", "--q", "Lagoon", "-o", "-")
    assert filtered.exit_code == 0, filtered.output
    names = [o.get("name") for o in json.loads(filtered.stdout)["objects"]]
    assert "Lagoon wave" in names and "lagoon.example" in names


def test_import_reads_standard_input_and_reports_rejected_objects(url: str) -> None:
    bundle = json.loads(SAMPLE_PATH.read_text())
    tool = next(o for o in bundle["objects"] if o["type"] == "tool")
    del tool["name"]
    result = run(
        url, "stix", "import", "-", "--as", "stix.owner", "--new-event", "From stdin", "--json",
        input=json.dumps(bundle),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["created_event"] and report["rejected_count"] == 1
    assert report["rejected"][0]["object_id"] == tool["id"]
    assert report["rejected"][0]["field"] == "name"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["import", "missing.json", "--new-event", "X"], "cannot read 'missing.json'"),
        (["import", str(SAMPLE_PATH)], "give --event or --new-event"),
        (["import", str(SAMPLE_PATH), "--event", "1", "--new-event", "X"], "give --event or"),
        (["import", str(SAMPLE_PATH), "--new-event", "X", "--tlp", "purple"], "--tlp"),
        (["export", "-o", "x.json", "--event", "1", "--q", "a"], "--event or filters"),
        (["export", "-o", "x.json", "--event", "999999"], "no event with id 999999"),
    ],
)
def test_bad_commands_exit_2_with_one_clear_line(url: str, args: list[str], words: str) -> None:
    result = run(url, "stix", args[0], "--as", "stix.owner", *args[1:])
    assert result.exit_code == 2, result.output
    assert words in result.output


def test_a_file_that_is_not_json_exits_2_naming_it(url: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"type": "bundle", "objects": [{"type": "malware",')
    result = run(url, "stix", "import", str(broken), "--as", "stix.owner", "--new-event", "Broken")
    assert result.exit_code == 2
    assert "broken.json" in result.output and "not valid JSON" in result.output
