"""The pipeline's REST API on SQLite and PostgreSQL: feeds and uploads for the hub's
operators, the quarantine and re-processing, and alerts and findings that reach the routed
member and no other (a property over random alert sets)."""

from __future__ import annotations

import csv
import ipaddress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import hypothesis
import polars as pl
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given
from hypothesis import strategies as st
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from entente.alerts.choices import AlertStatus
from entente.alerts.models import Alert
from entente.core.audit import SYSTEM
from entente.core.clock import utcnow
from entente.core.config import Settings
from entente.members.choices import ConstituencyKind, Role
from entente.members.constituencies import add_constituency
from entente.members.constituency_schemas import ConstituencyCreate
from entente.members.models import Organisation
from entente.pipeline.batches import QUARANTINE_SCHEMA, RAW
from entente.pipeline.operations import UPLOADS
from entente.pipeline.quarantine import QuarantineStore
from entente.web.app import create_app
from tests.factories import auth, make_organisation, make_token, make_user

SAMPLES = Path(__file__).parent.parent / "data" / "shadowserver"
SAMPLE_DAY = "2026-11-20"
FIRST_NETWORK = "192.0.2.0/24"
SECOND_NETWORK = "198.51.100.0/24"


# ---- fixtures and helpers (test_ui.py uses them too) -----------------------------------


@pytest.fixture
def hub(settings: Settings, tmp_path: Path) -> Settings:
    """The test settings with the event store, quarantine and uploads under tmp_path."""
    return settings.model_copy(update={"data_dir": tmp_path / "var"})


def hub_app(hub: Settings, session_factory: sessionmaker[Session]) -> FastAPI:
    application = create_app(hub)
    application.state.session_factory = session_factory
    return application


@pytest.fixture
def app(hub: Settings, session_factory: sessionmaker[Session]) -> FastAPI:
    return hub_app(hub, session_factory)


@dataclass
class Members:
    """Two members with a network each, their analysts, and the hub's operator."""

    first: Organisation
    second: Organisation
    admin: dict[str, str]
    first_analyst: dict[str, str]
    second_analyst: dict[str, str]


def declare(session: Session, organisation: Organisation, network: str) -> None:
    data = ConstituencyCreate(
        organisation_id=organisation.id, kind=ConstituencyKind.PREFIX, value=network
    )
    add_constituency(session, SYSTEM, None, data)


@pytest.fixture
def members(session: Session) -> Members:
    first, second = make_organisation(session, "NL"), make_organisation(session, "KE")
    declare(session, first, FIRST_NETWORK)
    declare(session, second, SECOND_NETWORK)
    hub_org = make_organisation(session, "CH")
    return Members(
        first=first,
        second=second,
        admin=auth(make_token(session, make_user(session, hub_org, Role.ADMIN))),
        first_analyst=auth(make_token(session, make_user(session, first))),
        second_analyst=auth(make_token(session, make_user(session, second))),
    )


def dated_today(sample: Path, directory: Path) -> Path:
    """The sample with its findings dated today, so "the last 30 days" always holds them;
    the copy keeps the sample's name (the Shadowserver parser reads the report from it)."""
    directory.mkdir(parents=True, exist_ok=True)
    copy = directory / sample.name
    copy.write_text(sample.read_text().replace(SAMPLE_DAY, utcnow().date().isoformat()))
    return copy


def sample_ips(path: Path) -> list[str]:
    with path.open(newline="") as handle:
        return [row["ip"] for row in csv.DictReader(handle)]


def in_network(ips: list[str], network: str) -> int:
    inside = ipaddress.ip_network(network)
    return sum(ipaddress.ip_address(ip) in inside for ip in ips)


def add_feed(client: TestClient, headers: dict[str, str], name: str = "shadowserver") -> None:
    response = client.post(
        "/api/v1/feeds", json={"name": name, "parser": "shadowserver"}, headers=headers
    )
    assert response.status_code == 201, response.text


