"""STIX export of events, on SQLite and PostgreSQL: what maps how, strict validity,
determinism, chunked streaming, who is named as a reporter, filtered exports."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from entente.core.clock import utcnow
from entente.interop import stix_export
from entente.interop.markings import TLP2_MARKING_IDS
from entente.interop.patterns import indicator_pattern
from entente.interop.stix_export import event_bundle, events_bundle
from entente.sharing import service
from entente.sharing.choices import SightingKind
from entente.sharing.filters import EventFilter
from entente.sharing.indicators import IndicatorType
from entente.vocabulary.markings import TLP, Distribution
from tests.interop.builders import (
    EVERY_TYPE,
    assert_strictly_valid,
    event,
    indicators,
    member,
    objects_of,
    sighting,
    text_of,
)


def by_type(objects: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for item in objects:
        found.setdefault(item["type"], []).append(item)
    return found


def test_every_indicator_type_exports_to_a_strictly_valid_bundle(session: Session) -> None:
    owner = member(session)
    shared = event(session, owner, TLP.GREEN)
    made = indicators(session, owner, shared, EVERY_TYPE)
    made_red = indicators(session, owner, shared, {IndicatorType.IPV4: "192.0.2.99"}, tlp=TLP.RED)
    text = text_of(event_bundle(session, owner.principal(session).viewer, shared))
    assert_strictly_valid(text)
    objects = json.loads(text)["objects"]
    found = by_type(objects)
    assert Counter(o["type"] for o in objects) == {
        "marking-definition": 5,  # all five TLP 2.0 definitions, every time
        "identity": 1,
        "indicator": len(made) - 1,  # all but cve and other, plus the RED one
        "vulnerability": 1,
        "note": 1,
        "grouping": 1,  # not published yet
    }
    assert {m["id"] for m in found["marking-definition"]} == set(TLP2_MARKING_IDS.values())
    patterns = {o["pattern"] for o in found["indicator"]}
    for indicator in made:
        expected = indicator_pattern(indicator.type, indicator.value)
        assert expected is None or expected in patterns
    red = next(o for o in found["indicator"] if o["name"] == made_red[0].value)
    assert red["object_marking_refs"] == [TLP2_MARKING_IDS[TLP.RED]]
    (vulnerability,) = found["vulnerability"]
    assert vulnerability["external_references"] == [
        {"source_name": "cve", "external_id": "CVE-2021-44228"}
    ]
    (grouping,) = found["grouping"]
    (note,) = found["note"]
    assert note["content"] == "any text" and note["object_refs"] == [grouping["id"]]
    assert grouping["name"] == shared.title
    assert grouping["object_marking_refs"] == [TLP2_MARKING_IDS[TLP.GREEN]]
    assert {"botnet", 'entente:threat-level="high"'} <= set(grouping["labels"])
    assert grouping["external_references"] == [
        {"source_name": "entente", "external_id": shared.uuid}
    ]
    listed = {o["id"] for o in objects if o["type"] in {"indicator", "vulnerability", "note"}}
    assert set(grouping["object_refs"]) == listed
    (identity,) = found["identity"]
    assert identity["name"] == owner.organisation.name
    assert {o["created_by_ref"] for o in found["indicator"]} == {identity["id"]}


def test_an_observed_indicator_also_gets_observed_data_and_its_observable(
    session: Session,
) -> None:
    owner = member(session)
    shared = event(session, owner)
    first_seen = utcnow() - timedelta(days=3)
    indicators(session, owner, shared, {IndicatorType.SHA256: "ab" * 32}, first_seen=first_seen)
    text = text_of(event_bundle(session, owner.principal(session).viewer, shared))
    assert_strictly_valid(text)
    found = by_type(json.loads(text)["objects"])
    (observed,) = found["observed-data"]
    (sco,) = found["file"]
    (based_on,) = found["relationship"]
    (indicator,) = found["indicator"]
    assert sco["hashes"] == {"SHA-256": "ab" * 32}
    assert observed["object_refs"] == [sco["id"]]
    assert observed["first_observed"] == observed["last_observed"] == indicator["valid_from"]
    assert (based_on["source_ref"], based_on["relationship_type"], based_on["target_ref"]) == (
        indicator["id"],
        "based-on",
        observed["id"],
    )
    # The report lists the observed data, not the observable inside it.
    (grouping,) = found["grouping"]
    assert observed["id"] in grouping["object_refs"] and sco["id"] not in grouping["object_refs"]


def test_exporting_again_gives_the_same_objects_and_publishing_makes_a_report(
    session: Session,
) -> None:
    owner = member(session)
    shared = event(session, owner)
    made = indicators(session, owner, shared, {IndicatorType.URL: "http://a.example/x"})
    sighting(session, owner, made[0])
    viewer = owner.principal(session).viewer
    first = objects_of(event_bundle(session, viewer, shared))
    assert objects_of(event_bundle(session, viewer, shared)) == first
    service.publish_event(session, owner.principal(session), shared)
    published = objects_of(event_bundle(session, viewer, shared))
    report = published[-1]
    assert report["type"] == "report" and report["report_types"] == ["threat-report"]
    assert report["published"].startswith(f"{shared.published_at:%Y-%m-%dT%H:%M:%S}")
    # Only the container changed: the indicator and sighting are the same objects.
    assert published[:-1] == first[:-1]
    assert_strictly_valid(text_of(event_bundle(session, viewer, shared)))


def test_a_reporter_is_named_only_to_the_owner_and_to_the_reporter(session: Session) -> None:
    owner, reporter, third = member(session), member(session, country="KE"), member(session)
    shared = event(session, owner)
    (made,) = indicators(session, owner, shared, {IndicatorType.DOMAIN: "evil.example"})
    sighting(session, reporter, made)
    sighting(session, reporter, made, SightingKind.FALSE_POSITIVE)
    reporter_name = reporter.organisation.name
    for who, named in ((owner, True), (reporter, True), (third, False)):
        text = text_of(event_bundle(session, who.principal(session).viewer, shared))
        found = by_type(json.loads(text)["objects"])
        (seen,) = found["sighting"]
        (false_positive,) = found["opinion"]
        assert false_positive["opinion"] == "strongly-disagree"
        names = {identity["name"] for identity in found["identity"]}
        assert (reporter_name in names) is named
        assert ("where_sighted_refs" in seen) is named
        assert ("created_by_ref" in false_positive) is named
        assert seen["count"] == 3 and seen["sighting_of_ref"] == found["indicator"][0]["id"]
        assert_strictly_valid(text)


def test_a_chunked_export_is_the_same_export(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, peer = member(session), member(session)
    shared = event(session, owner)
    made = indicators(session, owner, shared, {t: EVERY_TYPE[t] for t in list(IndicatorType)[:7]})
    for indicator in made[::2]:
        sighting(session, peer, indicator)
    viewer = owner.principal(session).viewer
    whole = objects_of(event_bundle(session, viewer, shared))
    monkeypatch.setattr(stix_export, "CHUNK", 2)
    assert objects_of(event_bundle(session, viewer, shared)) == whole


def test_a_filtered_export_holds_the_matching_events_the_viewer_may_see(
    session: Session,
) -> None:
    owner, other = member(session), member(session)
    tagged = event(session, owner, tags=["lagoon"])
    untagged = event(session, owner, title="Unrelated event", tags=[])
    hidden = event(session, other, TLP.RED, tags=["lagoon"], distribution=Distribution.ORGANISATION)
    for each, who in ((tagged, owner), (untagged, owner), (hidden, other)):
        indicators(session, who, each, {IndicatorType.IPV4: f"198.51.100.{each.id % 250}"})
    viewer = owner.principal(session).viewer
    text = text_of(events_bundle(session, viewer, EventFilter(tag="lagoon")))
    assert_strictly_valid(text)
    containers = [o for o in json.loads(text)["objects"] if o["type"] == "grouping"]
    assert [c["external_references"][0]["external_id"] for c in containers] == [tagged.uuid]
    everything = objects_of(events_bundle(session, viewer, EventFilter()))
    uuids = {
        o["external_references"][0]["external_id"] for o in everything if o["type"] == "grouping"
    }
    assert {tagged.uuid, untagged.uuid} <= uuids and hidden.uuid not in uuids


def test_an_event_with_nothing_to_show_lists_its_owner(session: Session) -> None:
    owner, peer = member(session), member(session)
    shared = event(session, owner)
    indicators(session, owner, shared, {IndicatorType.IPV4: "198.51.100.1"}, tlp=TLP.RED)
    text = text_of(event_bundle(session, peer.principal(session).viewer, shared))
    assert_strictly_valid(text)  # a grouping must list something
    found = by_type(json.loads(text)["objects"])
    assert "indicator" not in found
    (identity,) = found["identity"]
    assert found["grouping"][0]["object_refs"] == [identity["id"]]


def test_the_strict_validation_is_not_vacuous(session: Session) -> None:
    owner = member(session)
    shared = event(session, owner)
    indicators(session, owner, shared, {IndicatorType.IPV4: "198.51.100.1"})
    bundle = json.loads(text_of(event_bundle(session, owner.principal(session).viewer, shared)))
    indicator = next(o for o in bundle["objects"] if o["type"] == "indicator")
    del indicator["description"]  # a SHOULD of the specification: an error in strict mode
    with pytest.raises(AssertionError, match="description"):
        assert_strictly_valid(json.dumps(bundle))
