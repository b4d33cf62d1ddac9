"""`entente peer add | list | sync | remove | hub-id` on SQLite and PostgreSQL: exit code 2
naming the option, the token never printed, a failed sync exit 1 with its reason stored."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from entente.core.db import create_db_engine
from entente.core.migrate import upgrade
from tests.conftest import BACKENDS, make_settings
from tests.test_cli import run

TOKEN = "ent_cli-secret-token-abcd"


@pytest.fixture(scope="module", params=BACKENDS)
def url(request: pytest.FixtureRequest, scratch_database: Callable[[str], str]) -> str:
    database_url = scratch_database(request.param)
    engine = create_db_engine(make_settings(database_url))
    upgrade(engine)
    engine.dispose()
    return database_url


def test_add_list_sync_and_remove(url: str) -> None:
    # Port 9 (discard) on loopback: nothing listens, so the sync fails at once.
    added = run(url, "peer", "add", "regional", "--url", "http://127.0.0.1:9", "--token", TOKEN,
                "--max-tlp", "amber", "--tag", "botnet")  # fmt: skip
    assert added.exit_code == 0, added.output
    listed = run(url, "peer", "list", "--json")
    [peer] = [p for p in json.loads(listed.stdout)["data"] if p["name"] == "regional"]
    assert peer["token_hint"] == "…abcd" and TOKEN not in listed.stdout
    assert (peer["max_tlp"], peer["tags"]) == ("amber", ["botnet"])
    synced = run(url, "peer", "sync", "regional")
    assert synced.exit_code == 1
    assert "could not reach http://127.0.0.1:9" in synced.output and TOKEN not in synced.output
    table = run(url, "peer", "list")
    assert "Failed" in table.output and TOKEN not in table.output
    assert run(url, "peer", "remove", "regional").exit_code == 0
    assert run(url, "peer", "sync", "regional").exit_code == 2


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--url", "ftp://hub.example", "--token", TOKEN], "--url"),
        (["--url", "http://hub.example", "--token", "short"], "--token"),
        (["--url", "http://hub.example", "--token", TOKEN, "--max-tlp", "purple"], "--max-tlp"),
        (["--url", "http://hub.example", "--token", TOKEN, "--hub-id", "nope"], "--hub-id"),
    ],
)
def test_bad_options_exit_2_naming_the_option(url: str, options: list[str], named: str) -> None:
    result = run(url, "peer", "add", "bad-peer", *options)
    assert result.exit_code == 2
    assert named in result.output


def test_hub_id_is_stable(url: str) -> None:
    first = run(url, "peer", "hub-id").stdout.strip()
    assert len(first) == 36 and run(url, "peer", "hub-id").stdout.strip() == first
