"""Warning lists through the REST API: flags on entry, the admin switch, the check endpoint."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from entente.members.choices import Role
from tests.sharing.builders import Member, add_indicators, create_event, member, search

RESOLVERS = "public-dns-resolvers"
SPECIAL = "special-ranges"
TOP = "top-domains"


def _switch(client: TestClient, who: Member, name: str, enabled: bool) -> Any:
    return client.put(
        f"/api/v1/warninglists/{name}", json={"enabled": enabled}, headers=who.headers
    )


def _check(client: TestClient, who: Member, kind: str, *values: str) -> Any:
    return client.post(
        "/api/v1/warninglists/check",
        json={"type": kind, "values": list(values)},
        headers=who.headers,
    )


def test_values_on_warning_lists_are_flagged_on_entry(client: TestClient, session: Session) -> None:
    owner = member(session)
    event = create_event(client, owner)
    added = add_indicators(
        client,
        owner,
        event,
        {"type": "ipv4", "value": "8.8.8.8"},
        {"type": "ipv4", "value": "10.1.2.3"},
        {"type": "hostname", "value": "www.google.com"},
        {"type": "domain", "value": "Microsoft.com"},
        {"type": "url", "value": "hxxps://login.microsoftonline[.]com/common"},
        {"type": "ipv4", "value": "45.155.205.60"},
        {"type": "domain", "value": "evilgoogle.com"},
        {"type": "cidr", "value": "10.20.0.0/16"},
        {"type": "email-src", "value": "Ceo.Office@Gmail.com"},
    )
    assert {row["value"]: row["warning_lists"] for row in added} == {
        "8.8.8.8": [RESOLVERS],
        "10.1.2.3": [SPECIAL],
        "www.google.com": [TOP],
        "microsoft.com": [TOP],
        "https://login.microsoftonline.com/common": [TOP],
        "45.155.205.60": [],
        "evilgoogle.com": [],
        "10.20.0.0/16": [SPECIAL],
        "Ceo.Office@gmail.com": [TOP],  # the local part keeps its case
    }
    # The flags are stored, not recomputed: reading the indicator shows them too.
    stored = client.get(f"/api/v1/indicators/{added[0]['id']}", headers=owner.headers).json()
    assert stored["warning_lists"] == [RESOLVERS]


def test_warning_filter_finds_the_flagged_ones(client: TestClient, session: Session) -> None:
    owner = member(session)
    event = create_event(client, owner)
    add_indicators(
        client,
        owner,
        event,
        {"type": "ipv4", "value": "8.8.8.8"},
        {"type": "ipv4", "value": "10.1.2.3"},
        {"type": "domain", "value": "google.com"},
        {"type": "ipv4", "value": "45.155.205.61"},
    )
    flagged = {row["value"] for row in search(client, owner, event_id=event["id"], warning=True)}
    assert flagged == {"8.8.8.8", "10.1.2.3", "google.com"}
    clean = {row["value"] for row in search(client, owner, event_id=event["id"], warning=False)}
    assert clean == {"45.155.205.61"}


def test_a_list_an_admin_switches_off_no_longer_flags_new_entries(
    client: TestClient, session: Session
) -> None:
    owner = member(session)
    admin = member(session, Role.ADMIN)
    event = create_event(client, owner)
    before = add_indicators(client, owner, event, {"type": "ipv4", "value": "8.8.8.8"})[0]
    response = _switch(client, admin, RESOLVERS, False)
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["enabled"]) == (RESOLVERS, False)
    listed = client.get("/api/v1/warninglists", headers=owner.headers).json()
    assert {item["name"]: item["enabled"] for item in listed} == {
        RESOLVERS: False,
        SPECIAL: True,
        TOP: True,
        "cloud-ranges-sample": True,
    }
    after = add_indicators(
        client,
        owner,
        event,
        {"type": "ipv4", "value": "8.8.4.4"},
        {"type": "ipv4", "value": "10.9.9.9"},  # another list, still on
    )
    assert [row["warning_lists"] for row in after] == [[], [SPECIAL]]
    # Flags set on entry are kept: switching a list off does not rewrite history.
    kept = client.get(f"/api/v1/indicators/{before['id']}", headers=owner.headers).json()
    assert kept["warning_lists"] == [RESOLVERS]
    assert _check(client, owner, "ipv4", "8.8.8.8").json() == {"hits": {"8.8.8.8": []}}
    # Back on: new entries are flagged again.
    assert _switch(client, admin, RESOLVERS, True).json()["enabled"] is True
    again = add_indicators(client, owner, event, {"type": "ipv4", "value": "1.1.1.1"})[0]
    assert again["warning_lists"] == [RESOLVERS]


@pytest.mark.parametrize("role", [Role.ORG_ADMIN, Role.ANALYST, Role.READER])
def test_only_platform_admins_switch_lists(
    client: TestClient, session: Session, role: Role
) -> None:
    response = _switch(client, member(session, role), SPECIAL, False)
    assert response.status_code == 403
    listed = client.get("/api/v1/warninglists", headers=member(session).headers).json()
    assert {item["name"]: item["enabled"] for item in listed}[SPECIAL] is True


def test_switching_an_unknown_list_is_404(client: TestClient, session: Session) -> None:
    response = _switch(client, member(session, Role.ADMIN), "no-such-list", False)
    assert response.status_code == 404
    assert "no-such-list" in response.json()["error"]["message"]


def test_the_switch_is_audited(client: TestClient, session: Session) -> None:
    admin = member(session, Role.ADMIN)
    _switch(client, admin, TOP, False)
    entries = client.get(
        "/api/v1/audit", params={"action": "warninglist.switch"}, headers=admin.headers
    ).json()["data"]
    assert [(e["object_type"], e["object_id"], e["detail"]) for e in entries][:1] == [
        ("warninglist", TOP, {"enabled": False})
    ]


def test_check_answers_per_canonical_value(client: TestClient, session: Session) -> None:
    who = member(session, Role.READER)
    response = _check(client, who, "hostname", "WWW.Google.com.", "mail.evil.example")
    assert response.status_code == 200, response.text
    assert response.json() == {"hits": {"www.google.com": [TOP], "mail.evil.example": []}}


def test_check_with_a_bad_value_is_refused_naming_its_position(
    client: TestClient, session: Session
) -> None:
    who = member(session)
    response = _check(client, who, "ipv4", "8.8.8.8", "8.8.8.888", "1.1.1.1")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "values[1]"


def test_check_with_no_values_is_refused(client: TestClient, session: Session) -> None:
    response = _check(client, member(session), "ipv4")
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "values"


def test_warning_lists_need_authentication(client: TestClient) -> None:
    assert client.get("/api/v1/warninglists").status_code == 401
