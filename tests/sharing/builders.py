"""Members, events and indicators built through the REST API, for the sharing API tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from entente.members.choices import Role
from entente.members.models import Organisation
from tests.factories import auth, make_organisation, make_token, make_user


@dataclass(frozen=True)
class Member:
    """A user of one organisation, with the headers its API token authenticates."""

    organisation: Organisation
    headers: dict[str, str]


def member(
    session: Session,
    role: Role = Role.ANALYST,
    organisation: Organisation | None = None,
    member_state: str = "GH",
) -> Member:
    """A user of `organisation` (a new one in `member_state` if not given) and its token."""
    organisation = organisation or make_organisation(session, member_state=member_state)
    user = make_user(session, organisation, role)
    return Member(organisation, auth(make_token(session, user)))


def create_event(client: TestClient, who: Member, **overrides: Any) -> dict[str, Any]:
    body = {
        "title": "Botnet C2 infrastructure",
        "event_date": "2026-11-20",
        "tlp": "green",
        "distribution": "all_members",
        **overrides,
    }
    response = client.post("/api/v1/events", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def add_indicators(
    client: TestClient, who: Member, event: dict[str, Any], *items: dict[str, Any]
) -> list[dict[str, Any]]:
    """Add indicators (`{"type": ..., "value": ...}`) and return the added ones, in order."""
    response = client.post(
        f"/api/v1/events/{event['id']}/indicators",
        json={"indicators": list(items)},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["rejected"] == [], result["rejected"]
    return list(result["added"])


def add_indicator(
    client: TestClient, who: Member, event: dict[str, Any], kind: str, value: str, **extra: Any
) -> dict[str, Any]:
    return add_indicators(client, who, event, {"type": kind, "value": value, **extra})[0]


def search(client: TestClient, who: Member, **params: Any) -> list[dict[str, Any]]:
    """`GET /indicators` with filters; every page's rows (the default page is enough here)."""
    response = client.get("/api/v1/indicators", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def match(client: TestClient, who: Member, *values: str, **extra: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/indicators/match", json={"values": list(values), **extra}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())