def upload(
    client: TestClient, headers: dict[str, str], path: Path, feed: str = "shadowserver"
) -> dict[str, object]:
    with path.open("rb") as handle:
        response = client.post(
            f"/api/v1/feeds/{feed}/upload",
            files={"file": (path.name, handle, "text/csv")},
            headers=headers,
        )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def every_alert(client: TestClient, headers: dict[str, str], **query: str) -> list[dict[str, Any]]:
    """Every alert the caller may read, page after page (small pages: the cursor is tested)."""
    found: list[dict[str, Any]] = []
    params: dict[str, str] = {"limit": "7", **query}
    while True:
        response = client.get("/api/v1/alerts", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        found += body["data"]
        if body["next_cursor"] is None:
            assert body["count"] == len(found)
            return found
        params["cursor"] = body["next_cursor"]


# ---- permissions -----------------------------------------------------------------------


def test_an_analyst_may_not_manage_feeds_nor_read_the_quarantine(
    client: TestClient, members: Members
) -> None:
    add_feed(client, members.admin)
    analyst = members.first_analyst
    refused = [
        client.get("/api/v1/feeds", headers=analyst),
        client.post("/api/v1/feeds", json={"name": "x", "parser": "shadowserver"}, headers=analyst),
        client.get("/api/v1/feeds/shadowserver", headers=analyst),
        client.get("/api/v1/feeds/shadowserver/runs", headers=analyst),
        client.post(
            "/api/v1/feeds/shadowserver/upload",
            files={"file": ("scan_http.csv", b"ip\n192.0.2.1\n", "text/csv")},
            headers=analyst,
        ),
        client.get("/api/v1/quarantine", headers=analyst),
        client.get("/api/v1/quarantine/reasons", headers=analyst),
        client.post(
            "/api/v1/quarantine/reprocess",
            json={"ids": ["00000000-0000-4000-8000-000000000000"]},
            headers=analyst,
        ),
    ]
    assert [response.status_code for response in refused] == [403] * len(refused)
    assert refused[0].json()["error"]["code"] == "permission_denied"
    assert client.get("/api/v1/feeds").status_code == 401
    assert client.get("/api/v1/alerts").status_code == 401


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "scan", "parser": "no-such-parser"}, "parser"),
        ({"name": "scan"}, "parser"),
        ({"name": "../etc", "parser": "shadowserver"}, "name"),
        (
            {"name": "scan", "parser": "shadowserver", "source_kind": "file", "source": "/no/file"},
            "source",
        ),
        ({"name": "scan", "parser": "shadowserver", "interval_minutes": 1}, "interval_minutes"),
        ({"name": "scan", "parser": "shadowserver", "colour": "red"}, "colour"),
    ],
)
def test_a_bad_feed_is_a_422_naming_the_field(
    client: TestClient, members: Members, payload: dict[str, object], field: str
) -> None:
    response = client.post("/api/v1/feeds", json=payload, headers=members.admin)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_a_second_feed_of_the_same_name_is_a_conflict(client: TestClient, members: Members) -> None:
    add_feed(client, members.admin)
    response = client.post(
        "/api/v1/feeds",
        json={"name": "shadowserver", "parser": "shadowserver"},
        headers=members.admin,
    )
    assert response.status_code == 409
    assert response.json()["error"]["field"] == "name"
    assert client.get("/api/v1/feeds/nothing", headers=members.admin).status_code == 404


# ---- uploads and runs ------------------------------------------------------------------


def test_an_upload_runs_the_file_and_its_findings_reach_the_routed_member_only(
    client: TestClient, members: Members, hub: Settings, tmp_path: Path
) -> None:
    sample = dated_today(SAMPLES / "scan_http.csv", tmp_path / "in")
    ips = sample_ips(sample)
    first_count, second_count = in_network(ips, FIRST_NETWORK), in_network(ips, SECOND_NETWORK)
    assert first_count and second_count
    add_feed(client, members.admin)

    run = upload(client, members.admin, sample)

    assert run["status"] == "succeeded"
    assert (run["rows_in"], run["rows_stored"], run["quarantined"]) == (len(ips), len(ips), 0)
    assert run["unrouted"] == len(ips) - first_count - second_count
    saved = Path(str(run["file"]))
    assert saved.parent == hub.data_dir / UPLOADS / "shadowserver"
    assert saved.name.startswith("scan_http-") and saved.suffix == ".csv"
    assert saved.read_bytes() == sample.read_bytes()
    listed = client.get("/api/v1/feeds", headers=members.admin).json()
    assert listed["data"][0]["last_run"]["id"] == run["id"]
    runs = client.get("/api/v1/feeds/shadowserver/runs", headers=members.admin).json()
    assert [item["id"] for item in runs["data"]] == [run["id"]]

    first_alerts = every_alert(client, members.first_analyst)
    second_alerts = every_alert(client, members.second_analyst)
    assert {a["organisation_id"] for a in first_alerts} == {members.first.id}
    assert {a["organisation_id"] for a in second_alerts} == {members.second.id}
    assert sum(a["rows"] for a in first_alerts) == first_count
    assert sum(a["rows"] for a in second_alerts) == second_count
    assert len(every_alert(client, members.admin)) == len(first_alerts) + len(second_alerts)

    summary = client.get("/api/v1/findings/summary", headers=members.first_analyst).json()
    assert summary["total"] == first_count
    assert summary["day_to"] == utcnow().date().isoformat()
    assert len(summary["days"]) == 30
    assert summary["days"][-1] == {"day": utcnow().date().isoformat(), "count": first_count}
    assert sum(item["count"] for item in summary["countries"]) == first_count
    everyone = client.get("/api/v1/findings/summary", headers=members.admin).json()
    assert everyone["total"] == len(ips)


