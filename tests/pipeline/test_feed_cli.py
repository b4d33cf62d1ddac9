"""`entente feed fetch / run / run --due / watch` against migrated databases and a real
HTTP server on a loopback port."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from entente.cli import app
from entente.core.db import create_db_engine
from entente.core.migrate import upgrade
from tests.conftest import BACKENDS, make_settings
from tests.pipeline.feed_server import FeedServer
from tests.test_cli import ENV, runner, table_rows

SAMPLES = Path(__file__).parent.parent / "data" / "shadowserver"
FAST = json.dumps({"source": {"retries": 0, "timeout_seconds": 5}})


@pytest.fixture(scope="module", params=BACKENDS)
def url(request: pytest.FixtureRequest, scratch_database: Callable[[str], str]) -> str:
    return migrated(scratch_database(request.param))


def migrated(database_url: str) -> str:
    engine = create_db_engine(make_settings(database_url))
    upgrade(engine)
    engine.dispose()
    return database_url


def run(url: str, data_dir: Path, *args: str) -> Result:
    env = {**ENV, "ENTENTE_DATA_DIR": str(data_dir)}
    return runner.invoke(app, ["--database-url", url, *args], env=env)


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_url_feed_is_fetched_then_read_and_a_304_reads_nothing(
    url: str, tmp_path: Path, feed_server: FeedServer
) -> None:
    shutil.copy(SAMPLES / "scan_rdp.csv", feed_server.root)
    rows = sum(1 for _ in (SAMPLES / "scan_rdp.csv").open()) - 1
    source = feed_server.url("scan_rdp.csv")
    name = f"rdp-{tmp_path.name[-12:]}"
    add = ("feed", "add", name, "--parser", "shadowserver", "--kind", "url", "--source", source)
    ok(run(url, tmp_path, *add, "--every", "60", "--options", FAST))

    fetched = ok(run(url, tmp_path, "feed", "fetch", name))
    assert "new data" in fetched
    assert "1 file(s) waiting to be read" in fetched
    assert f"{rows:,} rows in, {rows:,} stored" in ok(run(url, tmp_path, "feed", "run", name))

    again = ok(run(url, tmp_path, "feed", "run", name))
    assert f"{name}: not modified, nothing to read" in again
    assert "no feed is due" in ok(run(url, tmp_path, "feed", "run", "--due"))

    listed = next(r for r in table_rows(ok(run(url, tmp_path, "feed", "list"))) if r[0] == name)
    assert listed[9].startswith("not_modified ")
    assert listed[10] != "-", "scheduled: it shows when it is next due"


def test_a_directory_feed_runs_when_due_and_only_new_files(url: str, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(SAMPLES / "scan_dns.csv", drop)
    name = f"drop-{tmp_path.name[-12:]}"
    add = ("feed", "add", name, "--parser", "shadowserver", "--kind", "directory")
    ok(run(url, tmp_path, *add, "--source", str(drop), "--every", "5"))

    due = ok(run(url, tmp_path, "feed", "run", "--due"))
    assert "scan_dns.csv" in due and "stored" in due
    assert name not in ok(run(url, tmp_path, "feed", "run", "--due"))
    assert "nothing new, nothing to read" in ok(run(url, tmp_path, "feed", "run", name))
    everything = ok(run(url, tmp_path, "feed", "run", name, "--all"))
    assert " 0 stored" in everything and "duplicates" in everything


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["feed", "add", "f", "--parser", "list", "--kind", "url", "--source", "ftp://x/y"],
            "a URL source is http:// or https:// with a host",
        ),
        (["feed", "fetch", "no-such-feed"], "no feed 'no-such-feed'"),
        (["feed", "run"], "name one feed, or give --due"),
        (["feed", "run", "x", "--due"], "name one feed, or give --due"),
        (
            ["feed", "add", "g", "--parser", "list", "--options", '{"source": {"retry": 1}}'],
            "retry",
        ),
    ],
)
def test_bad_input_exits_2_naming_the_problem(
    url: str, tmp_path: Path, args: list[str], message: str
) -> None:
    result = run(url, tmp_path, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_an_unreachable_or_uploads_only_source_exits_2(url: str, tmp_path: Path) -> None:
    name = f"gone-{tmp_path.name[-12:]}"
    source = f"http://127.0.0.1:{closed_port()}/list.txt"
    add = ("feed", "add", name, "--parser", "list", "--kind", "url", "--source", source)
    ok(run(url, tmp_path, *add, "--options", FAST))
    fetched = run(url, tmp_path, "feed", "fetch", name)
    assert fetched.exit_code == 2, fetched.output
    assert f"could not fetch {source}" in fetched.output
    listed = next(r for r in table_rows(ok(run(url, tmp_path, "feed", "list"))) if r[0] == name)
    assert listed[9].startswith("failed ")

    uploads = f"uploads-{tmp_path.name[-12:]}"
    ok(run(url, tmp_path, "feed", "add", uploads, "--parser", "list", "--kind", "upload"))
    refused = run(url, tmp_path, "feed", "run", uploads)
    assert refused.exit_code == 2
    assert "takes uploads" in refused.output


def test_the_watcher_stops_cleanly_on_sigterm(url: str, tmp_path: Path) -> None:
    """`feed watch` in this process; a thread sends SIGTERM once the watcher's handler is in
    place (before that, SIGTERM would end the test run itself)."""
    before = signal.getsignal(signal.SIGTERM)

    def terminate_when_watching() -> None:
        deadline = time.monotonic() + 20
        while signal.getsignal(signal.SIGTERM) is before and time.monotonic() < deadline:
            time.sleep(0.01)
        if signal.getsignal(signal.SIGTERM) is not before:
            time.sleep(0.2)  # inside the wait for the next round
            os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=terminate_when_watching)
    sender.start()
    result = run(url, tmp_path, "feed", "watch", "--poll", "60")
    sender.join(timeout=25)
    assert result.exit_code == 0, result.output
    assert "SIGTERM: stopping after the current file" in result.stdout
    assert result.stdout.rstrip().endswith("stopped")
    assert signal.getsignal(signal.SIGTERM) is before, "the previous handler is back"
