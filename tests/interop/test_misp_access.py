"""No leak through MISP export: an export or feed holds exactly what its viewer may see.

Hypothesis builds worlds through the real services, on SQLite and PostgreSQL, as the STIX
property test does (tests/interop/test_access.py): four organisations in two overlapping
sharing groups; published events with a random owner, TLP, distribution, group and named
recipients; indicators of equal or stricter TLP. Then every viewer (each organisation, and
the anonymous public) exports everything it may see, as MISP JSON and as a feed manifest,
and the event and attribute UUIDs are compared with those `core.access.can_see` allows on
the *planned* markings: nothing more (no leak), nothing less (no silent loss).

Cost: the "dev" profile runs 6 worlds per backend (about 1 s of CPU each), "ci" 62.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from entente.core.access import ANONYMOUS, Marking, can_see
from entente.interop.misp.exports import events_misp
from entente.interop.misp.feed_export import feed_manifest
from entente.sharing import indicator_service, service
from entente.sharing.filters import EventFilter
from entente.sharing.indicators import IndicatorType
from entente.sharing.schemas import IndicatorBatch, IndicatorCreate
from entente.vocabulary.markings import TLP
from tests.access_worlds import (
    ORGANISATIONS,
    PlannedAudience,
    Pool,
    make_pool,
    planned,
)

WORLDS = max(6, settings().max_examples // 8)


@pytest.fixture
def pool(session: Session) -> Pool:
    return make_pool(session)


@dataclass(frozen=True)
class PlannedEvent(PlannedAudience):
    indicator_tlps: tuple[TLP, ...]


planned_events = planned(
    PlannedEvent,
    indicator_tlps=st.lists(st.sampled_from(TLP), min_size=1, max_size=3).map(tuple),
)


def _build(session: Session, pool: Pool, plan: PlannedEvent, number: int) -> dict[str, Marking]:
    """The event through the services, published; the marking of each UUID it holds."""
    owner = pool.principal(session, plan.owner)
    made = service.create_event(session, owner, pool.event_create(plan, f"world event {number}"))
    marking = pool.marking(plan)
    tlps = [max(t, plan.tlp, key=lambda x: x.rank) for t in plan.indicator_tlps]
    batch = IndicatorBatch(
        indicators=[
            IndicatorCreate(type=IndicatorType.IPV4, value=f"192.0.2.{number * 3 + i}", tlp=t)
            for i, t in enumerate(tlps)
        ]
    )
    added = indicator_service.add_indicators(session, owner, made, batch).added
    service.publish_event(session, owner, made)
    expected = {made.uuid: marking}
    for indicator, tlp in zip(added, tlps, strict=True):
        expected[indicator.uuid] = dataclasses.replace(marking, tlp=tlp)
    return expected


@settings(
    max_examples=WORLDS,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plans=st.lists(planned_events, min_size=1, max_size=3))
def test_an_export_holds_exactly_what_its_viewer_may_see(
    connection: Connection,
    session_factory: sessionmaker[Session],
    pool: Pool,
    plans: list[PlannedEvent],
) -> None:
    savepoint = connection.begin_nested()
    try:
        with session_factory() as session:
            expected: dict[str, Marking] = {}
            event_uuids: set[str] = set()
            for number, plan in enumerate(plans):
                built = _build(session, pool, plan, number)
                event_uuids.add(next(iter(built)))
                expected |= built
            for viewer in [*(pool.viewer(i) for i in range(ORGANISATIONS)), ANONYMOUS]:
                allowed = {key for key, marking in expected.items() if can_see(viewer, marking)}
                exported = list(events_misp(session, viewer, EventFilter()))
                got = {e["Event"]["uuid"] for e in exported}
                got |= {a["uuid"] for e in exported for a in e["Event"]["Attribute"]}
                assert got == allowed, f"leaked {got - allowed}, lost {allowed - got}"
                assert set(feed_manifest(session, viewer)) == allowed & event_uuids
                text = json.dumps(exported)
                for key in expected.keys() - allowed:
                    assert key not in text
    finally:
        savepoint.rollback()