def test_an_upload_with_a_hostile_name_is_kept_in_its_feeds_directory(
    client: TestClient, members: Members, hub: Settings
) -> None:
    add_feed(client, members.admin)
    body = (SAMPLES / "scan_http.csv").read_bytes()
    response = client.post(
        "/api/v1/feeds/shadowserver/upload",
        files={"file": ("../../../etc/scan_http.csv", body, "text/csv")},
        headers=members.admin,
    )
    assert response.status_code == 201, response.text
    saved = Path(response.json()["file"])
    assert saved.parent == hub.data_dir / UPLOADS / "shadowserver"
    assert saved.name.startswith("scan_http-")


def test_a_file_the_parser_cannot_read_is_a_422_and_a_failed_run(
    client: TestClient, members: Members
) -> None:
    add_feed(client, members.admin)
    path = SAMPLES / "scan_http-missing-column.csv"
    with path.open("rb") as handle:
        response = client.post(
            "/api/v1/feeds/shadowserver/upload",
            files={"file": ("scan_http.csv", handle, "text/csv")},
            headers=members.admin,
        )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "parse_error"
    assert "missing column ip" in response.json()["error"]["message"]
    feed = client.get("/api/v1/feeds/shadowserver", headers=members.admin).json()
    assert feed["last_run"]["status"] == "failed"
    assert "missing column ip" in feed["last_run"]["error"]


def test_an_empty_or_missing_file_is_a_422_naming_the_file(
    client: TestClient, members: Members
) -> None:
    add_feed(client, members.admin)
    empty = client.post(
        "/api/v1/feeds/shadowserver/upload",
        files={"file": ("scan_http.csv", b"", "text/csv")},
        headers=members.admin,
    )
    missing = client.post(
        "/api/v1/feeds/shadowserver/upload", data={"other": "x"}, headers=members.admin
    )
    assert (empty.status_code, missing.status_code) == (422, 422)
    assert empty.json()["error"]["field"] == "file"
    assert missing.json()["error"]["field"] == "file"


def test_an_upload_over_the_body_limit_is_a_413(
    hub: Settings, session_factory: sessionmaker[Session], members: Members
) -> None:
    small = hub.model_copy(update={"max_body_bytes": 2048})
    with TestClient(hub_app(small, session_factory)) as client:
        add_feed(client, members.admin)
        response = client.post(
            "/api/v1/feeds/shadowserver/upload",
            files={"file": ("scan_http.csv", b"x" * 4096, "text/csv")},
            headers=members.admin,
        )
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
        runs = client.get("/api/v1/feeds/shadowserver/runs", headers=members.admin).json()
    assert runs["count"] == 0
    assert not (small.data_dir / UPLOADS / "shadowserver").exists() or not any(
        (small.data_dir / UPLOADS / "shadowserver").iterdir()
    )


# ---- quarantine and re-processing ------------------------------------------------------


def test_the_quarantine_lists_filters_pages_and_counts_reasons(
    client: TestClient, members: Members
) -> None:
    add_feed(client, members.admin)
    run = upload(client, members.admin, SAMPLES / "scan_http-junk-ips.csv")
    assert run["quarantined"] == 4

    listed = client.get("/api/v1/quarantine", headers=members.admin).json()
    assert listed["total"] == 4
    assert {row["field"] for row in listed["data"]} == {"source.ip"}
    assert all(row["feed"] == "shadowserver" and row["line"] for row in listed["data"])
    searched = client.get(
        "/api/v1/quarantine", params={"q": "NOT-AN-IP"}, headers=members.admin
    ).json()
    assert [row["line"] for row in searched["data"]] == [3]
    assert "not-an-ip" in searched["data"][0]["raw"]
    other_field = client.get(
        "/api/v1/quarantine", params={"field": "source.port"}, headers=members.admin
    ).json()
    assert other_field["total"] == 0
    pages = [
        client.get(
            "/api/v1/quarantine", params={"limit": 3, "offset": offset}, headers=members.admin
        ).json()
        for offset in (0, 3)
    ]
    assert [len(page["data"]) for page in pages] == [3, 1]
    assert len({row["id"] for page in pages for row in page["data"]}) == 4
    reasons = client.get("/api/v1/quarantine/reasons", headers=members.admin).json()
    assert sum(item["count"] for item in reasons) == 4
    assert all(item["field"] == "source.ip" for item in reasons)
    bad_page = client.get("/api/v1/quarantine", params={"limit": 0}, headers=members.admin)
    assert bad_page.status_code == 422
    assert bad_page.json()["error"]["field"] == "limit"


