"""Fetching and running feeds from their sources through the REST API and the feed pages,
on SQLite and PostgreSQL: the hub's operators only; the source's state (last look, ETag,
error, next due) shown on the feed page and the list."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from entente.core.config import Settings
from entente.members.choices import Role
from entente.members.models import User
from tests.factories import auth, make_organisation, make_token, make_user
from tests.pipeline.feed_server import FeedServer
from tests.pipeline.test_api import hub_app
from tests.pipeline.test_ui import signed_in
from tests.web.test_ui_pages import HTML, csrf_of

SAMPLES = Path(__file__).parent.parent / "data" / "shadowserver"


@pytest.fixture
def hub(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"data_dir": tmp_path / "var"})


@pytest.fixture
def app(hub: Settings, session_factory: sessionmaker[Session]) -> FastAPI:
    return hub_app(hub, session_factory)


@pytest.fixture
def operator(session: Session) -> User:
    return make_user(session, make_organisation(session, "CH"), Role.ADMIN)


@pytest.fixture
def admin(session: Session, operator: User) -> dict[str, str]:
    """The hub's operator's API headers."""
    return auth(make_token(session, operator))


@pytest.fixture
def analyst(session: Session) -> dict[str, str]:
    return auth(make_token(session, make_user(session, make_organisation(session, "NL"))))


def add(client: TestClient, headers: dict[str, str], **fields: object) -> None:
    payload = {"name": "source", "parser": "shadowserver", **fields}
    response = client.post("/api/v1/feeds", json=payload, headers=headers)
    assert response.status_code == 201, response.text


def test_an_operator_fetches_then_runs_a_url_feed(
    client: TestClient, admin: dict[str, str], feed_server: FeedServer
) -> None:
    shutil.copy(SAMPLES / "scan_rdp.csv", feed_server.root)
    source = feed_server.url("scan_rdp.csv")
    add(client, admin, source_kind="url", source=source, interval_minutes=30)

    fetched = client.post("/api/v1/feeds/source/fetch", headers=admin)
    assert fetched.status_code == 200, fetched.text
    look = fetched.json()
    assert look["outcome"] == "new"
    assert look["bytes"] == (SAMPLES / "scan_rdp.csv").stat().st_size
    assert look["files"] == [look["download"]]

    ran = client.post("/api/v1/feeds/source/run", headers=admin).json()
    assert ran["look"]["outcome"] == "not_modified"
    assert [run["status"] for run in ran["runs"]] == ["succeeded"]
    assert ran["failures"] == []

    feed = client.get("/api/v1/feeds/source", headers=admin).json()
    state = feed["source_state"]
    assert state["outcome"] == "not_modified"
    assert state["etag"].startswith('"') and state["error"] == ""
    assert state["file"] == look["download"]
    assert feed["next_due"] > state["checked_at"]
    listed = client.get("/api/v1/feeds", headers=admin).json()["data"]
    assert listed[0]["source_state"]["etag"] == state["etag"]


def test_fetching_and_running_are_for_operators_with_clear_errors(
    client: TestClient, admin: dict[str, str], analyst: dict[str, str]
) -> None:
    add(client, admin, source_kind="url", source="http://127.0.0.1:9/x.csv")
    add(client, admin, name="uploads")
    for action in ("fetch", "run"):
        refused = client.post(f"/api/v1/feeds/source/{action}", headers=analyst)
        assert refused.status_code == 403

    options = {"source": {"retries": 0, "timeout_seconds": 2}}
    url = "http://127.0.0.1:9/x"  # the discard port: nothing listens on it here
    add(client, admin, name="down", source_kind="url", source=url, options=options)
    down = client.post("/api/v1/feeds/down/fetch", headers=admin)
    assert down.status_code == 502
    assert down.json()["error"]["code"] == "fetch_error"
    assert "could not fetch http://127.0.0.1:9/x" in down.json()["error"]["message"]
    state = client.get("/api/v1/feeds/down", headers=admin).json()["source_state"]
    assert (state["outcome"], state["failures"]) == ("failed", 1)

    uploads = client.post("/api/v1/feeds/uploads/run", headers=admin)
    assert uploads.status_code == 422
    assert uploads.json()["error"]["field"] == "feed"

    bad = client.post(
        "/api/v1/feeds",
        json={"name": "bad", "parser": "list", "options": {"source": {"max_bytes": "lots"}}},
        headers=admin,
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "options.source.max_bytes"


# The pages render what the services return; those run on both databases above and in
# test_feed_runs.py, so the pages are checked on one.
@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_feed_page_shows_the_source_and_runs_it(
    app: FastAPI, operator: User, tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(SAMPLES / "scan_dns.csv", drop)
    with signed_in(app, operator) as browser:
        form = {
            "csrf_token": csrf_of(browser, "/feeds"),
            "name": "drop",
            "parser": "shadowserver",
            "source_kind": "directory",
            "source": str(drop),
        }
        assert browser.post("/feeds", data=form, headers=HTML).status_code == 200
        page = browser.get("/feeds/drop", headers=HTML).text
        assert 'action="/feeds/drop/run"' in page
        assert 'action="/feeds/drop/fetch"' not in page, "fetching is for URL feeds"
        assert "Last look" in page and "never" in page

        token = csrf_of(browser, "/feeds/drop")
        ran = browser.post("/feeds/drop/run", data={"csrf_token": token}, headers=HTML).text
        assert "rows in" in ran and "stored" in ran
        assert "New data" in ran

        again = browser.post("/feeds/drop/run", data={"csrf_token": token}, headers=HTML).text
        assert "Nothing new. 0 files waiting to be read." in again

        listing = browser.get("/feeds", headers=HTML).text
        assert "Last look" in listing and "Nothing new" in listing and "on demand" in listing


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_url_feed_page_shows_its_etag_and_the_last_error(
    app: FastAPI, operator: User, feed_server: FeedServer
) -> None:
    (feed_server.root / "list.txt").write_text("192.0.2.1\n")
    with signed_in(app, operator) as browser:
        form = {
            "csrf_token": csrf_of(browser, "/feeds"),
            "name": "list",
            "parser": "list",
            "source_kind": "url",
            "source": feed_server.url("list.txt"),
            "options": '{"source": {"retries": 0}}',
            "interval_minutes": "30",
        }
        assert browser.post("/feeds", data=form, headers=HTML).status_code == 200
        token = csrf_of(browser, "/feeds/list")
        fetched = browser.post("/feeds/list/fetch", data={"csrf_token": token}, headers=HTML).text
        assert "New data: downloaded 10 bytes. 1 file waiting to be read." in fetched
        assert "ETag" in fetched and "&#34;" in fetched  # the quoted ETag, escaped
        assert "<dt>Next due</dt>" in fetched and "runs the feed every 30 minutes" in fetched

        (feed_server.root / "list.txt").unlink()
        failed = browser.post("/feeds/list/fetch", data={"csrf_token": token}, headers=HTML).text
        assert "HTTP 404" in failed
        assert "The last look failed" in failed
