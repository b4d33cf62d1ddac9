"""The pipeline's pages without a browser, on SQLite and PostgreSQL: feeds, uploads and
runs, the quarantine and re-processing for the hub's operators; each member's findings,
trend and map; empty states that say what to do."""

from __future__ import annotations

import csv
import ipaddress
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from entente.core.config import Settings
from entente.members.choices import Role
from entente.members.models import Organisation, User
from tests.factories import make_organisation, make_user
from tests.pipeline.test_api import (
    FIRST_NETWORK,
    SAMPLES,
    SECOND_NETWORK,
    dated_today,
    declare,
    hub_app,
    in_network,
    sample_ips,
)
from tests.web.test_ui_pages import HTML, csrf_of, log_in

PICK = re.compile(r'name="pick" value="([0-9a-f-]{36})"')


@pytest.fixture
def hub(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"data_dir": tmp_path / "var"})


@pytest.fixture
def app(hub: Settings, session_factory: sessionmaker[Session]) -> FastAPI:
    return hub_app(hub, session_factory)


@dataclass
class People:
    first: Organisation
    second: Organisation
    admin: User
    first_analyst: User
    second_analyst: User
    outsider: User  # of a member with no constituency declared


@pytest.fixture
def people(session: Session) -> People:
    first, second = make_organisation(session, "NL"), make_organisation(session, "KE")
    declare(session, first, FIRST_NETWORK)
    declare(session, second, SECOND_NETWORK)
    return People(
        first=first,
        second=second,
        admin=make_user(session, make_organisation(session, "CH"), Role.ADMIN),
        first_analyst=make_user(session, first),
        second_analyst=make_user(session, second),
        outsider=make_user(session, make_organisation(session, "BR")),
    )


@contextmanager
def signed_in(app: FastAPI, user: User) -> Iterator[TestClient]:
    """A browser of its own (cookie jar) for one user."""
    with TestClient(app) as browser:
        log_in(browser, user)
        yield browser


def add_feed(browser: TestClient, **fields: str) -> httpx.Response:
    form = {"csrf_token": csrf_of(browser, "/feeds"), "name": "shadowserver"}
    form |= {"parser": "shadowserver", "source_kind": "upload", **fields}
    return browser.post("/feeds", data=form, headers=HTML, follow_redirects=False)


def upload(browser: TestClient, path: Path, feed: str = "shadowserver") -> str:
    """Send the file through the feed page's form; returns the page the redirect lands on."""
    with path.open("rb") as handle:
        response = browser.post(
            f"/feeds/{feed}/upload",
            data={"csrf_token": csrf_of(browser, f"/feeds/{feed}")},
            files={"file": (path.name, handle, "text/csv")},
            headers=HTML,
        )
    assert response.status_code == 200, response.text
    return response.text


# ---- who may see what ------------------------------------------------------------------


def test_feeds_and_quarantine_are_for_the_hubs_operators_only(app: FastAPI, people: People) -> None:
    with signed_in(app, people.admin) as admin:
        assert add_feed(admin).status_code == 303
        page = admin.get("/findings", headers=HTML).text
        assert 'href="/feeds"' in page and 'href="/findings"' in page
    with signed_in(app, people.first_analyst) as analyst:
        for path in ("/feeds", "/feeds/shadowserver", "/quarantine"):
            response = analyst.get(path, headers=HTML)
            assert response.status_code == 403, path
            assert "Not allowed" in response.text
        token = csrf_of(analyst, "/findings")
        refused = analyst.post(
            "/feeds", data={"csrf_token": token, "name": "x", "parser": "shadowserver"}
        )
        assert refused.status_code == 403
        page = analyst.get("/findings", headers=HTML).text
        assert 'href="/findings"' in page and 'href="/feeds"' not in page


# ---- empty states ----------------------------------------------------------------------


def test_empty_pages_say_what_to_do(app: FastAPI, people: People) -> None:
    with signed_in(app, people.admin) as admin:
        feeds = admin.get("/feeds", headers=HTML)
        assert feeds.status_code == 200
        assert "No feeds yet" in feeds.text
        assert "Add a feed first" in feeds.text
        quarantine = admin.get("/quarantine", headers=HTML)
        assert quarantine.status_code == 200
        assert "Nothing is quarantined" in quarantine.text
    with signed_in(app, people.first_analyst) as analyst:
        findings = analyst.get("/findings", headers=HTML)
        assert findings.status_code == 200
        assert "No findings yet: feeds route findings here" in findings.text
        assert f'href="/organisations/{people.first.id}/constituency"' in findings.text


# ---- feeds -----------------------------------------------------------------------------


def test_the_add_form_shows_errors_by_their_field_and_adds_a_good_feed(
    app: FastAPI, people: People
) -> None:
    with signed_in(app, people.admin) as admin:
        bad_parser = add_feed(admin, parser="nonsense")
        assert bad_parser.status_code == 422
        assert re.search(r'id="f-parser-error">unknown parser', bad_parser.text)
        assert 'value="shadowserver"' in bad_parser.text  # the form keeps what was typed
        bad_options = add_feed(admin, options="{not json")
        assert bad_options.status_code == 422
        assert 'id="f-options-error">options must be JSON' in bad_options.text
        bad_name = add_feed(admin, name="../x")
        assert bad_name.status_code == 422
        assert 'id="f-name-error"' in bad_name.text

        added = add_feed(admin, options='{"parser": {"report": "scan_http"}}')
        assert added.status_code == 303
        assert added.headers["location"] == "/feeds/shadowserver"
        page = admin.get("/feeds/shadowserver", headers=HTML).text
        assert "Feed &#39;shadowserver&#39; added" in page
        assert "This feed has not run yet" in page
        assert "scan_http" in page
        listed = admin.get("/feeds", headers=HTML).text
        assert "Never run" in listed


