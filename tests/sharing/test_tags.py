"""Event tags through the REST API: shared owner tags, local tags, taxonomies, filters."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from entente.members.choices import Role
from tests.sharing.builders import Member, add_indicator, create_event, member, search

C2 = 'rsit:malicious-code="c2-server"'


def _tag(client: TestClient, who: Member, event: dict[str, Any], tag: str) -> Any:
    return client.post(f"/api/v1/events/{event['id']}/tags", json={"tag": tag}, headers=who.headers)


def _untag(client: TestClient, who: Member, event: dict[str, Any], tag: str) -> Any:
    return client.delete(
        f"/api/v1/events/{event['id']}/tags", params={"tag": tag}, headers=who.headers
    )


def _tags_seen_by(client: TestClient, who: Member, event: dict[str, Any]) -> list[str]:
    response = client.get(f"/api/v1/events/{event['id']}", headers=who.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["tags"])


def _event_ids(client: TestClient, who: Member, **params: Any) -> set[int]:
    response = client.get("/api/v1/events", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return {e["id"] for e in response.json()["data"]}


def test_the_owners_tags_are_shared_with_everyone_who_sees_the_event(
    client: TestClient, session: Session
) -> None:
    owner, other = member(session), member(session)
    event = create_event(client, owner, tags=[C2, "Operation Nightfall"])
    assert _tag(client, owner, event, "pap:green").status_code == 200
    expected = sorted([C2, "Operation Nightfall", "pap:green"])
    assert _tags_seen_by(client, owner, event) == expected
    assert _tags_seen_by(client, other, event) == expected
    listed = client.get("/api/v1/events", headers=other.headers).json()["data"]
    assert [e["tags"] for e in listed if e["id"] == event["id"]] == [expected]


def test_another_members_tags_are_seen_only_by_that_member(
    client: TestClient, session: Session
) -> None:
    owner, tagger, bystander = member(session), member(session), member(session)
    event = create_event(client, owner, tags=[C2])
    response = _tag(client, tagger, event, "our case 2026-114")
    assert response.status_code == 200, response.text
    assert response.json()["tags"] == sorted([C2, "our case 2026-114"])
    assert _tags_seen_by(client, tagger, event) == sorted([C2, "our case 2026-114"])
    assert _tags_seen_by(client, owner, event) == [C2]
    assert _tags_seen_by(client, bystander, event) == [C2]


def test_a_colleague_sees_the_local_tags_of_its_own_organisation(
    client: TestClient, session: Session
) -> None:
    owner, tagger = member(session), member(session)
    colleague = member(session, organisation=tagger.organisation)
    event = create_event(client, owner)
    _tag(client, tagger, event, "triaged")
    assert _tags_seen_by(client, colleague, event) == ["triaged"]


def test_an_unknown_taxonomy_value_is_refused_naming_the_tag(
    client: TestClient, session: Session
) -> None:
    owner = member(session)
    event = create_event(client, owner)
    response = _tag(client, owner, event, 'rsit:malicious-code="ransomware-of-doom"')
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "tag"
    assert "ransomware-of-doom" in error["message"]
    assert _tags_seen_by(client, owner, event) == []


def test_an_unknown_taxonomy_value_at_creation_is_refused(
    client: TestClient, session: Session
) -> None:
    owner = member(session)
    body = {
        "title": "Bad tag",
        "event_date": "2026-11-20",
        "tlp": "green",
        "distribution": "all_members",
        "tags": ["fine free tag", 'rsit:no-such-predicate="x"'],
    }
    response = client.post("/api/v1/events", json=body, headers=owner.headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert "no-such-predicate" in error["message"]
    assert error["field"] == "tags[1]"


def test_a_taxonomy_tag_is_stored_in_its_canonical_spelling(
    client: TestClient, session: Session
) -> None:
    owner = member(session)
    event = create_event(client, owner)
    response = _tag(client, owner, event, 'RSIT:Malicious-Code="C2-Server"')
    assert response.status_code == 200, response.text
    assert response.json()["tags"] == [C2]


@pytest.mark.parametrize("tag", ["tlp:red", "TLP:AMBER+STRICT", " tlp:clear"])
def test_a_tlp_tag_is_refused_pointing_to_the_tlp_field(
    client: TestClient, session: Session, tag: str
) -> None:
    owner = member(session)
    event = create_event(client, owner)
    response = _tag(client, owner, event, tag)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "tag"
    assert "`tlp` field" in error["message"]


def test_free_tags_are_kept_as_written(client: TestClient, session: Session) -> None:
    owner = member(session)
    event = create_event(client, owner)
    for tag in ["  Campaign: Winter Phish  ", "ÉLYSÉE-leak", "x"]:
        assert _tag(client, owner, event, tag).status_code == 200
    assert _tags_seen_by(client, owner, event) == sorted(
        ["Campaign: Winter Phish", "ÉLYSÉE-leak", "x"]
    )


def test_a_control_character_in_a_tag_is_refused(client: TestClient, session: Session) -> None:
    owner = member(session)
    response = _tag(client, owner, create_event(client, owner), "bad\ttag")
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "tag"


def test_tagging_twice_keeps_one_tag(client: TestClient, session: Session) -> None:
    owner = member(session)
    event = create_event(client, owner)
    _tag(client, owner, event, "dup")
    assert _tag(client, owner, event, "dup").json()["tags"] == ["dup"]


def test_removing_someone_elses_tag_is_404_and_keeps_it(
    client: TestClient, session: Session
) -> None:
    owner, other = member(session), member(session)
    event = create_event(client, owner, tags=["owner-tag"])
    _tag(client, other, event, "local-tag")
    response = _untag(client, other, event, "owner-tag")
    assert response.status_code == 404
    assert response.json()["error"]["field"] == "tag"
    assert _untag(client, owner, event, "local-tag").status_code == 404
    assert _untag(client, owner, event, "never-there").status_code == 404
    assert _tags_seen_by(client, owner, event) == ["owner-tag"]
    assert _tags_seen_by(client, other, event) == ["local-tag", "owner-tag"]


def test_removing_ones_own_tag(client: TestClient, session: Session) -> None:
    owner, other = member(session), member(session)
    event = create_event(client, owner, tags=["owner-tag"])
    _tag(client, other, event, "local-tag")
    response = _untag(client, other, event, "local-tag")
    assert response.status_code == 200, response.text
    assert response.json()["tags"] == ["owner-tag"]
    assert _untag(client, owner, event, "owner-tag").json()["tags"] == []


def test_readers_may_not_tag_and_hidden_events_are_404(
    client: TestClient, session: Session
) -> None:
    owner, other = member(session), member(session)
    reader = member(session, Role.READER)
    event = create_event(client, owner)
    assert _tag(client, reader, event, "x").status_code == 403
    hidden = create_event(client, owner, tlp="red", distribution="organisation")
    assert _tag(client, other, hidden, "x").status_code == 404
    assert _untag(client, other, hidden, "x").status_code == 404


def _publish(client: TestClient, who: Member, event: dict[str, Any]) -> None:
    response = client.post(f"/api/v1/events/{event['id']}/publish", headers=who.headers)
    assert response.json()["published"] is True


def test_an_owner_tag_change_unpublishes_a_published_event(
    client: TestClient, session: Session
) -> None:
    owner, other = member(session), member(session)
    event = create_event(client, owner)
    _publish(client, owner, event)
    assert _tag(client, owner, event, "new-finding").json()["published"] is False
    _publish(client, owner, event)
    assert _untag(client, owner, event, "new-finding").json()["published"] is False
    _publish(client, owner, event)
    # Another member's local tag is not part of what the owner shares.
    assert _tag(client, other, event, "local").json()["published"] is True
    assert _untag(client, other, event, "local").json()["published"] is True


def test_tag_filter_on_events(client: TestClient, session: Session) -> None:
    owner, tagger, bystander = member(session), member(session), member(session)
    tagged = create_event(client, owner, tags=[C2])
    untagged = create_event(client, owner, tags=["other"])
    # Any spelling of a taxonomy tag finds it.
    found = _event_ids(client, bystander, tag='rsit:MALICIOUS-CODE="c2-server"')
    assert tagged["id"] in found
    assert untagged["id"] not in found
    _tag(client, tagger, untagged, "watchlist")
    assert _event_ids(client, tagger, tag="watchlist") == {untagged["id"]}
    # A local tag never finds the event for anyone else.
    assert _event_ids(client, bystander, tag="watchlist") == set()
    assert _event_ids(client, owner, tag="watchlist") == set()


def test_tag_filter_on_indicators(client: TestClient, session: Session) -> None:
    owner, tagger, bystander = member(session), member(session), member(session)
    tagged = create_event(client, owner, tags=[C2])
    untagged = create_event(client, owner)
    inside = add_indicator(client, owner, tagged, "domain", "c2.example")
    add_indicator(client, owner, untagged, "domain", "benign-ish.example")
    assert [i["id"] for i in search(client, bystander, tag=C2)] == [inside["id"]]
    _tag(client, tagger, untagged, "watchlist")
    assert [i["value"] for i in search(client, tagger, tag="watchlist")] == ["benign-ish.example"]
    assert search(client, bystander, tag="watchlist") == []


def test_a_tlp_tag_as_filter_is_refused_naming_the_tag(
    client: TestClient, session: Session
) -> None:
    owner = member(session)
    response = client.get("/api/v1/events", params={"tag": "tlp:red"}, headers=owner.headers)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "tag"


def test_tag_changes_are_audited(client: TestClient, session: Session) -> None:
    owner, other = member(session), member(session)
    admin = member(session, Role.ADMIN)
    event = create_event(client, owner)
    _tag(client, other, event, "local")
    _untag(client, other, event, "local")
    entries = client.get(
        "/api/v1/audit", params={"object_type": "event"}, headers=admin.headers
    ).json()["data"]
    mine = [(e["action"], e["detail"]) for e in entries if e["object_id"] == str(event["id"])]
    assert ("event.tag", {"tag": "local", "local": True}) in mine
    assert ("event.untag", {"tag": "local"}) in mine
