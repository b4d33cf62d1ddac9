"""STIX export and import through the REST API with API tokens, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from entente.core.config import Settings
from entente.sharing.indicators import IndicatorType
from entente.vocabulary.markings import TLP, Distribution
from entente.web.app import create_app
from tests.conftest import make_settings
from tests.factories import auth, make_token
from tests.interop.builders import Member, assert_strictly_valid, event, indicators, member
from tests.interop.test_import import SAMPLE, SAMPLE_PATH

ABSENT = 2**31 - 1


def headers_of(session: Session, who: Member) -> dict[str, str]:
    return auth(make_token(session, who.user))


def test_events_export_as_streamed_bundles_for_those_who_may_see_them(
    client: TestClient, session: Session
) -> None:
    owner, other = member(session), member(session)
    shared = event(session, owner, tags=["lagoon"])
    indicators(session, owner, shared, {IndicatorType.URL: "http://lagoon.example/a"})
    hidden = event(session, owner, TLP.RED, distribution=Distribution.ORGANISATION)
    response = client.get(f"/api/v1/events/{shared.id}/stix", headers=headers_of(session, owner))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/stix+json;version=2.1"
    assert f"entente-event-{shared.id}.json" in response.headers["content-disposition"]
    assert_strictly_valid(response.text)
    # Hidden answers exactly as absent: its existence is not revealed.
    other_headers = headers_of(session, other)
    absent = client.get(f"/api/v1/events/{ABSENT}/stix", headers=other_headers)
    refused = client.get(f"/api/v1/events/{hidden.id}/stix", headers=other_headers)
    assert refused.status_code == absent.status_code == 404
    assert refused.json()["error"]["code"] == absent.json()["error"]["code"]
    assert client.get(f"/api/v1/events/{shared.id}/stix").status_code == 401
    # The filtered export takes the event list's filters.
    filtered = client.get("/api/v1/stix/bundle", params={"tag": "lagoon"}, headers=other_headers)
    assert filtered.status_code == 200, filtered.text
    containers = [o for o in json.loads(filtered.text)["objects"] if o["type"] == "grouping"]
    assert [c["external_references"][0]["external_id"] for c in containers] == [shared.uuid]


def test_a_bundle_imports_into_an_event_and_again_adds_nothing(
    client: TestClient, session: Session
) -> None:
    owner = member(session)
    shared = event(session, owner)
    headers = headers_of(session, owner)
    url = "/api/v1/stix/import"
    body = SAMPLE_PATH.read_bytes()
    first = client.post(url, params={"event_id": shared.id}, content=body, headers=headers)
    assert first.status_code == 200, first.text
    assert (first.json()["objects_stored"], first.json()["indicators_added"]) == (26, 5)
    again = client.post(url, params={"event_id": shared.id}, content=body, headers=headers)
    assert (again.json()["objects_stored"], again.json()["objects_unchanged"]) == (0, 26)
    created = client.post(url, params={"new_event": "Lagoon"}, content=body, headers=headers)
    assert created.status_code == 200 and created.json()["created_event"]
    made = client.get(f"/api/v1/events/{created.json()['event_id']}", headers=headers).json()
    assert (made["title"], made["distribution"], made["tlp"]) == ("Lagoon", "organisation", "green")


def test_bad_imports_are_4xx_naming_the_field(client: TestClient, session: Session) -> None:
    owner, other = member(session), member(session)
    shared = event(session, owner)
    url = "/api/v1/stix/import"
    headers = headers_of(session, owner)

    def post(content: bytes, **params: object) -> tuple[int, dict[str, object]]:
        response = client.post(url, params=params, content=content, headers=headers)
        return response.status_code, response.json()["error"]

    status, error = post(b'{"type": "bundle", "objects": [', event_id=shared.id)
    assert (status, error["code"]) == (422, "parse_error")
    assert "request body" in str(error["message"])
    tool = next(o for o in SAMPLE["objects"] if o["type"] == "tool")
    nameless = {"type": "bundle", "objects": [{k: v for k, v in tool.items() if k != "name"}]}
    status, error = post(json.dumps(nameless).encode(), event_id=shared.id)
    assert (status, error["field"]) == (422, "objects[0].name")
    assert tool["id"] in str(error["message"])
    status, error = post(b'{"type": "bundle", "spec_version": "2.0"}', event_id=shared.id)
    assert (status, error["field"]) == (422, "spec_version")
    status, error = post(b"{}", event_id=shared.id, new_event="Both")
    assert (status, error["field"]) == (422, "event_id")
    foreign = client.post(
        url,
        params={"event_id": shared.id},
        content=SAMPLE_PATH.read_bytes(),
        headers=headers_of(session, other),
    )
    assert foreign.status_code == 403, "another member may see the event, not write to it"


def test_a_bundle_over_the_body_limit_is_413(
    session: Session, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    small = create_app(make_settings(settings.database_url, max_body_bytes=4096))
    small.state.session_factory = session_factory
    owner = member(session)
    headers = headers_of(session, owner)
    with TestClient(small) as client:
        response = client.post(
            "/api/v1/stix/import",
            params={"new_event": "Too big"},
            content=SAMPLE_PATH.read_bytes(),
            headers=headers,
        )
    assert response.status_code == 413, response.text
