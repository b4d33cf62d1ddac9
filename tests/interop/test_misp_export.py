"""MISP export on SQLite and PostgreSQL: loaded back by PyMISP's MISPEvent and compared,
round trip import(export(x)), the feed directory, and the REST routes with API tokens."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pymisp import MISPEvent  # type: ignore[import-untyped]
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from entente.core.access import ANONYMOUS
from entente.core.errors import BadValue
from entente.interop.misp.exports import event_misp, events_misp
from entente.interop.misp.feed_export import write_feed
from entente.interop.misp.imports import import_events, importer_of
from entente.interop.misp.reading import events_at, events_in_stream
from entente.sharing import service
from entente.sharing.choices import SightingKind
from entente.sharing.filters import EventFilter
from entente.sharing.indicators import IndicatorType
from entente.sharing.models import Event, Indicator
from entente.vocabulary.markings import TLP, Distribution
from tests.factories import auth, make_token
from tests.interop.builders import EVERY_TYPE, event, indicators, member, sighting

DATA = Path(__file__).parent.parent / "data" / "misp"


def loaded(content: dict[str, Any]) -> MISPEvent:
    misp = MISPEvent()
    misp.from_dict(**content)
    return misp


def test_pymisp_loads_the_export_and_it_says_what_entente_holds(session: Session) -> None:
    owner = member(session)
    shared = event(session, owner)
    made = indicators(session, owner, shared, EVERY_TYPE, to_ids=True, comment="seen")
    red = indicators(session, owner, shared, {IndicatorType.MUTEX: "Global\\red"}, tlp=TLP.RED)
    sighting(session, owner, made[0], SightingKind.SEEN)
    content = event_misp(session, owner.principal(session).viewer, shared)
    misp = loaded(json.loads(json.dumps(content)))
    assert (misp.uuid, misp.info, str(misp.date)) == (shared.uuid, shared.title, "2026-11-20")
    assert int(misp.threat_level_id) == 1 and int(misp.analysis) == 1
    assert [t.name for t in misp.tags] == [
        "tlp:green",
        "botnet",
        'rsit:malicious-code="malware-distribution"',
    ]
    got = {a.uuid: a for a in misp.attributes}
    assert set(got) == {i.uuid for i in [*made, *red]}
    for indicator in made:
        attribute = got[indicator.uuid]
        assert attribute.value == indicator.value
        assert attribute.category == indicator.category.label
        assert attribute.to_ids is True and attribute.comment == "seen"
    assert got[made[0].uuid].type == "ip-dst"
    assert {a.type for a in misp.attributes} >= {"domain", "url", "sha256", "AS", "vulnerability"}
    assert [t.name for t in got[red[0].uuid].tags] == ["tlp:red"]
    assert len(got[made[0].uuid].sightings) == 1
    assert misp.Orgc.name == owner.organisation.name


def test_round_trip_keeps_the_event(session: Session) -> None:
    owner = member(session)
    shared = event(session, owner, tlp=TLP.AMBER)
    indicators(session, owner, shared, EVERY_TYPE, to_ids=True, comment="c")
    indicators(session, owner, shared, {IndicatorType.MUTEX: "Global\\red"}, tlp=TLP.RED)
    principal = owner.principal(session)
    before = event_misp(session, principal.viewer, shared)["Event"]
    rows_before = _indicator_rows(session, shared)
    # Gone (its indicators, tags and sightings cascade), as on a hub that never had it.
    session.execute(delete(Event).where(Event.id == shared.id))
    session.commit()
    session.expunge_all()
    body = io.BytesIO(json.dumps({"Event": before}).encode())
    result = import_events(session, importer_of(principal), events_in_stream(body, "x"))
    assert result.imported == 1 and result.rejected == []
    again = session.scalars(select(Event).where(Event.uuid == before["uuid"])).one()
    after = event_misp(session, principal.viewer, again)["Event"]
    # Publication is a person's act on each hub; an attribute's time is when it was stored.
    for content in (before, after):
        for volatile in ("published", "publish_timestamp"):
            content.pop(volatile)
        for attribute in content["Attribute"]:
            attribute.pop("timestamp")
    assert after == before
    assert _indicator_rows(session, again) == rows_before
    assert (again.tlp, again.distribution) == (TLP.AMBER, Distribution.ALL_MEMBERS)


def _indicator_rows(session: Session, target: Event) -> set[tuple[Any, ...]]:
    rows = session.scalars(select(Indicator).where(Indicator.event_id == target.id))
    return {(r.uuid, r.type, r.value, r.category, r.to_ids, r.comment, r.tlp) for r in rows}


def test_a_filtered_export_and_the_feed_hold_only_what_the_viewer_may_see(
    session: Session, tmp_path: Path
) -> None:
    owner, other = member(session), member(session)
    public = event(session, owner, tlp=TLP.CLEAR, distribution=Distribution.PUBLIC)
    mine = event(session, owner, tlp=TLP.RED, distribution=Distribution.ORGANISATION)
    indicators(session, owner, public, {IndicatorType.DOMAIN: "open.example"})
    indicators(session, owner, mine, {IndicatorType.DOMAIN: "secret.example"})
    principal = owner.principal(session)
    for target in (public, mine):
        service.publish_event(session, principal, target)
    other_viewer = other.principal(session).viewer
    exported = [e["Event"]["uuid"] for e in events_misp(session, other_viewer, EventFilter())]
    assert exported == [public.uuid]
    assert [e["Event"]["uuid"] for e in events_misp(session, ANONYMOUS, EventFilter())] == [
        public.uuid
    ]
    written = write_feed(session, principal.viewer, tmp_path)
    assert (written.events, written.attributes) == (2, 2)
    written = write_feed(session, other_viewer, tmp_path)  # the same directory, another viewer
    assert (written.events, written.removed) == (1, 1)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert list(manifest) == [public.uuid]
    assert manifest[public.uuid]["Tag"][0]["name"] == "tlp:clear"
    assert not (tmp_path / f"{mine.uuid}.json").exists()
    misp = MISPEvent()
    misp.load_file(str(tmp_path / f"{public.uuid}.json"))
    assert [a.value for a in misp.attributes] == ["open.example"]
    hashes = list(csv.reader((tmp_path / "hashes.csv").open()))
    assert hashes == [[hashlib.md5(b"open.example").hexdigest(), public.uuid]]
    # The directory reads as a feed; another organisation's UUID is refused, never merged.
    with pytest.raises(BadValue) as refused:
        import_events(session, importer_of(other.principal(session)), events_at(tmp_path))
    assert refused.value.field == "Event.uuid"


def test_the_api_exports_imports_and_serves_a_feed(client: TestClient, session: Session) -> None:
    owner, other = member(session), member(session)
    shared = event(session, owner, tlp=TLP.GREEN)
    hidden = event(session, owner, tlp=TLP.RED, distribution=Distribution.ORGANISATION)
    indicators(session, owner, shared, {IndicatorType.IPV4: "198.51.100.7"})
    for target in (shared, hidden):
        service.publish_event(session, owner.principal(session), target)
    headers = auth(make_token(session, other.user))
    response = client.get(f"/api/v1/events/{shared.id}/misp", headers=headers)
    assert response.status_code == 200, response.text
    assert loaded(response.json()).attributes[0].value == "198.51.100.7"
    assert client.get(f"/api/v1/events/{hidden.id}/misp", headers=headers).status_code == 404
    manifest = client.get("/api/v1/misp/feed/manifest.json", headers=headers)
    assert list(manifest.json()) == [shared.uuid]
    feed_event = client.get(f"/api/v1/misp/feed/{shared.uuid}.json", headers=headers)
    assert feed_event.json()["Event"]["uuid"] == shared.uuid
    assert client.get(f"/api/v1/misp/feed/{hidden.uuid}.json", headers=headers).status_code == 404
    assert client.get("/api/v1/misp/feed/manifest.json").status_code == 401
    listed = client.get("/api/v1/misp/events", headers=headers).json()
    assert [e["Event"]["uuid"] for e in listed["response"]] == [shared.uuid]
    body = (DATA / "event.json").read_bytes()
    imported = client.post("/api/v1/misp/import", content=body, headers=headers)
    assert imported.status_code == 200, imported.text
    assert imported.json()["imported"] == 1
    rejected = {r["field"]: r["value"] for r in imported.json()["rejected"]}
    assert rejected["Event.Attribute[4].value"] == "999.1.1.1"  # the rest is imported
    again = client.post("/api/v1/misp/import", content=body, headers=headers)
    assert again.json()["unchanged"] == 1
    bad = json.loads(body)
    del bad["Event"]["info"]
    refused = client.post("/api/v1/misp/import", json=bad, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "Event.info"
    assert client.post("/api/v1/misp/import", content=b"nope", headers=headers).status_code == 422
