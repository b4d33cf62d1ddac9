"""`entente ingest` and `entente feed` end to end: real commands against migrated databases."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from entente.cli import app
from entente.core.db import create_db_engine
from entente.core.migrate import upgrade
from tests.conftest import BACKENDS, make_settings
from tests.test_cli import ENV, runner, table_rows

SAMPLES = Path(__file__).parent.parent / "data" / "shadowserver"


@pytest.fixture(scope="module", params=BACKENDS)
def url(request: pytest.FixtureRequest, scratch_database: Callable[[str], str]) -> str:
    database_url = scratch_database(request.param)
    engine = create_db_engine(make_settings(database_url))
    upgrade(engine)
    engine.dispose()
    return database_url


def run(url: str, data_dir: Path, *args: str) -> Result:
    env = {**ENV, "ENTENTE_DATA_DIR": str(data_dir), "COLUMNS": "250"}
    return runner.invoke(app, ["--database-url", url, *args], env=env)


def test_ingest_stores_a_file_once_and_the_feed_lists_its_run(url: str, tmp_path: Path) -> None:
    sample = SAMPLES / "scan_telnet.csv"
    rows = sum(1 for _ in sample.open()) - 1
    first = run(url, tmp_path, "ingest", str(sample), "--parser", "shadowserver", "--feed", "cli-a")
    assert first.exit_code == 0, first.output
    assert f"{rows:,} rows in, {rows:,} stored, 0 duplicates" in first.stdout
    again = run(url, tmp_path, "ingest", str(sample), "--parser", "shadowserver", "--feed", "cli-a")
    assert again.exit_code == 0, again.output
    assert f"{rows:,} rows in, 0 stored, {rows:,} duplicates" in again.stdout
    listed = run(url, tmp_path, "feed", "list")
    assert listed.exit_code == 0, listed.output
    feed = next(row for row in table_rows(listed.stdout) if row[0] == "cli-a")
    assert feed[1:5] == ["shadowserver", "upload", feed[3], "succeeded"]
    assert feed[5] == f"{rows:,}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "missing.csv", "--parser", "shadowserver"], "no file at missing.csv"),
        (["ingest", str(SAMPLES / "scan_http.csv"), "--parser", "nope"], "unknown parser 'nope'"),
        (
            ["ingest", str(SAMPLES / "scan_http-missing-column.csv"), "--parser", "shadowserver"],
            "line 1, column ip: missing column ip",
        ),
        (["feed", "add", "x", "--parser", "shadowserver", "--source", "/nowhere"], "no file at"),
        (["feed", "add", "y", "--parser", "list", "--options", "{oops"], "--options is not JSON"),
        (["feed", "run", "no-such-feed"], "no feed 'no-such-feed'"),
        (
            ["ingest", str(SAMPLES / "scan_dns.csv"), "--parser", "shadowserver", "--stream"],
            "ENTENTE_REDIS_URL",
        ),
    ],
)
def test_bad_input_exits_2_naming_the_problem(
    url: str, tmp_path: Path, args: list[str], message: str
) -> None:
    result = run(url, tmp_path, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_a_directory_feed_runs_every_file_in_it(url: str, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    for name in ("scan_rdp.csv", "scan_dns.csv"):
        (drop / name).write_bytes((SAMPLES / name).read_bytes())
    added = run(
        url,
        tmp_path,
        "feed",
        "add",
        "cli-dir",
        "--parser",
        "shadowserver",
        "--kind",
        "directory",
        "--source",
        str(drop),
    )
    assert added.exit_code == 0, added.output
    ran = run(url, tmp_path, "feed", "run", "cli-dir")
    assert ran.exit_code == 0, ran.output
    assert ran.stdout.count("stored") == 2
