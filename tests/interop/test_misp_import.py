"""MISP import on SQLite and PostgreSQL: the mapping, idempotency, updates, fail-closed
markings and bad input reported per field (service level; API and CLI in their own files)."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from entente.core.audit import SYSTEM
from entente.core.errors import BadValue, ParseError
from entente.interop.misp.imports import Importer, import_events
from entente.interop.misp.reading import events_at, events_in_stream
from entente.interop.misp.schemas import MispImportResult
from entente.members.models import Organisation
from entente.sharing.choices import AnalysisState, SightingKind, ThreatLevel
from entente.sharing.indicators import Category, IndicatorType
from entente.sharing.models import Event, EventTag, Indicator, Sighting
from entente.vocabulary.markings import TLP, Distribution
from tests.factories import make_organisation, make_sharing_group

DATA = Path(__file__).parent.parent / "data" / "misp"
FEED = Path(__file__).parent.parent / "data" / "misp_feed"
EVENT_UUID = "5e1c6a2b-3d4f-4a5b-8c6d-7e8f9a0b1c01"


def sample(name: str = "event.json") -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / name).read_text())
    return loaded


def run(session: Session, importer: Importer, content: Any) -> MispImportResult:
    body = io.BytesIO(json.dumps(content).encode())
    return import_events(session, importer, events_in_stream(body, "test"))


@pytest.fixture
def importer(session: Session) -> Importer:
    return Importer(make_organisation(session).id, SYSTEM)


def indicators_of(session: Session, event: Event) -> dict[str, Indicator]:
    rows = session.scalars(select(Indicator).where(Indicator.event_id == event.id))
    return {row.uuid: row for row in rows}


def test_an_event_maps_onto_entente(session: Session, importer: Importer) -> None:
    result = run(session, importer, sample())
    assert (result.imported, result.refused) == (1, 0)
    event = session.scalars(select(Event).where(Event.uuid == EVENT_UUID)).one()
    assert event.title == "Emotet wave targeting ministries"
    assert (event.threat_level, event.analysis) == (ThreatLevel.HIGH, AnalysisState.ONGOING)
    assert (event.tlp, event.distribution) == (TLP.GREEN, Distribution.ALL_MEMBERS)
    assert event.owner_organisation_id == importer.organisation_id
    assert int(event.updated_at.timestamp()) == 1794300000
    tags = set(session.scalars(select(EventTag.name).where(EventTag.event_id == event.id)))
    assert tags == {
        'rsit:malicious-code="malware-distribution"',
        'misp-galaxy:malpais="Emotet"',
        'misp-galaxy:threat-actor="Mummy Spider"',
    }  # the TLP is the marking, the local tag stays with its MISP
    found = indicators_of(session, event)
    ip = found["5e1c6a2b-0000-4000-8000-000000000001"]
    assert (ip.type, ip.value, ip.category, ip.to_ids, ip.comment) == (
        IndicatorType.IPV4,
        "198.51.100.23",
        Category.NETWORK_ACTIVITY,
        True,
        "C2",
    )
    assert ip.first_seen is not None and ip.first_seen.day == 1
    assert found["5e1c6a2b-0000-4000-8000-000000000002"].value == "bad-loader.example"
    sha = found["5e1c6a2b-0000-4000-8000-000000000003"]
    assert (sha.type, sha.value) == (
        IndicatorType.SHA256,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    )
    url = found["5e1c6a2b-0000-4000-8000-000000000004"]
    assert (url.value, url.tlp) == ("http://bad-loader.example/payload.bin", TLP.AMBER)
    # Kept to its organisation in MISP: RED here, the only way to narrow an indicator.
    assert found["5e1c6a2b-0000-4000-8000-000000000008"].tlp is TLP.RED
    # Object attributes too; the deleted one, the bad one and the unknown type are not.
    assert found["5e1c6a2b-0000-4000-8000-000000000009"].type is IndicatorType.SHA1
    assert found["5e1c6a2b-0000-4000-8000-00000000000a"].type is IndicatorType.FILENAME
    assert len(found) == 7
    fields = {r.field for r in result.rejected}
    assert fields == {"Event.Attribute[4].value", "Event.Attribute[5].type"}
    kinds = session.scalars(select(Sighting.kind).where(Sighting.indicator_id == ip.id))
    assert sorted(kinds) == sorted([SightingKind.SEEN, SightingKind.FALSE_POSITIVE])


def test_reimport_adds_nothing_and_a_newer_timestamp_updates(
    session: Session, importer: Importer
) -> None:
    first = run(session, importer, sample())
    again = run(session, importer, sample())
    assert (again.imported, again.unchanged, again.indicators_added) == (0, 1, 0)
    event_id = first.events[0].event_id
    assert session.scalar(select(func.count()).select_from(Sighting)) == 2
    newer = sample()
    newer["Event"]["timestamp"] = "1794390000"
    newer["Event"]["info"] = "Emotet wave, second look"
    mutex = {"uuid": "5e1c6a2b-0000-4000-8000-0000000000ff", "type": "mutex", "value": "Mx-1"}
    newer["Event"]["Attribute"] = [*newer["Event"]["Attribute"][:2], mutex]
    newer["Event"]["Attribute"][0]["comment"] = "C2, confirmed"
    del newer["Event"]["Object"]
    updated = run(session, importer, newer)
    assert (updated.updated, updated.indicators_added) == (1, 1)
    assert updated.events[0].indicators_removed == 5
    session.expire_all()
    event = session.get_one(Event, event_id)
    assert event.title == "Emotet wave, second look"
    found = indicators_of(session, event)
    assert set(found) == {
        "5e1c6a2b-0000-4000-8000-000000000001",
        "5e1c6a2b-0000-4000-8000-000000000002",
        "5e1c6a2b-0000-4000-8000-0000000000ff",
    }
    assert found["5e1c6a2b-0000-4000-8000-000000000001"].comment == "C2, confirmed"
    # The same newer version once more: nothing.
    assert run(session, importer, newer).unchanged == 1


def test_another_organisations_uuid_is_refused_not_merged(
    session: Session, importer: Importer
) -> None:
    run(session, importer, sample())
    other = Importer(make_organisation(session).id, SYSTEM)
    newer = sample()
    newer["Event"]["timestamp"] = "1794390000"
    with pytest.raises(BadValue) as caught:
        run(session, other, newer)
    assert caught.value.field == "Event.uuid"


def test_a_restsearch_dump_and_unknown_sharing_group_fail_closed(
    session: Session, importer: Importer
) -> None:
    result = run(session, importer, sample("restsearch.json"))
    assert result.imported == 3
    grouped = session.scalars(
        select(Event).where(Event.uuid == "5e1c6a2b-3d4f-4a5b-8c6d-7e8f9a0b1c03")
    ).one()
    assert (grouped.distribution, grouped.sharing_group_id) == (Distribution.ORGANISATION, None)
    assert "Event.SharingGroup.name" in {r.field for r in result.rejected}
    public = session.scalars(
        select(Event).where(Event.uuid == "5e1c6a2b-3d4f-4a5b-8c6d-7e8f9a0b1c02")
    ).one()
    assert (public.tlp, public.distribution) == (TLP.CLEAR, Distribution.PUBLIC)
    values = {i.type: i.value for i in indicators_of(session, public).values()}
    assert values == {IndicatorType.CIDR: "203.0.113.0/24", IndicatorType.ASN: "AS64496"}


def test_a_known_sharing_group_is_kept_and_amber_public_narrows(
    session: Session, importer: Importer
) -> None:
    organisation = session.get_one(Organisation, importer.organisation_id)
    group = make_sharing_group(session, organisation, [make_organisation(session)])
    content = sample("restsearch.json")["response"][2]
    content["Event"]["SharingGroup"]["name"] = group.name
    run(session, importer, content)
    amber = sample("restsearch.json")["response"][1]
    amber["Event"]["Tag"] = [{"name": "tlp:amber"}]
    narrowed = run(session, importer, amber)
    assert [r.field for r in narrowed.rejected] == ["Event.distribution"]
    events = {e.uuid: e for e in session.scalars(select(Event))}
    assert events["5e1c6a2b-3d4f-4a5b-8c6d-7e8f9a0b1c03"].sharing_group_id == group.id
    assert events["5e1c6a2b-3d4f-4a5b-8c6d-7e8f9a0b1c02"].distribution is Distribution.ALL_MEMBERS


def test_the_pipeline_feed_samples_import(session: Session, importer: Importer) -> None:
    result = import_events(session, importer, events_at(FEED))
    assert result.imported == 3 and result.refused == 0
    assert result.indicators_added > 0
    again = import_events(session, importer, events_at(FEED))
    assert again.unchanged == 3


def test_bad_input_names_the_field(session: Session, importer: Importer) -> None:
    with pytest.raises(ParseError):
        list(events_in_stream(io.BytesIO(b"{not json"), "x.json"))
    with pytest.raises(BadValue) as caught:
        list(events_in_stream(io.BytesIO(b'{"events": []}'), "x.json"))
    assert caught.value.field == "Event"
    missing_info = copy.deepcopy(sample())
    del missing_info["Event"]["info"]
    with pytest.raises(BadValue) as refused:
        run(session, importer, missing_info)
    assert refused.value.field == "Event.info"
    only_bad = sample()
    only_bad["Event"]["Attribute"] = [{"type": "ip-dst", "value": "300.1.1.1"}]
    del only_bad["Event"]["Object"]
    result = run(session, importer, only_bad)
    assert result.imported == 1 and result.indicators_added == 0
    assert [r.field for r in result.rejected] == ["Event.Attribute[0].value"]
    assert session.scalar(select(func.count()).select_from(Indicator)) == 0
