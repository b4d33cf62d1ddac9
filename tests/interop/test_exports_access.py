"""No leak through tool exports: a viewer's export holds exactly the detection values it may
see, for random worlds of TLPs, distributions, sharing groups and named recipients.

Worlds are built through the real services on SQLite and PostgreSQL (four organisations in
two overlapping sharing groups, as in tests/interop/test_access.py); each indicator has a
TLP equal to or stricter than its event's and a random `to_ids`. Every organisation's
viewer and the anonymous one then export a plain list and a CSV, and the values are
compared with `core.access.can_see` on the *planned* markings: nothing more (no leak),
nothing less (no silent loss). Each example gets a cache directory of its own, so a cached
entry of an earlier world can never answer for this one.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from entente.core.access import ANONYMOUS, Marking, Viewer, can_see
from entente.core.config import Settings
from entente.interop.exports.service import ExportFormat
from entente.interop.markings import strictest
from entente.sharing import indicator_service, service
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
from tests.interop.export_builders import export_settings, exported

WORLDS = max(4, settings().max_examples // 12)
_numbers = itertools.count(1)


@dataclass(frozen=True)
class PlannedEvent(PlannedAudience):
    indicators: tuple[tuple[TLP, bool], ...]  # (TLP, to_ids) of each indicator


@pytest.fixture
def pool(session: Session) -> Pool:
    return make_pool(session)


planned_events = planned(
    PlannedEvent,
    indicators=st.lists(st.tuples(st.sampled_from(TLP), st.booleans()), min_size=1, max_size=3).map(
        tuple
    ),
)


def _build(session: Session, pool: Pool, plan: PlannedEvent) -> dict[str, Marking]:
    """The event and its indicators; the detection values, each with its marking."""
    owner = pool.principal(session, plan.owner)
    made = service.create_event(session, owner, pool.event_create(plan, "export world"))
    marking = pool.marking(plan)
    detection: dict[str, Marking] = {}
    creates = []
    for tlp, to_ids in plan.indicators:
        number = next(_numbers)
        value = f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"
        own = strictest([tlp, plan.tlp]) or plan.tlp
        creates.append(
            IndicatorCreate(type=IndicatorType.IPV4, value=value, tlp=own, to_ids=to_ids)
        )
        if to_ids:
            detection[value] = dataclasses.replace(marking, tlp=own)
    indicator_service.add_indicators(session, owner, made, IndicatorBatch(indicators=creates))
    return detection


@pytest.mark.slow  # about 1.5 s on PostgreSQL with the dev profile, 15 s with CI's
@settings(
    max_examples=WORLDS,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plans=st.lists(planned_events, min_size=1, max_size=3))
def test_an_export_holds_exactly_the_detection_values_its_viewer_may_see(
    connection: Connection,
    session_factory: sessionmaker[Session],
    settings: Settings,
    pool: Pool,
    plans: list[PlannedEvent],
) -> None:
    savepoint = connection.begin_nested()
    try:
        with session_factory() as session, tempfile.TemporaryDirectory() as directory:
            fresh = export_settings(settings, Path(directory))
            detection: dict[str, Marking] = {}
            for plan in plans:
                detection |= _build(session, pool, plan)
            viewers: list[Viewer] = [pool.viewer(i) for i in range(ORGANISATIONS)]
            for viewer in [*viewers, ANONYMOUS]:
                allowed = {
                    value for value, marking in detection.items() if can_see(viewer, marking)
                }
                listed = exported(session, fresh, viewer, ExportFormat.TEXT).splitlines()
                assert set(listed) == allowed, (
                    f"leaked {set(listed) - allowed}, lost {allowed - set(listed)}"
                )
                rows = csv.DictReader(
                    io.StringIO(exported(session, fresh, viewer, ExportFormat.CSV))
                )
                assert {row["value"] for row in rows} == allowed
    finally:
        savepoint.rollback()


def _check_viewer(
    session: Session, fresh: Settings, viewer: Viewer, detection: dict[str, Marking]
) -> None:
    allowed = {value for value, marking in detection.items() if can_see(viewer, marking)}
    listed = set(exported(session, fresh, viewer, ExportFormat.TEXT).splitlines())
    assert listed == allowed, f"leaked {listed - allowed}, lost {allowed - listed}"
    table = exported(session, fresh, viewer, ExportFormat.CSV)
    assert {row["value"] for row in csv.DictReader(io.StringIO(table))} == allowed
