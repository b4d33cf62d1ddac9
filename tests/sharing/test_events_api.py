"""Events and indicators through the REST API, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from entente.core.audit import AuditEntry
from entente.members.choices import Role
from entente.sharing.models import Event, Indicator
from tests.factories import auth, make_organisation, make_token, make_user


def _analyst(session: Session, role: Role = Role.ANALYST) -> dict[str, str]:
    return auth(make_token(session, make_user(session, make_organisation(session), role)))


def _event(client: TestClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    body = {
        "title": "Phishing wave against ministries",
        "event_date": "2026-11-20",
        "tlp": "amber",
        "distribution": "all_members",
        **overrides,
    }
    response = client.post("/api/v1/events", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_bulk_add_keeps_valid_indicators_and_reports_each_bad_one(
    client: TestClient, session: Session
) -> None:
    headers = _analyst(session)
    event = _event(client, headers)
    batch = {
        "indicators": [
            {"type": "url", "value": "hxxp://Evil[.]Example/login"},
            {"type": "ipv4", "value": "999.1.1.1"},
            {"type": "domain", "value": "evil[.]example"},
            {"type": "domain", "value": "EVIL.example"},
            {"type": "sha256", "value": "ab" * 32, "tlp": "green"},
        ]
    }
    response = client.post(f"/api/v1/events/{event['id']}/indicators", json=batch, headers=headers)
    assert response.status_code == 201, response.text
    result = response.json()
    assert [i["value"] for i in result["added"]] == ["http://evil.example/login", "evil.example"]
    assert result["duplicates"] == 1
    fields = {r["field"] for r in result["rejected"]}
    assert fields == {"indicators[1].value", "indicators[4].tlp"}
    event_after = client.get(f"/api/v1/events/{event['id']}", headers=headers).json()
    assert event_after["indicator_count"] == 2


def test_a_batch_with_no_valid_indicator_is_422_and_stores_nothing(
    client: TestClient, session: Session
) -> None:
    headers = _analyst(session)
    event = _event(client, headers)
    batch = {"indicators": [{"type": "url", "value": "http://"}]}
    response = client.post(f"/api/v1/events/{event['id']}/indicators", json=batch, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "indicators[0].value"
    stored = session.scalar(
        select(func.count(Indicator.id)).where(Indicator.event_id == event["id"])
    )
    assert stored == 0


def test_search_finds_a_defanged_value_through_its_canonical_form(
    client: TestClient, session: Session
) -> None:
    headers = _analyst(session)
    event = _event(client, headers)
    batch = {"indicators": [{"type": "ipv6", "value": "2001:DB8:0:0:0:0:0:1"}]}
    client.post(f"/api/v1/events/{event['id']}/indicators", json=batch, headers=headers)
    found = client.get("/api/v1/indicators", params={"value": "2001:db8::1"}, headers=headers)
    assert [i["value"] for i in found.json()["data"]] == ["2001:db8::1"]


def test_another_members_strict_event_is_404_and_absent_everywhere(
    client: TestClient, session: Session
) -> None:
    owner = _analyst(session)
    other = _analyst(session)
    event = _event(client, owner, tlp="amber+strict", distribution="organisation")
    batch = {"indicators": [{"type": "domain", "value": "secret.example"}]}
    client.post(f"/api/v1/events/{event['id']}/indicators", json=batch, headers=owner)
    assert client.get(f"/api/v1/events/{event['id']}", headers=other).status_code == 404
    listed = client.get("/api/v1/events", headers=other).json()["data"]
    assert event["id"] not in {e["id"] for e in listed}
    hits = client.get("/api/v1/indicators", params={"value": "secret.example"}, headers=other)
    assert hits.json()["data"] == []
    # Writing to it is refused the same way: its existence is not revealed.
    response = client.post(f"/api/v1/events/{event['id']}/indicators", json=batch, headers=other)
    assert response.status_code == 404


def test_red_cannot_be_distributed_to_all_members(client: TestClient, session: Session) -> None:
    headers = _analyst(session)
    before = session.scalar(select(func.count(Event.id)))
    body = {
        "title": "x" * 5,
        "event_date": "2026-11-20",
        "tlp": "red",
        "distribution": "all_members",
    }
    response = client.post("/api/v1/events", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "distribution"
    assert session.scalar(select(func.count(Event.id))) == before


def test_readers_may_not_create_events(client: TestClient, session: Session) -> None:
    body = {
        "title": "Reader try",
        "event_date": "2026-11-20",
        "tlp": "green",
        "distribution": "all_members",
    }
    response = client.post("/api/v1/events", json=body, headers=_analyst(session, Role.READER))
    assert response.status_code == 403


def test_publishing_freezes_versions_and_an_edit_waits_for_the_next(
    client: TestClient, session: Session
) -> None:
    headers = _analyst(session)
    event = _event(client, headers)
    first = client.post(f"/api/v1/events/{event['id']}/publish", headers=headers).json()
    assert (first["published"], first["version"]) == (True, 1)
    edited = client.patch(
        f"/api/v1/events/{event['id']}", json={"title": "Phishing wave, updated"}, headers=headers
    ).json()
    assert edited["published"] is False
    second = client.post(f"/api/v1/events/{event['id']}/publish", headers=headers).json()
    assert second["version"] == 2
    history = client.get(f"/api/v1/events/{event['id']}/versions", headers=headers).json()
    assert [(v["version"], v["title"]) for v in history] == [
        (2, "Phishing wave, updated"),
        (1, "Phishing wave against ministries"),
    ]


def test_tightening_the_event_tlp_tightens_its_indicators(
    client: TestClient, session: Session
) -> None:
    headers = _analyst(session)
    event = _event(client, headers, tlp="green")
    batch = {"indicators": [{"type": "md5", "value": "d41d8cd98f00b204e9800998ecf8427e"}]}
    client.post(f"/api/v1/events/{event['id']}/indicators", json=batch, headers=headers)
    client.patch(f"/api/v1/events/{event['id']}", json={"tlp": "amber"}, headers=headers)
    found = client.get("/api/v1/indicators", params={"event_id": event["id"]}, headers=headers)
    assert [i["tlp"] for i in found.json()["data"]] == ["amber"]


def test_a_sharing_group_without_group_distribution_is_refused(
    client: TestClient, session: Session
) -> None:
    headers = _analyst(session)
    body = {
        "title": "Stray group",
        "event_date": "2026-11-20",
        "tlp": "green",
        "distribution": "all_members",
        "sharing_group_id": 999,
    }
    response = client.post("/api/v1/events", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "sharing_group_id"


def test_an_unknown_sharing_group_is_refused_naming_it(
    client: TestClient, session: Session
) -> None:
    headers = _analyst(session)
    body = {
        "title": "Unknown group",
        "event_date": "2026-11-20",
        "tlp": "amber",
        "distribution": "sharing_group",
        "sharing_group_id": 999_999,
    }
    response = client.post("/api/v1/events", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "sharing_group_id"


def test_events_are_found_by_an_indicator_value_only_through_visible_indicators(
    client: TestClient, session: Session
) -> None:
    owner = _analyst(session)
    other = _analyst(session)
    event = _event(client, owner, tlp="green")
    batch = {
        "indicators": [
            {"type": "domain", "value": "open.example"},
            {"type": "domain", "value": "secret.example", "tlp": "red"},
        ]
    }
    client.post(f"/api/v1/events/{event['id']}/indicators", json=batch, headers=owner)

    def found(headers: dict[str, str], value: str) -> list[int]:
        response = client.get("/api/v1/events", params={"value": value}, headers=headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["data"]]

    assert found(other, "open[.]example") == [event["id"]]
    assert found(owner, "secret.example") == [event["id"]]
    # The event is visible to the other member, but its RED indicator is not: no hint of it.
    assert found(other, "secret.example") == []


def test_an_event_carries_its_owner_member_state_in_list_and_detail(
    client: TestClient, session: Session
) -> None:
    owner = auth(make_token(session, make_user(session, make_organisation(session, "KE"))))
    event = _event(client, owner)
    assert event["owner_member_state"] == "KE"
    listed = client.get("/api/v1/events", params={"member_state": "ke"}, headers=owner).json()
    assert [(e["id"], e["owner_member_state"]) for e in listed["data"]] == [(event["id"], "KE")]


def test_sharing_writes_through_the_api_are_audited_with_the_client_address(
    client: TestClient, session: Session
) -> None:
    headers = _analyst(session)
    event = _event(client, headers)
    batch = {"indicators": [{"type": "domain", "value": "audited.example"}]}
    client.post(f"/api/v1/events/{event['id']}/indicators", json=batch, headers=headers)
    entries = session.scalars(
        select(AuditEntry).where(
            AuditEntry.object_type == "event", AuditEntry.object_id == str(event["id"])
        )
    ).all()
    # Starlette's test client connects from the address "testclient".
    assert {(e.action, e.client_address) for e in entries} == {
        ("event.create", "testclient"),
        ("indicator.add", "testclient"),
    }


def test_values_the_event_already_holds_are_counted_as_duplicates_not_stored_again(
    client: TestClient, session: Session
) -> None:
    headers = _analyst(session)
    event = _event(client, headers)
    path = f"/api/v1/events/{event['id']}/indicators"
    first = {"indicators": [{"type": "domain", "value": "once.example"}]}
    assert client.post(path, json=first, headers=headers).json()["added_count"] == 1
    again = {
        "indicators": [
            {"type": "domain", "value": "ONCE[.]example"},
            {"type": "hostname", "value": "once.example"},  # same value, another type: kept
            {"type": "domain", "value": "new.example"},
            {"type": "domain", "value": "new.example"},
        ]
    }
    result = client.post(path, json=again, headers=headers).json()
    assert (result["added_count"], result["duplicates"]) == (2, 2)
    assert sorted((i["type"], i["value"]) for i in result["added"]) == [
        ("domain", "new.example"),
        ("hostname", "once.example"),
    ]
    stored = session.scalar(
        select(func.count(Indicator.id)).where(Indicator.event_id == event["id"])
    )
    assert stored == 3


def test_the_added_indicators_echoed_are_what_reading_them_gives(
    client: TestClient, session: Session
) -> None:
    """The echo is built from the batch, not read back: it must still equal a read."""
    headers = _analyst(session)
    event = _event(client, headers)
    batch = {
        "indicators": [
            {
                "type": "regkey",
                "value": "HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\updater",
                "comment": "tab\there, new line\nthere, a backslash \\ and \\N",
                "to_ids": True,
                "category": "persistence_mechanism",
            },
            {
                "type": "ipv4",
                "value": "10.1.2.3",  # a private range: on a warning list
                "tlp": "red",
                "first_seen": "2026-11-01T10:00:00+02:00",
                "last_seen": "2026-11-02T09:30:00.123456-05:00",
            },
            {"type": "url", "value": "hxxp://Evil[.]Example/a b"},
            {"type": "md5", "value": "A" * 32},
        ]
    }
    response = client.post(f"/api/v1/events/{event['id']}/indicators", json=batch, headers=headers)
    assert response.status_code == 201, response.text
    echoed = response.json()["added"]
    assert len(echoed) == 4
    assert echoed[1]["warning_lists"], echoed[1]
    for item in echoed:
        read = client.get(f"/api/v1/indicators/{item['id']}", headers=headers)
        assert read.json() == item
        assert uuid.UUID(item["uuid"]).version == 7  # time-ordered: see docs/sharing.md
