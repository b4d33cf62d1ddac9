"""The members API end to end through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from entente.members.choices import Role
from entente.members.models import Organisation
from tests.factories import auth, make_organisation, make_token, make_user


def test_member_states_lists_all_194_publicly(client: TestClient) -> None:
    response = client.get("/api/v1/member-states", params={"limit": 1000})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 194
    assert len(body["data"]) == 194
    assert body["next_cursor"] is None
    codes = {state["alpha2"] for state in body["data"]}
    assert {"GH", "FR", "BR", "JP", "VA", "RU", "EG"} <= codes


def test_member_states_paginate_without_gaps_or_repeats(client: TestClient) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 37}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/api/v1/member-states", params=params).json()
        seen.extend(state["alpha2"] for state in body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 194
    assert len(set(seen)) == 194


def test_create_organisation_as_admin_is_audited(client: TestClient, session: Session) -> None:
    admin = make_user(session, make_organisation(session), Role.ADMIN)
    token = make_token(session, admin)
    response = client.post(
        "/api/v1/organisations",
        headers=auth(token),
        json={"name": "CERT-Test Ghana", "type": "national_cert", "member_state": "gh"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["member_state"] == "GH"
    audit = client.get(
        "/api/v1/audit", headers=auth(token), params={"action": "organisation.create"}
    )
    assert any(e["detail"].get("name") == "CERT-Test Ghana" for e in audit.json()["data"])


def test_unknown_country_code_is_422_naming_the_field(client: TestClient, session: Session) -> None:
    admin = make_user(session, make_organisation(session), Role.ADMIN)
    token = make_token(session, admin)
    before = session.scalar(select(func.count(Organisation.id)))
    response = client.post(
        "/api/v1/organisations",
        headers=auth(token),
        json={"name": "Nowhere CERT", "type": "national_cert", "member_state": "QQ"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "member_state"
    assert session.scalar(select(func.count(Organisation.id))) == before
