"""STIX import into events, on SQLite and PostgreSQL: typed indicators through the bulk path,
everything kept and given back unchanged, idempotence, versions, TLP, bad input, rights."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from entente.core.access import ANONYMOUS
from entente.core.errors import BadValue, ParseError, PermissionDenied
from entente.interop.models import StixObject
from entente.interop.schemas import NewEventTarget, StixImportResult
from entente.interop.stix_export import event_bundle, stored_visible
from entente.interop.stix_import import BundleFile, ImportTarget, import_bundle
from entente.members.choices import Role
from entente.sharing import service
from entente.sharing.indicators import IndicatorType
from entente.sharing.models import Event, Indicator
from entente.sharing.schemas import EventUpdate
from entente.vocabulary.markings import TLP, Distribution
from tests.factories import make_user
from tests.interop.builders import (
    Member,
    as_file,
    assert_strictly_valid,
    event,
    member,
    objects_of,
    text_of,
)

SAMPLE_PATH = Path(__file__).parents[1] / "data" / "stix" / "lagoon_campaign.json"
SAMPLE: dict[str, Any] = json.loads(SAMPLE_PATH.read_text())
SAMPLE_BY_ID = {o["id"]: o for o in SAMPLE["objects"]}


def import_into(
    session: Session, who: Member, bundle: str | dict[str, Any], target: Event | str
) -> StixImportResult:
    """Import as `who` into an event, or (a title) into a new event."""
    into = (
        ImportTarget(event=target)
        if isinstance(target, Event)
        else ImportTarget(new_event=NewEventTarget(title=target))
    )
    return import_bundle(
        session, who.principal(session), BundleFile(as_file(bundle), "b.json"), into
    )


def stored_count(session: Session, target: Event) -> int:
    return session.scalar(select(func.count()).where(StixObject.event_id == target.id)) or 0


def values_of(session: Session, target: Event) -> dict[tuple[IndicatorType, str], TLP]:
    rows = session.execute(
        select(Indicator.type, Indicator.value, Indicator.tlp).where(
            Indicator.event_id == target.id
        )
    )
    return {(kind, value): tlp for kind, value, tlp in rows}


def test_a_third_party_bundle_becomes_indicators_and_comes_back_unchanged(
    session: Session,
) -> None:
    owner, peer = member(session), member(session, country="KE")
    shared = event(session, owner, TLP.GREEN)
    result = import_into(session, owner, SAMPLE, shared)
    assert (result.objects_read, result.objects_skipped, result.rejected_count) == (27, 1, 0)
    assert (result.objects_stored, result.indicators_added) == (26, 5)
    assert values_of(session, shared) == {
        (IndicatorType.IPV4, "203.0.113.10"): TLP.AMBER,  # the object's own, stricter TLP
        (IndicatorType.IPV4, "203.0.113.11"): TLP.AMBER,
        (IndicatorType.DOMAIN, "lagoon-login.example"): TLP.GREEN,
        (IndicatorType.SHA256, "cd" * 32): TLP.RED,
        (IndicatorType.CVE, "CVE-2024-3400"): TLP.GREEN,
    }
    text = text_of(event_bundle(session, owner.principal(session).viewer, shared))
    assert_strictly_valid(text)
    exported = {o["id"]: o for o in json.loads(text)["objects"]}
    # Every object but the official TLP marking (written by Entente itself) comes back as it
    # came: ids, timestamps, markings, labels, external references and all.
    for stix_id, original in SAMPLE_BY_ID.items():
        assert exported[stix_id] == original
    grouping = next(o for o in exported.values() if o["type"] == "grouping")
    assert SAMPLE["objects"][-1]["id"] in grouping["object_refs"]  # the bundle's own report
    # A member outside the RED indicator's audience sees the event without it.
    seen_by_peer = text_of(event_bundle(session, peer.principal(session).viewer, shared))
    assert "cd" * 32 not in seen_by_peer
    assert "203.0.113.10" in seen_by_peer  # AMBER reaches all members


def test_importing_the_same_bundle_again_adds_nothing(session: Session) -> None:
    owner = member(session)
    shared = event(session, owner)
    import_into(session, owner, SAMPLE, shared)
    service.publish_event(session, owner.principal(session), shared)
    before = (stored_count(session, shared), values_of(session, shared), shared.version)
    again = import_into(session, owner, SAMPLE, shared)
    assert (again.objects_stored, again.objects_updated, again.indicators_added) == (0, 0, 0)
    assert again.objects_unchanged == 26
    assert (stored_count(session, shared), values_of(session, shared), shared.version) == before
    assert shared.published, "an import that changes nothing leaves the event published"


def test_a_newer_version_replaces_the_stored_one_and_an_older_changes_nothing(
    session: Session,
) -> None:
    owner = member(session)
    shared = event(session, owner)
    import_into(session, owner, SAMPLE, shared)
    malware = next(o for o in SAMPLE["objects"] if o["type"] == "malware")
    newer = {**malware, "modified": "2026-11-01T00:00:00.000Z", "description": "Now a RAT."}
    older = {**malware, "modified": "2026-10-01T08:00:00.000Z", "description": "Old."}
    bundle = {"type": "bundle", "id": SAMPLE["id"], "objects": [newer]}
    assert import_into(session, owner, bundle, shared).objects_updated == 1
    bundle["objects"] = [older]
    assert import_into(session, owner, bundle, shared).objects_unchanged == 1
    exported = {
        o["id"]: o
        for o in objects_of(event_bundle(session, owner.principal(session).viewer, shared))
    }
    assert exported[malware["id"]]["description"] == "Now a RAT."


def test_a_bundle_imported_as_a_new_event_is_that_event(session: Session) -> None:
    owner = member(session)
    result = import_into(session, owner, SAMPLE, "Lagoon, as imported")
    created = session.get_one(Event, result.event_id)
    assert result.created_event
    # The report's TLP and labels; its publication; and only the own organisation (no one
    # else) until a person widens it.
    assert (created.tlp, created.distribution, created.published) == (
        TLP.GREEN,
        Distribution.ORGANISATION,
        True,
    )
    report = SAMPLE["objects"][-1]
    exported = objects_of(event_bundle(session, owner.principal(session).viewer, created))
    assert exported[-1] == report, "the report is the event's container, as it came"
    again = import_into(session, owner, SAMPLE, "Lagoon, again")
    assert (again.event_id, again.created_event, again.objects_stored) == (created.id, False, 0)
    # Once the event is edited, its report says so in `modified` (and only there).
    service.update_event(session, owner.principal(session), created, EventUpdate(title="Edited"))
    edited = objects_of(event_bundle(session, owner.principal(session).viewer, created))[-1]
    assert edited["modified"] > report["modified"]
    assert {**edited, "modified": report["modified"]} == report


def test_objects_stay_no_looser_than_their_event_after_it_is_tightened(
    session: Session,
) -> None:
    owner = member(session)
    shared = event(session, owner, TLP.CLEAR, distribution=Distribution.PUBLIC)
    import_into(session, owner, {**SAMPLE, "objects": SAMPLE["objects"][:9]}, shared)
    visible = select(StixObject.type).join(Event).where(stored_visible(ANONYMOUS))
    # The public sees the unmarked objects of a public CLEAR event, not the GREEN ones...
    assert sorted(session.scalars(visible)) == ["identity", "marking-definition"]
    service.update_event(session, owner.principal(session), shared, EventUpdate(tlp=TLP.GREEN))
    # ...and nothing once the event is GREEN, though the rows still say CLEAR.
    assert list(session.scalars(visible)) == []
    assert TLP.CLEAR in set(session.scalars(select(StixObject.tlp)))


# ---- bad input -----------------------------------------------------------------------------


def broken_objects() -> list[dict[str, Any]]:
    by_type = {o["type"]: o for o in SAMPLE["objects"]}
    tool = {key: value for key, value in by_type["tool"].items() if key != "name"}
    old = {**by_type["campaign"], "spec_version": "2.0"}
    indicator = next(o for o in SAMPLE["objects"] if o.get("name") == "Lagoon landing domain")
    bad_pattern = {**indicator, "pattern": "[domain-name:value = 'x.example'"}
    return [tool, old, bad_pattern]


def test_a_partly_valid_bundle_imports_the_valid_objects_and_names_the_rest(
    session: Session,
) -> None:
    owner = member(session)
    shared = event(session, owner)
    broken = broken_objects()
    bundle = copy.deepcopy(SAMPLE)
    valid = [o for o in bundle["objects"] if o["id"] not in {b["id"] for b in broken}]
    bundle["objects"] = valid + broken
    result = import_into(session, owner, bundle, shared)
    assert result.objects_stored == len(valid) - 1  # the official TLP marking is skipped
    assert [(r.object_id, r.field) for r in result.rejected] == [
        (broken[0]["id"], "name"),
        (broken[1]["id"], "spec_version"),
        (broken[2]["id"], "pattern"),
    ]
    assert [r.index for r in result.rejected] == [len(valid), len(valid) + 1, len(valid) + 2]


def test_a_bundle_with_nothing_valid_is_refused_naming_the_first_fault(session: Session) -> None:
    owner = member(session)
    broken = broken_objects()
    with pytest.raises(BadValue) as caught:
        import_into(session, owner, {**SAMPLE, "objects": broken}, "Nothing in it")
    assert caught.value.field == "objects[0].name"
    assert caught.value.message.startswith(f"{broken[0]['id']}: name is missing")
    assert session.scalar(select(func.count()).where(Event.title == "Nothing in it")) == 0


@pytest.mark.parametrize(
    ("text", "error", "field", "words"),
    [
        ('{"type": "bundle", "objects": [{"type": ', ParseError, None, "not valid JSON"),
        ("not json at all", ParseError, None, "not valid JSON"),
        ('[{"type": "indicator"}]', BadValue, "type", "not a JSON object"),
        ('{"Event": {"info": "a MISP event"}}', BadValue, "type", "no type 'bundle'"),
        (
            '{"type": "bundle", "spec_version": "2.0", "objects": []}',
            BadValue,
            "spec_version",
            "2.0",
        ),
        ('{"type": "report", "objects": []}', BadValue, "type", "its type is 'report'"),
        ('{"type": "bundle", "id": "bundle--1", "objects": []}', BadValue, "objects", "no STIX"),
    ],
)
def test_what_is_not_a_stix_21_bundle_is_refused_whole(
    session: Session, text: str, error: type[Exception], field: str | None, words: str
) -> None:
    owner = member(session)
    with pytest.raises(error) as caught:
        import_into(session, owner, text, "Never made")
    assert words in str(caught.value)
    assert getattr(caught.value, "field", None) == field
    if error is ParseError:
        assert "b.json" in str(caught.value)
    assert session.scalar(select(func.count()).where(Event.title == "Never made")) == 0


def test_only_the_owners_writers_import_into_an_event(session: Session) -> None:
    owner = member(session)
    shared = event(session, owner)
    outsider = member(session)
    reader = Member(owner.organisation, make_user(session, owner.organisation, Role.READER))
    for who in (outsider, reader):
        with pytest.raises(PermissionDenied):
            import_into(session, who, SAMPLE, shared)
    assert stored_count(session, shared) == 0
