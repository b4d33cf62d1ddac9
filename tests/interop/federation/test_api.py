"""/api/v1/peers (admins only) and /api/v1/federation on SQLite and PostgreSQL: the token
never shown back, bad options a 422 naming the field, pushes only from a known hub."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.core.audit import AuditEntry
from entente.interop.federation.identity import local_hub_uuid
from entente.members.choices import Role
from tests.factories import auth, make_organisation, make_token, make_user
from tests.interop import builders
from tests.interop.federation.wire import OTHER_HUB, as_sent_by_other_hub, make_peer, publish

TOKEN = "ent_their-secret-token-1234"


def peer_body(**values: Any) -> dict[str, Any]:
    return {
        "name": "global-hub",
        "base_url": "https://global.example.org",
        "api_token": TOKEN,
        "direction": "both",
        "max_tlp": "amber",
        "tags": ["botnet"],
        **values,
    }


@pytest.fixture
def admin(session: Session) -> dict[str, str]:
    user = make_user(session, make_organisation(session), Role.ADMIN)
    return auth(make_token(session, user))


def test_a_peer_is_created_listed_changed_and_removed(
    client: TestClient, session: Session, admin: dict[str, str]
) -> None:
    created = client.post("/api/v1/peers", json=peer_body(), headers=admin)
    assert created.status_code == 201, created.text
    peer = created.json()
    assert "api_token" not in peer and TOKEN not in created.text
    assert peer["token_hint"] == "…1234" and peer["max_tlp"] == "amber"
    listed = client.get("/api/v1/peers", headers=admin)
    assert listed.json()["count"] == 1 and TOKEN not in listed.text
    changed = client.patch(
        f"/api/v1/peers/{peer['id']}", json={"enabled": False, "api_token": "ent_new-token-9999"},
        headers=admin,
    )  # fmt: skip
    assert changed.json()["enabled"] is False and changed.json()["token_hint"] == "…9999"
    assert client.delete(f"/api/v1/peers/{peer['id']}", headers=admin).status_code == 204
    assert client.get(f"/api/v1/peers/{peer['id']}", headers=admin).status_code == 404
    logged = session.scalars(select(AuditEntry.detail).where(AuditEntry.object_type == "peer"))
    assert all(TOKEN not in str(detail) for detail in logged)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"max_tlp": "purple"}, "max_tlp"),
        ({"base_url": "ftp://global.example.org"}, "base_url"),
        ({"api_token": "short"}, "api_token"),
        ({"remote_hub_uuid": "not-a-uuid"}, "remote_hub_uuid"),
    ],
)
def test_bad_peer_options_are_a_422_naming_the_field(
    client: TestClient, admin: dict[str, str], values: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/peers", json=peer_body(**values), headers=admin)
    assert response.status_code == 422
    assert field in response.json()["error"]["field"]


def test_only_admins_manage_peers(client: TestClient, session: Session) -> None:
    analyst = make_user(session, make_organisation(session), Role.ANALYST)
    headers = auth(make_token(session, analyst))
    assert client.get("/api/v1/peers", headers=headers).status_code == 403
    assert client.post("/api/v1/peers", json=peer_body(), headers=headers).status_code == 403


def test_a_push_is_accepted_only_from_a_hub_with_an_agreement(
    client: TestClient, session: Session, admin: dict[str, str]
) -> None:
    owner = builders.member(session)
    item = as_sent_by_other_hub(
        session, owner, publish(session, owner, builders.event(session, owner))
    )
    body = {"hub": OTHER_HUB, "events": [item]}
    refused = client.post("/api/v1/federation/events", json=body, headers=admin)
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "hub"
    make_peer(session)
    accepted = client.post("/api/v1/federation/events", json=body, headers=admin)
    assert accepted.status_code == 200 and accepted.json()["imported"] == 1
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "peer"))
    assert "federation.receive" in set(actions)


def test_a_pull_serves_what_the_token_user_sees_with_envelopes(
    client: TestClient, session: Session
) -> None:
    owner = builders.member(session)
    reader = builders.member(session)
    shared = publish(session, owner, builders.event(session, owner))
    publish(session, owner, builders.event(session, owner, distribution="organisation"))
    headers = auth(make_token(session, reader.user))
    hub = client.get("/api/v1/federation/hub", headers=headers).json()["hub_uuid"]
    assert hub == local_hub_uuid(session)
    answer = client.get("/api/v1/federation/events", params={"hub": OTHER_HUB}, headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [item["Event"]["uuid"] for item in body["response"]] == [shared.uuid]
    assert body["response"][0]["Federation"]["chain"] == [hub]
    later = client.get(
        "/api/v1/federation/events", params={"hub": OTHER_HUB, "since": body["until"]},
        headers=headers,
    )  # fmt: skip
    assert later.json()["response"] == []
    back = client.get("/api/v1/federation/events", params={"hub": hub}, headers=headers)
    assert back.json()["response"] == []  # never served to a hub already in the chain