def test_reprocessing_stores_fixed_rows_and_quarantines_the_still_bad_ones_anew(
    client: TestClient, members: Members, hub: Settings, tmp_path: Path
) -> None:
    add_feed(client, members.admin)
    upload(client, members.admin, dated_today(SAMPLES / "scan_http-junk-ips.csv", tmp_path / "in"))
    store = QuarantineStore(hub.store_dir)
    rows, _total = store.list(limit=10)
    bad = rows.filter(pl.col(RAW).str.contains("999.1.1.1", literal=True))
    # The same row as an analyst would want it back after a fix: a good address this time.
    fixed = bad.select(list(QUARANTINE_SCHEMA)).with_columns(
        pl.col(RAW).str.replace("999.1.1.1", "192.0.2.99", literal=True)
    )
    store.add("shadowserver", fixed)
    fixed_id = next(row["id"] for row in store.list(q="192.0.2.99", limit=1)[0].to_dicts())
    still_bad_id = bad["id"][0]
    first_before = sum(a["rows"] for a in every_alert(client, members.first_analyst))
    second_before = every_alert(client, members.second_analyst)
    unknown_id = "00000000-0000-4000-8000-000000000000"

    response = client.post(
        "/api/v1/quarantine/reprocess",
        json={"ids": [fixed_id, still_bad_id, unknown_id]},
        headers=members.admin,
    )

    assert response.status_code == 200, response.text
    report = response.json()
    assert report == {
        "picked": 3,
        "reprocessed": 2,
        "stored": 1,
        "duplicates": 0,
        "quarantined": 1,
        "skipped": 1,
        "alerts": 1,
    }
    after = client.get("/api/v1/quarantine", params={"limit": 100}, headers=members.admin).json()
    ids = {row["id"] for row in after["data"]}
    assert fixed_id not in ids and still_bad_id not in ids
    assert after["total"] == 4  # the three others, and the still bad one under a new id
    first_after = sum(a["rows"] for a in every_alert(client, members.first_analyst))
    assert first_after == first_before + 1  # 192.0.2.99 is the first member's
    assert every_alert(client, members.second_analyst) == second_before


def test_reprocessing_refuses_what_is_not_a_quarantine_id(
    client: TestClient, members: Members
) -> None:
    for body, field in (({"ids": []}, "ids"), ({"ids": ["../x"]}, "ids.0"), ({}, "ids")):
        response = client.post("/api/v1/quarantine/reprocess", json=body, headers=members.admin)
        assert response.status_code == 422
        assert response.json()["error"]["field"] == field


# ---- alerts: each member its own -------------------------------------------------------

TODAY = datetime(2026, 11, 20, 12, tzinfo=UTC)


def make_alert(session: Session, organisation: Organisation, **fields: object) -> Alert:
    values: dict[str, object] = {
        "organisation_id": organisation.id,
        "day": TODAY.date(),
        "feed_name": "scan_http",
        "taxonomy": "vulnerable",
        "type": "vulnerable-system",
        "identifier": "accessible-http",
        "rows": 3,
        "first_seen": TODAY,
        "last_seen": TODAY,
        "samples": [],
        "status": AlertStatus.NEW,
    }
    values.update(fields)
    alert = Alert(**values)
    session.add(alert)
    session.commit()
    return alert


def test_alert_filters_narrow_the_list(
    client: TestClient, session: Session, members: Members
) -> None:
    first = members.first
    make_alert(session, first)
    make_alert(session, first, day=date(2026, 11, 1), identifier="old", status=AlertStatus.CLOSED)
    make_alert(session, first, feed_name="scan_dns", type="ddos-amplifier", identifier="dns")
    analyst = members.first_analyst

    def days(**query: str) -> list[str]:
        return sorted(alert["identifier"] for alert in every_alert(client, analyst, **query))

    assert days() == ["accessible-http", "dns", "old"]
    assert days(status="closed") == ["old"]
    assert days(feed="scan_dns") == ["dns"]
    assert days(type="vulnerable-system") == ["accessible-http", "old"]
    assert days(taxonomy="vulnerable", day_from="2026-11-10") == ["accessible-http", "dns"]
    assert days(day_to="2026-11-10") == ["old"]
    backwards = client.get(
        "/api/v1/alerts", params={"day_from": "2026-11-20", "day_to": "2026-11-01"}, headers=analyst
    )
    assert backwards.status_code == 422
    assert backwards.json()["error"]["field"] == "day_to"
    assert (
        client.get("/api/v1/alerts", params={"status": "lost"}, headers=analyst).status_code == 422
    )


