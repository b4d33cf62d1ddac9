"""Export, import into a fresh database, export again: the same objects, on SQLite and
PostgreSQL (ids, markings, timestamps, labels, external references and everything else)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from entente.core.clock import utcnow
from entente.core.db import create_db_engine, make_session_factory
from entente.core.migrate import upgrade
from entente.interop.stix_export import event_bundle
from entente.sharing import service
from entente.sharing.choices import SightingKind
from entente.sharing.indicators import IndicatorType
from entente.sharing.models import Event
from entente.vocabulary.markings import TLP
from tests.conftest import make_settings
from tests.interop.builders import (
    EVERY_TYPE,
    assert_strictly_valid,
    event,
    indicators,
    member,
    sighting,
    text_of,
)
from tests.interop.test_import import SAMPLE, import_into


@pytest.fixture
def fresh_session(backend: str, scratch_database: Callable[[str], str]) -> Iterator[Session]:
    """A session on a database of its own, migrated and empty: the other hub."""
    settings = make_settings(scratch_database(backend))
    engine = create_db_engine(settings)
    upgrade(engine)
    factory: sessionmaker[Session] = make_session_factory(engine, settings)
    with factory() as session:
        yield session
    engine.dispose()


def rich_event(session: Session) -> tuple[Event, Any]:
    """Every indicator type, an observed one, sightings of each kind by two members, a
    RED indicator, kept third-party objects, published: the whole mapping at once."""
    owner, peer = member(session), member(session, country="KE")
    shared = event(session, owner, TLP.GREEN)
    made = indicators(session, owner, shared, EVERY_TYPE, to_ids=True)
    seen_at = utcnow() - timedelta(days=2)
    indicators(session, owner, shared, {IndicatorType.IPV4: "192.0.2.44"}, first_seen=seen_at)
    indicators(session, owner, shared, {IndicatorType.DOMAIN: "red.example"}, tlp=TLP.RED)
    sighting(session, peer, made[0])
    sighting(session, peer, made[1], SightingKind.FALSE_POSITIVE)
    sighting(session, owner, made[2], SightingKind.EXPIRED)
    import_into(session, owner, SAMPLE, shared)
    service.publish_event(session, owner.principal(session), shared)
    return shared, owner


def by_id(text: str) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in json.loads(text)["objects"]}


def test_a_round_trip_through_a_fresh_database_gives_the_same_objects(
    session: Session, fresh_session: Session
) -> None:
    shared, owner = rich_event(session)
    first = text_of(event_bundle(session, owner.principal(session).viewer, shared))
    assert_strictly_valid(first)

    importer = member(fresh_session, country="FR")
    result = import_into(fresh_session, importer, first, "From the other hub")
    assert result.rejected == [] and result.created_event
    imported = fresh_session.get_one(Event, result.event_id)
    second = text_of(
        event_bundle(fresh_session, importer.principal(fresh_session).viewer, imported)
    )

    before, after = by_id(first), by_id(second)
    assert set(after) == set(before)
    for stix_id, original in before.items():
        assert after[stix_id] == original, stix_id
    # The fields the issue names, said out loud (the equality above covers them):
    kinds = {item["type"] for item in before.values()}
    assert {"report", "indicator", "sighting", "opinion", "observed-data", "malware"} <= kinds
    # The round trip also made Entente indicators on the other hub, TLPs kept.
    assert result.indicators_added >= len(EVERY_TYPE) + 4
    # And bringing the same bundle again adds nothing there.
    again = import_into(fresh_session, importer, first, "From the other hub, again")
    assert (again.event_id, again.objects_stored, again.indicators_added) == (imported.id, 0, 0)
