"""`entente misp import | export | export-feed` end to end on SQLite and PostgreSQL: the
report, idempotency, PyMISP loading the written files, exit code 2 on bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from pymisp import MISPEvent  # type: ignore[import-untyped]

from entente.core.db import create_db_engine
from entente.core.migrate import upgrade
from tests.conftest import BACKENDS, make_settings
from tests.test_cli import create_org, create_user, run

DATA = Path(__file__).parent.parent / "data" / "misp"
EVENT_UUID = "5e1c6a2b-3d4f-4a5b-8c6d-7e8f9a0b1c01"


@pytest.fixture(scope="module", params=BACKENDS)
def url(request: pytest.FixtureRequest, scratch_database: Callable[[str], str]) -> str:
    database_url = scratch_database(request.param)
    engine = create_db_engine(make_settings(database_url))
    upgrade(engine)
    engine.dispose()
    assert create_org(database_url, "CERT Misp Importer").exit_code == 0
    assert create_user(database_url, "misp-analyst", "CERT Misp Importer").exit_code == 0
    return database_url


def test_import_reports_and_reimport_adds_nothing(url: str, tmp_path: Path) -> None:
    first = run(
        url, "misp", "import", str(DATA / "restsearch.json"), "--as-org", "CERT Misp Importer"
    )
    assert first.exit_code == 0, first.output
    assert "3 imported, 0 updated, 0 unchanged, 0 refused" in first.output
    assert "Event.Attribute[4].value" in first.output  # the bad address, reported by field
    again = run(url, "misp", "import", str(DATA / "event.json"), "--as", "misp-analyst", "--json")
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout)
    assert (report["imported"], report["unchanged"]) == (0, 1)


def test_export_and_feed_load_in_pymisp(url: str, tmp_path: Path) -> None:
    run(url, "misp", "import", str(DATA / "event.json"), "--as-org", "CERT Misp Importer")
    listed = run(url, "event", "list", "--as", "misp-analyst", "--json")
    event_id = next(e["id"] for e in json.loads(listed.stdout)["data"] if e["uuid"] == EVENT_UUID)
    target = tmp_path / "event.json"
    written = run(
        url, "misp", "export", "--as", "misp-analyst", "--event", str(event_id), "-o", str(target)
    )
    assert written.exit_code == 0, written.output
    misp = MISPEvent()
    misp.load_file(str(target))
    assert misp.uuid == EVENT_UUID and len(misp.attributes) == 7
    assert misp.tags[0].name == "tlp:green"
    dump = tmp_path / "all.json"
    assert (
        run(url, "misp", "export", "--as-org", "CERT Misp Importer", "-o", str(dump)).exit_code == 0
    )
    assert EVENT_UUID in {e["Event"]["uuid"] for e in json.loads(dump.read_text())["response"]}
    feed = tmp_path / "feed"
    made = run(url, "misp", "export-feed", str(feed), "--as", "misp-analyst")
    assert made.exit_code == 0, made.output
    assert json.loads((feed / "manifest.json").read_text()) == {}  # nothing published yet
    assert (feed / "hashes.csv").read_text() == ""


def test_bad_input_exits_2_naming_the_field(url: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = run(url, "misp", "import", str(broken), "--as-org", "CERT Misp Importer")
    assert result.exit_code == 2 and "not valid JSON" in result.output
    content = json.loads((DATA / "event.json").read_text())
    del content["Event"]["info"]
    no_info = tmp_path / "no-info.json"
    no_info.write_text(json.dumps(content))
    result = run(url, "misp", "import", str(no_info), "--as-org", "CERT Misp Importer")
    assert result.exit_code == 2 and "Event.info" in result.output
    result = run(url, "misp", "import", str(no_info))
    assert result.exit_code == 2 and "--as-org" in result.output
    missing = run(
        url, "misp", "import", str(tmp_path / "nowhere"), "--as-org", "CERT Misp Importer"
    )
    assert missing.exit_code == 2