ALERT_KEYS = st.tuples(
    st.integers(0, 2),  # whose: the first member, the second, or a third nobody logs in as
    st.integers(0, 40),  # days before TODAY
    st.sampled_from(["scan_http", "scan_dns"]),
    st.sampled_from(["vulnerable-system", "infected-system"]),
    st.sampled_from(["a", "b"]),
)


@pytest.mark.slow
def test_a_member_reads_its_own_alerts_and_never_another_members(
    client: TestClient,
    session_factory: sessionmaker[Session],
    connection: Connection,
    members: Members,
    session: Session,
) -> None:
    third = make_organisation(session, "BR")
    owners = [members.first, members.second, third]
    examples = max(20, hypothesis.settings.default.max_examples // 5)
    runs: list[int] = []
    readers = {
        members.first.id: members.first_analyst,
        members.second.id: members.second_analyst,
    }

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    # A large world every time (hypothesis alone may draw only small ones): 25 alerts of the
    # three owners in every status.
    @example(
        keys=[(i % 3, i, "scan_http", "vulnerable-system", "a") for i in range(25)],
        statuses=[list(AlertStatus)[i % len(AlertStatus)] for i in range(25)],
        status=None,
    )
    @given(
        keys=st.lists(ALERT_KEYS, max_size=25, unique=True),
        statuses=st.lists(st.sampled_from(AlertStatus), min_size=25, max_size=25),
        status=st.none() | st.sampled_from(AlertStatus),
    )
    def check(
        keys: list[tuple[int, int, str, str, str]],
        statuses: list[AlertStatus],
        status: AlertStatus | None,
    ) -> None:
        runs.append(len(keys))
        savepoint = connection.begin_nested()
        try:
            with session_factory() as writer:
                made = [
                    (
                        owners[whose].id,
                        make_alert(
                            writer,
                            owners[whose],
                            day=TODAY.date() - timedelta(days=days),
                            last_seen=TODAY - timedelta(days=days),
                            feed_name=feed,
                            type=kind,
                            identifier=identifier,
                            status=statuses[index],
                        ),
                    )
                    for index, (whose, days, feed, kind, identifier) in enumerate(keys)
                ]
                expected = {
                    alert.id: owner
                    for owner, alert in made
                    if status is None or alert.status is status
                }
            query = {} if status is None else {"status": status.value}
            for organisation_id, headers in readers.items():
                seen = every_alert(client, headers, **query)
                assert {a["organisation_id"] for a in seen} <= {organisation_id}
                assert sorted(a["id"] for a in seen) == sorted(
                    alert_id for alert_id, owner in expected.items() if owner == organisation_id
                )
            everyone = every_alert(client, members.admin, **query)
            assert sorted(a["id"] for a in everyone) == sorted(expected)
        finally:
            savepoint.rollback()

    check()
    assert len(runs) >= examples // 2 and max(runs) == 25, "the property barely ran"


def test_findings_summary_checks_its_day_range(client: TestClient, members: Members) -> None:
    analyst = members.first_analyst
    empty = client.get(
        "/api/v1/findings/summary",
        params={"day_from": "2026-01-01", "day_to": "2026-01-03"},
        headers=analyst,
    ).json()
    assert empty == {
        "day_from": "2026-01-01",
        "day_to": "2026-01-03",
        "total": 0,
        "days": [{"day": f"2026-01-0{n}", "count": 0} for n in (1, 2, 3)],
        "countries": [],
    }
    for params, field in (
        ({"day_from": "2026-02-01", "day_to": "2026-01-01"}, "day_to"),
        ({"day_from": "1900-01-01", "day_to": "2026-01-01"}, "day_from"),
        ({"day_from": "yesterday"}, "day_from"),
    ):
        response = client.get("/api/v1/findings/summary", params=params, headers=analyst)
        assert response.status_code == 422
        assert response.json()["error"]["field"] == field
    start_of_time = client.get(
        "/api/v1/findings/summary", params={"day_to": "0001-01-02"}, headers=analyst
    )
    assert start_of_time.status_code == 200
    assert len(start_of_time.json()["days"]) == 2
