"""No leak through the events service: every read path returns exactly what the rule allows.

Hypothesis builds worlds of events (random owner, TLP, distribution, sharing group, explicit
recipients) with indicators of equal or stricter TLP, through the real service, on SQLite and
PostgreSQL; then for every viewer it compares list, detail, counts and search with
`core.access.can_see`, the rule the property tests of core/access.py pin down.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from entente.core.access import ANONYMOUS, Marking, Viewer, can_see
from entente.core.errors import NotFound
from entente.core.pagination import PageRequest
from entente.members.accounts import load_viewer
from entente.members.models import User
from entente.sharing import indicator_service, search, service
from entente.sharing.filters import EventFilter, IndicatorFilter
from entente.sharing.indicators import IndicatorType
from entente.sharing.models import Event
from entente.sharing.schemas import IndicatorBatch, IndicatorCreate
from entente.vocabulary.markings import TLP
from tests.access_worlds import PlannedAudience, Pool, make_pool, planned

WORLDS = max(10, settings().max_examples // 5)  # ci: 100 worlds of five viewers, per backend
ALL = PageRequest(limit=1000)


@pytest.fixture
def pool(session: Session) -> Pool:
    return make_pool(session)


@dataclass(frozen=True)
class PlannedEvent(PlannedAudience):
    indicator_tlps: tuple[TLP, ...]


planned_events = planned(
    PlannedEvent, indicator_tlps=st.lists(st.sampled_from(TLP), max_size=3).map(tuple)
)


def _create(session: Session, pool: Pool, plan: PlannedEvent, number: int) -> dict[int, TLP]:
    """Create the planned event and its indicators; returns indicator id -> TLP."""
    owner = pool.principal(session, plan.owner)
    event = service.create_event(session, owner, pool.event_create(plan, f"planned event {number}"))
    # Stricter-or-equal TLPs only: a looser one is refused (tested separately).
    tlps = [max(t, plan.tlp, key=lambda m: m.rank) for t in plan.indicator_tlps]
    if not tlps:
        return {}
    batch = IndicatorBatch(
        indicators=[
            IndicatorCreate(type=IndicatorType.IPV4, value=f"192.0.2.{number * 3 + i}", tlp=t)
            for i, t in enumerate(tlps)
        ]
    )
    result = indicator_service.add_indicators(session, owner, event, batch)
    return {indicator.id: indicator.tlp for indicator in result.added}


def _marking(session: Session, event_id: int, tlp: TLP) -> Marking:
    event = session.get_one(Event, event_id)
    recipients = service.event_recipients(session, event)
    return Marking(
        event.owner_organisation_id, tlp, event.distribution, event.sharing_group_id, recipients
    )


@settings(
    max_examples=WORLDS,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plans=st.lists(planned_events, min_size=1, max_size=6))
def test_every_read_path_returns_exactly_the_allowed_set(
    connection: Connection,
    session_factory: sessionmaker[Session],
    pool: Pool,
    plans: list[PlannedEvent],
) -> None:
    # The service commits; each world lives in a connection-level savepoint rolled back here.
    savepoint = connection.begin_nested()
    try:
        _check_world(session_factory, pool, plans)
    finally:
        savepoint.rollback()


def _check_world(
    session_factory: sessionmaker[Session], pool: Pool, plans: list[PlannedEvent]
) -> None:
    with session_factory() as session:
        events: dict[int, dict[int, TLP]] = {}
        for number, plan in enumerate(plans):
            indicators = _create(session, pool, plan, number)
            event_id = session.scalar(
                service.select(service.Event.id).where(
                    service.Event.title == f"planned event {number}"
                )
            )
            assert event_id is not None
            events[event_id] = indicators
        users = [session.get_one(User, user_id) for user_id in pool.user_ids]
        viewers = [load_viewer(session, user) for user in users] + [ANONYMOUS]
        for viewer in viewers:
            _check_viewer(session, viewer, events)


def _check_viewer(session: Session, viewer: Viewer, events: dict[int, dict[int, TLP]]) -> None:
    event_tlps = {e: session.get_one(service.Event, e).tlp for e in events}
    allowed_events = {e for e in events if can_see(viewer, _marking(session, e, event_tlps[e]))}
    allowed_indicators = {
        i
        for e, indicators in events.items()
        for i, tlp in indicators.items()
        if can_see(viewer, _marking(session, e, tlp))
    }
    listed = service.list_events(session, viewer, EventFilter(), ALL)
    assert {e.id for e in listed.items} & set(events) == allowed_events
    for event in listed.items:
        if event.id in events:
            expected = {i for i in events[event.id] if i in allowed_indicators}
            assert event.indicator_count == len(expected), "counts reveal hidden indicators"
    for event_id in events:
        if event_id in allowed_events:
            assert service.get_event(session, viewer, event_id).id == event_id
        else:
            with pytest.raises(NotFound):
                service.get_event(session, viewer, event_id)
    found = search.list_indicators(session, viewer, IndicatorFilter(), ALL)
    every_indicator = {i for indicators in events.values() for i in indicators}
    assert {i.id for i in found.items} & every_indicator == allowed_indicators
    for indicators in events.values():
        for indicator_id in indicators:
            value = session.get_one(service.Indicator, indicator_id).value
            hits = search.list_indicators(session, viewer, IndicatorFilter(value=value), ALL)
            assert {i.id for i in hits.items} <= allowed_indicators
