"""Writing to collections over TAXII 2.1 (TestClient): envelopes into the writer's inbox
event, status resources, partial success, object delete where the caller owns the object."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.interop.taxii.media import TAXII_MEDIA_TYPE
from entente.interop.taxii.models import TaxiiInbox
from entente.sharing.indicators import IndicatorType
from entente.sharing.models import Event, Indicator
from entente.vocabulary.markings import TLP, Distribution
from tests.factories import make_sharing_group
from tests.interop.builders import event, indicators, member
from tests.interop.taxii.builders import ROOT, collection, objects_url, taxii_headers

CREATED = "2026-11-20T10:00:00.000Z"


def indicator_object(value: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": CREATED,
        "modified": CREATED,
        "pattern": f"[domain-name:value = '{value}']",
        "pattern_type": "stix",
        "valid_from": CREATED,
        **extra,
    }


def malware_object() -> dict[str, Any]:
    return {
        "type": "malware",
        "spec_version": "2.1",
        "id": f"malware--{uuid.uuid4()}",
        "created": CREATED,
        "modified": CREATED,
        "name": "Lagoon loader",
        "is_family": True,
    }


def post(client: TestClient, headers: dict[str, str], url: str, objects: list[Any]) -> Any:
    return client.post(
        url, headers={**headers, "Content-Type": TAXII_MEDIA_TYPE}, json={"objects": objects}
    )


def test_a_partially_valid_envelope_stores_the_valid_objects_and_reports_each(
    client: TestClient, session: Session
) -> None:
    writer, reader = member(session), member(session)
    target = collection(session, [reader], [writer], tags=["lagoon"])
    good = indicator_object("posted.example")
    kept = malware_object()
    missing_pattern = indicator_object("broken.example")
    del missing_pattern["pattern"]
    bad_pattern = indicator_object("x", pattern="[domain-name:value = ")
    headers = taxii_headers(session, writer)
    response = post(
        client, headers, objects_url(target), [good, kept, missing_pattern, bad_pattern, "text"]
    )
    assert response.status_code == 202, response.text
    assert response.headers["content-type"] == TAXII_MEDIA_TYPE
    status = response.json()
    assert status["status"] == "complete"
    assert (
        status["total_count"],
        status["success_count"],
        status["failure_count"],
        status["pending_count"],
    ) == (5, 2, 3, 0)
    assert {s["id"] for s in status["successes"]} == {good["id"], kept["id"]}
    assert all(s["version"] == CREATED for s in status["successes"])
    failures = {f["id"]: f["message"] for f in status["failures"]}
    assert "pattern" in failures[missing_pattern["id"]]
    assert bad_pattern["id"] in failures and "objects[4]" in failures
    # The status resource is stored and read back the same.
    again = client.get(f"{ROOT}/status/{status['id']}/", headers=headers)
    assert again.status_code == 200 and again.json() == status
    # Another organisation does not see someone else's status.
    other = client.get(f"{ROOT}/status/{status['id']}/", headers=taxii_headers(session, reader))
    assert other.status_code == 404
    # The objects are in the writer's inbox event, which the collection selects, so the
    # reader reads them there, as posted.
    inbox = session.scalar(select(TaxiiInbox).where(TaxiiInbox.collection_id == target.id))
    assert inbox is not None
    inbox_event = session.get_one(Event, inbox.event_id)
    assert inbox_event.owner_organisation_id == writer.organisation.id
    assert inbox_event.distribution is Distribution.ALL_MEMBERS and inbox_event.tlp is TLP.AMBER
    values = session.scalars(select(Indicator.value).where(Indicator.event_id == inbox_event.id))
    assert list(values) == ["posted.example"]
    read = client.get(objects_url(target), headers=taxii_headers(session, reader)).json()["objects"]
    assert {o["id"]: o for o in read} == {good["id"]: good, kept["id"]: kept}
    # Posting the same envelope again goes to the same event and adds nothing.
    repeat = post(client, headers, objects_url(target), [good, kept]).json()
    assert repeat["success_count"] == 2
    assert (
        len(
            client.get(objects_url(target), headers=taxii_headers(session, reader)).json()[
                "objects"
            ]
        )
        == 2
    )


def test_writes_into_a_group_collection_reach_the_group_only(
    client: TestClient, session: Session
) -> None:
    writer, peer, outsider = member(session), member(session), member(session)
    group = make_sharing_group(
        session, writer.organisation, [writer.organisation, peer.organisation]
    )
    target = collection(
        session, [peer, outsider], [writer], sharing_group_id=group.id, max_tlp=TLP.AMBER_STRICT
    )
    posted = post(
        client,
        taxii_headers(session, writer),
        objects_url(target),
        [indicator_object("group.example")],
    )
    assert posted.json()["success_count"] == 1
    inbox = session.scalar(select(TaxiiInbox).where(TaxiiInbox.collection_id == target.id))
    assert inbox is not None
    assert session.get_one(Event, inbox.event_id).distribution is Distribution.SHARING_GROUP
    assert (
        len(client.get(objects_url(target), headers=taxii_headers(session, peer)).json()["objects"])
        == 1
    )
    assert client.get(objects_url(target), headers=taxii_headers(session, outsider)).json() == {
        "more": False
    }


def test_an_envelope_with_only_invalid_objects_stores_nothing_and_says_why(
    client: TestClient, session: Session
) -> None:
    writer = member(session)
    target = collection(session, [writer], [writer])
    status = post(
        client, taxii_headers(session, writer), objects_url(target), [{"type": "indicator"}]
    ).json()
    assert (status["success_count"], status["failure_count"]) == (0, 1)
    assert status["failures"][0]["id"] == "objects[0]"
    assert session.scalar(select(TaxiiInbox).where(TaxiiInbox.collection_id == target.id)) is None


def test_delete_removes_only_objects_of_the_callers_organisation(
    client: TestClient, session: Session
) -> None:
    owner, other = member(session), member(session)
    target = collection(session, [], [owner, other])
    posted = indicator_object("delete-me.example")
    post(client, taxii_headers(session, owner), objects_url(target), [posted])
    shared = event(session, owner)
    (native,) = indicators(session, owner, shared, {IndicatorType.DOMAIN: "native.example"})
    read = client.get(objects_url(target), headers=taxii_headers(session, other)).json()["objects"]
    native_id = next(o["id"] for o in read if o.get("name") == "native.example")
    refused = client.delete(
        f"{objects_url(target)}{posted['id']}/", headers=taxii_headers(session, other)
    )
    assert refused.status_code == 403 and refused.json()["http_status"] == "403"
    owner_headers = taxii_headers(session, owner)
    for object_id in (posted["id"], native_id):
        deleted = client.delete(f"{objects_url(target)}{object_id}/", headers=owner_headers)
        assert deleted.status_code == 200, deleted.text
        gone = client.get(f"{objects_url(target)}{object_id}/", headers=owner_headers)
        assert gone.status_code == 404
    assert session.scalar(select(Indicator.id).where(Indicator.id == native.id)) is None
    assert client.get(objects_url(target), headers=owner_headers).json() == {"more": False}
