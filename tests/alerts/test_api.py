"""The alert lifecycle's REST routes: status codes and the fields and alerts they name."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.alerts.choices import AlertStatus
from entente.core.audit import AuditEntry
from entente.members.choices import Role
from entente.members.models import Organisation, User
from tests.alerts.builders import make_alert
from tests.factories import auth, make_organisation, make_token, make_user

S = AlertStatus


@dataclass
class Team:
    organisation: Organisation
    analyst: User
    analyst_headers: dict[str, str]
    reader_headers: dict[str, str]
    other_headers: dict[str, str]


@pytest.fixture
def team(session: Session) -> Team:
    organisation = make_organisation(session)
    analyst = make_user(session, organisation, Role.ANALYST)
    reader = make_user(session, organisation, Role.READER)
    other = make_user(session, make_organisation(session, member_state="KE"), Role.ORG_ADMIN)
    return Team(
        organisation,
        analyst,
        auth(make_token(session, analyst)),
        auth(make_token(session, reader)),
        auth(make_token(session, other)),
    )


def test_transition_then_detail_and_timeline(
    client: TestClient, session: Session, team: Team
) -> None:
    alert = make_alert(session, team.organisation)
    moved = client.post(
        f"/api/v1/alerts/{alert.id}/transition",
        json={"to": "acknowledged"},
        headers=team.analyst_headers,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "acknowledged"
    assert moved.json()["allowed_statuses"] == ["remediated", "false_positive", "closed"]
    timeline = client.get(f"/api/v1/alerts/{alert.id}/timeline", headers=team.analyst_headers)
    assert [(e["kind"], e["from_value"], e["to_value"], e["actor"]) for e in timeline.json()] == [
        ("status", "new", "acknowledged", team.analyst.username)
    ]
    detail = client.get(f"/api/v1/alerts/{alert.id}", headers=team.reader_headers).json()
    assert (detail["status"], detail["may_change"], detail["allowed_statuses"]) == (
        "acknowledged",
        False,
        [],
    )


def test_a_bad_transition_is_409_naming_the_alert_and_the_states(
    client: TestClient, session: Session, team: Team
) -> None:
    alert = make_alert(session, team.organisation, status=S.CLOSED)
    refused = client.post(
        f"/api/v1/alerts/{alert.id}/transition",
        json={"to": "remediated"},
        headers=team.analyst_headers,
    )
    assert refused.status_code == 409
    assert (
        f"alert {alert.id} cannot go from closed to remediated"
        in refused.json()["error"]["message"]
    )


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("transition", {"to": "lost"}, "to"),
        ("transition", {"to": "new", "extra": 1}, "extra"),
        ("assign", {"assignee_id": 0}, "assignee_id"),
        ("comments", {"body": ""}, "body"),
    ],
)
def test_bad_fields_are_422_naming_the_field(
    client: TestClient, session: Session, team: Team, path: str, body: dict[str, object], field: str
) -> None:
    alert = make_alert(session, team.organisation)
    response = client.post(
        f"/api/v1/alerts/{alert.id}/{path}", json=body, headers=team.analyst_headers
    )
    assert response.status_code == 422
    assert field in (response.json()["error"]["field"] or "")


def test_reopening_without_reason_and_foreign_assignee_are_422(
    client: TestClient, session: Session, team: Team
) -> None:
    alert = make_alert(session, team.organisation, status=S.REMEDIATED)
    reopen = client.post(
        f"/api/v1/alerts/{alert.id}/transition", json={"to": "new"}, headers=team.analyst_headers
    )
    assert (reopen.status_code, reopen.json()["error"]["field"]) == (422, "reason")
    stranger = make_user(session, make_organisation(session, member_state="FR"))
    assign = client.post(
        f"/api/v1/alerts/{alert.id}/assign",
        json={"assignee_id": stranger.id},
        headers=team.analyst_headers,
    )
    assert (assign.status_code, assign.json()["error"]["field"]) == (422, "assignee_id")


def test_another_members_alert_is_404_on_every_route(
    client: TestClient, session: Session, team: Team
) -> None:
    alert = make_alert(session, team.organisation)
    headers = team.other_headers
    for method, path, body in (
        ("GET", "", None),
        ("GET", "/timeline", None),
        ("POST", "/transition", {"to": "closed"}),
        ("POST", "/assign", {"assignee_id": None}),
        ("POST", "/comments", {"body": "hello"}),
    ):
        response = client.request(
            method, f"/api/v1/alerts/{alert.id}{path}", json=body, headers=headers
        )
        assert response.status_code == 404, (path, response.text)
    bulk = client.post(
        "/api/v1/alerts/bulk",
        json={"action": "close", "filter": {"ids": [alert.id]}},
        headers=headers,
    )
    assert bulk.status_code == 404
    session.expire_all()
    assert alert.status is S.NEW


def test_a_reader_is_403(client: TestClient, session: Session, team: Team) -> None:
    alert = make_alert(session, team.organisation)
    response = client.post(
        f"/api/v1/alerts/{alert.id}/transition",
        json={"to": "acknowledged"},
        headers=team.reader_headers,
    )
    assert response.status_code == 403


def test_comments_are_stored_as_written(client: TestClient, session: Session, team: Team) -> None:
    alert = make_alert(session, team.organisation)
    body = "Fixed on **web01** <script>alert(1)</script>"
    made = client.post(
        f"/api/v1/alerts/{alert.id}/comments", json={"body": body}, headers=team.analyst_headers
    )
    assert made.status_code == 201
    assert made.json()["body"] == body and made.json()["kind"] == "comment"


def test_bulk_actions_through_the_api(client: TestClient, session: Session, team: Team) -> None:
    alerts = [make_alert(session, team.organisation, feed="scan_ftp") for _ in range(3)]
    closed = make_alert(session, team.organisation, feed="scan_ftp", status=S.CLOSED)
    ack = client.post(
        "/api/v1/alerts/bulk",
        json={"action": "acknowledge", "filter": {"feed": "scan_ftp", "status": "new"}},
        headers=team.analyst_headers,
    )
    assert ack.status_code == 200, ack.text
    assert sorted(ack.json()["alert_ids"]) == sorted(a.id for a in alerts)
    assign = client.post(
        "/api/v1/alerts/bulk",
        json={"action": "assign", "filter": {"feed": "scan_ftp"}, "assignee_id": team.analyst.id},
        headers=team.analyst_headers,
    )
    assert assign.json()["changed"] == 4
    conflict = client.post(
        "/api/v1/alerts/bulk",
        json={"action": "acknowledge", "filter": {"feed": "scan_ftp"}},
        headers=team.analyst_headers,
    )
    assert conflict.status_code == 409
    assert f"alert {closed.id}" in conflict.json()["error"]["message"]
    empty = client.post(
        "/api/v1/alerts/bulk", json={"action": "close", "filter": {}}, headers=team.analyst_headers
    )
    assert (empty.status_code, empty.json()["error"]["field"]) == (422, "filter")
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.action.like("alert.bulk%"))
    )
    assert list(actions) == ["alert.bulk_acknowledge", "alert.bulk_assign"]