def test_an_uploaded_file_runs_and_its_findings_reach_the_routed_member_only(
    app: FastAPI, people: People, tmp_path: Path
) -> None:
    sample = dated_today(SAMPLES / "scan_http.csv", tmp_path / "in")
    ips = sample_ips(sample)
    with signed_in(app, people.admin) as admin:
        add_feed(admin)
        page = upload(admin, sample)
        assert f"{len(ips):,} rows in, {len(ips):,} stored" in page
        assert 'id="throughput-chart"' in page
        assert "badge-green" in page  # the run succeeded
        feeds = admin.get("/feeds", headers=HTML).text
        assert "Succeeded" in feeds
        everyone = admin.get("/findings", headers=HTML).text
        assert people.first.name in everyone and people.second.name in everyone

    with signed_in(app, people.first_analyst) as analyst:
        findings = analyst.get("/findings", headers=HTML)
        assert findings.status_code == 200
        assert "Accessible-HTTP" in findings.text
        assert 'id="trend-chart"' in findings.text and 'id="findings-map"' in findings.text
        assert "/findings/map-data?day_from=" in findings.text
        assert people.second.name not in findings.text
        assert f"{in_network(ips, FIRST_NETWORK):,} findings" in findings.text
        assert 'class="badge badge-red">New' in findings.text
        mapped = analyst.get("/findings/map-data").json()
        values = {row["alpha2"]: row["value"] for row in mapped["values"] if row["value"]}
        assert values == expected_countries(sample, FIRST_NETWORK)
        filtered = analyst.get("/findings", params={"status": "closed"}, headers=HTML)
        assert "No alert matches these filters" in filtered.text

    with signed_in(app, people.outsider) as outsider:
        page = outsider.get("/findings", headers=HTML).text
        assert "No findings yet" in page
        assert outsider.get("/findings/map-data").json()["values"][0]["value"] is None


def expected_countries(path: Path, network: str) -> dict[str, float]:
    inside = ipaddress.ip_network(network)
    with path.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if ipaddress.ip_address(row["ip"]) in inside]
    return {country: float(count) for country, count in Counter(r["geo"] for r in rows).items()}


def test_a_file_the_parser_cannot_read_shows_the_error_and_a_failed_run(
    app: FastAPI, people: People
) -> None:
    with signed_in(app, people.admin) as admin:
        add_feed(admin)
        page = upload(admin, SAMPLES / "scan_http-missing-column.csv")
        assert "missing column ip" in page
        assert "alert-error" in page
        assert "Failed" in page
        token = csrf_of(admin, "/feeds/shadowserver")
        nothing = admin.post("/feeds/shadowserver/upload", data={"csrf_token": token}, headers=HTML)
        assert "choose a file to upload" in nothing.text


# ---- the quarantine --------------------------------------------------------------------


def test_the_quarantine_lists_filters_and_reprocesses_ticked_rows(
    app: FastAPI, people: People
) -> None:
    with signed_in(app, people.admin) as admin:
        add_feed(admin)
        upload(admin, SAMPLES / "scan_http-junk-ips.csv")
        page = admin.get("/quarantine", headers=HTML)
        assert page.status_code == 200
        picks = PICK.findall(page.text)
        assert len(picks) == 4
        assert "is not an IP address" in page.text
        assert "scan_http-junk-ips-" in page.text  # the stored file's name
        assert "not-an-ip" in page.text  # the raw row
        assert 'id="reasons"' in page.text
        searched = admin.get("/quarantine", params={"q": "not-an-ip"}, headers=HTML).text
        assert len(PICK.findall(searched)) == 1
        none = admin.get("/quarantine", params={"field": "source.port"}, headers=HTML).text
        assert "No quarantined row matches these filters" in none
        assert admin.get("/quarantine", params={"offset": "-1"}, headers=HTML).status_code == 422

        token = csrf_of(admin, "/quarantine")
        nothing = admin.post("/quarantine/reprocess", data={"csrf_token": token}, headers=HTML)
        assert "Tick the rows to re-process first" in nothing.text
        done = admin.post(
            "/quarantine/reprocess",
            data={"csrf_token": token, "pick": picks[:2]},
            headers=HTML,
        )
        assert "Re-processed 2 of 2 rows: 0 stored, 0 duplicates, 2 quarantined again" in done.text
        after = PICK.findall(admin.get("/quarantine", headers=HTML).text)
        assert len(after) == 4 and not set(picks[:2]) & set(after)
        forged = admin.post(
            "/quarantine/reprocess", data={"csrf_token": token, "pick": "x"}, headers=HTML
        )
        assert "Not rows of the quarantine" in forged.text
