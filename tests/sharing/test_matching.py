"""`POST /indicators/match`: any spelling matches, hidden and expired indicators never do."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from entente.core.clock import utcnow
from entente.members.choices import Role
from entente.sharing.matching import MAX_MATCH_VALUES
from tests.sharing.builders import add_indicator, add_indicators, create_event, match, member


def test_values_in_any_spelling_match_their_indicator(client: TestClient, session: Session) -> None:
    owner = member(session)
    reader = member(session, Role.READER)
    event = create_event(client, owner)
    url, domain, address, digest = add_indicators(
        client,
        owner,
        event,
        {"type": "url", "value": "http://evil.example/login"},
        {"type": "domain", "value": "evil.example"},
        {"type": "ipv6", "value": "2a01:4f8::7"},
        {"type": "md5", "value": "ab" * 16},
    )
    sent = ["hxxp://Evil[.]Example/login", "EVIL[.]example", "2A01:04F8:0::7", "AB" * 16]
    result = match(client, reader, *sent, "nothing.example")
    assert result["matched_values"] == 4
    assert {(m["value"], m["indicator_id"], m["canonical_value"]) for m in result["matches"]} == {
        (sent[0], url["id"], url["value"]),
        (sent[1], domain["id"], domain["value"]),
        (sent[2], address["id"], address["value"]),
        (sent[3], digest["id"], digest["value"]),
    }
    assert {m["event_id"] for m in result["matches"]} == {event["id"]}
    assert all(m["score"] > 0 for m in result["matches"])


def test_the_type_narrows_how_values_are_read(client: TestClient, session: Session) -> None:
    owner = member(session)
    add_indicator(client, owner, create_event(client, owner), "domain", "evil.example")
    # Read as a domain, the spelling is canonicalised; read as a hash, it is taken as sent.
    assert match(client, owner, "EVIL[.]Example", type="domain")["matched_values"] == 1
    assert match(client, owner, "EVIL[.]Example", type="md5")["matches"] == []


def test_one_value_in_two_events_matches_both_and_counts_once(
    client: TestClient, session: Session
) -> None:
    first, second, asker = member(session), member(session), member(session)
    one = add_indicator(client, first, create_event(client, first), "domain", "shared.example")
    two = add_indicator(client, second, create_event(client, second), "domain", "shared.example")
    result = match(client, asker, "shared.example", "Shared.Example", "shared.example")
    assert result["matched_values"] == 2  # two spellings sent; the repeated one counts once
    pairs = sorted((m["value"], m["indicator_id"]) for m in result["matches"])
    assert pairs == sorted(
        (value, indicator["id"])
        for value in ("shared.example", "Shared.Example")
        for indicator in (one, two)
    )


def test_hidden_indicators_never_match(client: TestClient, session: Session) -> None:
    owner, other = member(session), member(session)
    secret = create_event(client, owner, tlp="amber+strict", distribution="organisation")
    add_indicator(client, owner, secret, "domain", "secret.example")
    shared = create_event(client, owner, tlp="green")
    add_indicator(client, owner, shared, "domain", "strict.example", tlp="amber+strict")
    assert match(client, other, "secret.example", "strict.example")["matches"] == []
    assert match(client, owner, "secret.example", "strict.example")["matched_values"] == 2


def test_expired_indicators_never_match(client: TestClient, session: Session) -> None:
    owner = member(session)
    year_ago = (utcnow() - timedelta(days=365)).isoformat()
    event = create_event(client, owner)
    add_indicator(client, owner, event, "ipv4", "45.155.205.70", last_seen=year_ago)
    add_indicator(client, owner, event, "domain", "stale.example", last_seen=year_ago)
    add_indicator(client, owner, event, "sha1", "c" * 40, last_seen=year_ago)  # never decays
    result = match(client, owner, "45.155.205.70", "stale.example", "c" * 40)
    assert [m["value"] for m in result["matches"]] == ["c" * 40]


def test_a_large_batch_is_matched_in_chunks(client: TestClient, session: Session) -> None:
    owner = member(session)
    event = create_event(client, owner)
    first = add_indicator(client, owner, event, "md5", f"{1:032x}")
    last = add_indicator(client, owner, event, "md5", f"{MAX_MATCH_VALUES:032x}")
    values = [f"{n:032x}" for n in range(1, MAX_MATCH_VALUES + 1)]
    result = match(client, owner, *values)
    assert sorted(m["indicator_id"] for m in result["matches"]) == [first["id"], last["id"]]


def test_more_than_ten_thousand_values_is_refused(client: TestClient, session: Session) -> None:
    owner = member(session)
    response = client.post(
        "/api/v1/indicators/match",
        json={"values": ["x.example"] * (MAX_MATCH_VALUES + 1)},
        headers=owner.headers,
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "values"


def test_an_empty_batch_or_empty_value_is_refused(client: TestClient, session: Session) -> None:
    owner = member(session)
    for body, field in [({"values": []}, "values"), ({"values": ["ok.example", ""]}, "values.1")]:
        response = client.post("/api/v1/indicators/match", json=body, headers=owner.headers)
        assert response.status_code == 422
        assert response.json()["error"]["field"] == field


def test_matching_needs_authentication(client: TestClient) -> None:
    response = client.post("/api/v1/indicators/match", json={"values": ["x.example"]})
    assert response.status_code == 401


def test_a_match_on_a_known_benign_value_carries_its_warning_lists(
    client: TestClient, session: Session
) -> None:
    owner = member(session)
    event = create_event(client, owner)
    add_indicators(
        client,
        owner,
        event,
        {"type": "ipv4", "value": "8.8.8.8"},
        {"type": "domain", "value": "evil.example"},
    )
    result = match(client, owner, "8.8.8.8", "evil.example")
    flags = {m["value"]: m["warning_lists"] for m in result["matches"]}
    assert flags["evil.example"] == []
    assert flags["8.8.8.8"]  # a public resolver: noise, not an attack
