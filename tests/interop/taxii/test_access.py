"""Property: what a member reads from a collection is exactly what the access predicate
lets that member see (`core.access.can_see`) and the collection's filter selects, for
random events of several organisations (TLP, distribution, sharing groups, recipients,
tags) and random collections; read a small page at a time, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from entente.core.access import Marking, Viewer, can_see
from entente.core.audit import SYSTEM
from entente.interop.taxii.collections import create_collection
from entente.interop.taxii.objects import ObjectFilter, ObjectQuery, read_page
from entente.interop.taxii.schemas import CollectionCreate
from entente.sharing import indicator_service, service
from entente.sharing.indicators import IndicatorType
from entente.sharing.schemas import IndicatorBatch, IndicatorCreate
from entente.vocabulary.markings import TLP, Distribution
from tests.access_worlds import (
    GROUPS,
    ORGANISATIONS,
    PlannedAudience,
    Pool,
    make_pool,
    organisation_indexes,
    planned,
)

TAGS = ("alpha", "beta")
PAGE = 2
WORLDS = max(4, settings().max_examples // 10)
_values = itertools.count()


@pytest.fixture
def pool(session: Session) -> Pool:
    return make_pool(session)


@dataclass(frozen=True)
class PlannedEvent(PlannedAudience):
    tags: frozenset[str]
    indicator_tlps: tuple[TLP, ...]


@dataclass(frozen=True)
class PlannedCollection:
    owner: int | None
    group: int | None
    tags: frozenset[str]
    max_tlp: TLP


planned_events = planned(
    PlannedEvent,
    recipients=st.frozensets(organisation_indexes, max_size=1),
    tags=st.frozensets(st.sampled_from(TAGS)),
    indicator_tlps=st.lists(st.sampled_from(TLP), min_size=1, max_size=3).map(tuple),
)
planned_collections = st.builds(
    PlannedCollection,
    owner=st.none() | organisation_indexes,
    group=st.none() | st.sampled_from(sorted(GROUPS)),
    tags=st.frozensets(st.sampled_from(TAGS)),
    max_tlp=st.sampled_from(TLP),
)


@dataclass(frozen=True)
class Expectation:
    value: str
    marking: Marking
    tags: frozenset[str]
    group: int | None  # the event's sharing group, when distributed to one


def _build(session: Session, pool: Pool, plan: PlannedEvent) -> list[Expectation]:
    principal = pool.principal(session, plan.owner)
    in_group = plan.distribution is Distribution.SHARING_GROUP
    data = pool.event_create(plan, "Property event").model_copy(update={"tags": sorted(plan.tags)})
    made = service.create_event(session, principal, data)
    tlps = [t if t.rank >= plan.tlp.rank else plan.tlp for t in plan.indicator_tlps]
    values = [f"v{next(_values)}.example" for _ in tlps]
    batch = IndicatorBatch(
        indicators=[
            IndicatorCreate(type=IndicatorType.DOMAIN, value=v, tlp=t)
            for v, t in zip(values, tlps, strict=True)
        ]
    )
    indicator_service.add_indicators(session, principal, made, batch)
    return [
        Expectation(
            value,
            pool.marking(plan, tlp),
            plan.tags,
            plan.group if in_group else None,
        )
        for value, tlp in zip(values, tlps, strict=True)
    ]


def _selected(pool: Pool, collection: PlannedCollection, item: Expectation) -> bool:
    marking = item.marking
    return (
        marking.tlp.rank <= collection.max_tlp.rank
        and (
            collection.owner is None
            or marking.owner_organisation_id == pool.organisation_ids[collection.owner]
        )
        and (collection.group is None or item.group == collection.group)
        and (not collection.tags or bool(collection.tags & item.tags))
    )


def _read_all(session: Session, viewer: Viewer, target: object) -> list[str]:
    names: list[str] = []
    next_token = None
    while True:
        query = ObjectQuery(ObjectFilter(types=frozenset({"indicator"})), PAGE, next_token)
        page = read_page(session, viewer, target, query)  # type: ignore[arg-type]
        assert len(page.objects) <= PAGE
        names.extend(str(o.content["name"]) for o in page.objects if o.content)
        if not page.more:
            return names
        next_token = page.next


@pytest.mark.slow
@settings(
    max_examples=WORLDS,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plans=st.lists(planned_events, min_size=1, max_size=4),
    collection=planned_collections,
)
def test_a_collection_shows_a_member_exactly_what_access_and_filter_allow(
    connection: Connection,
    session_factory: sessionmaker[Session],
    pool: Pool,
    plans: list[PlannedEvent],
    collection: PlannedCollection,
) -> None:
    savepoint = connection.begin_nested()
    try:
        with session_factory() as session:
            expected = [item for plan in plans for item in _build(session, pool, plan)]
            data = CollectionCreate(
                title="Property collection",
                owner_organisation_id=None
                if collection.owner is None
                else pool.organisation_ids[collection.owner],
                sharing_group_id=None
                if collection.group is None
                else pool.group_ids[collection.group],
                tags=sorted(collection.tags),
                max_tlp=collection.max_tlp,
            )
            target = create_collection(session, SYSTEM, data)
            for organisation in range(ORGANISATIONS):
                viewer = pool.viewer(organisation)
                got = _read_all(session, viewer, target)
                assert len(got) == len(set(got)), "an object was read twice across pages"
                allowed = {
                    item.value
                    for item in expected
                    if can_see(viewer, item.marking) and _selected(pool, collection, item)
                }
                assert set(got) == allowed, (
                    f"leaked {set(got) - allowed}, lost {allowed - set(got)}"
                )
    finally:
        savepoint.rollback()
