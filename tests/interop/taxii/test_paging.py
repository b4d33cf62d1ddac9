"""Paging over both kinds of rows (stored STIX objects and Entente indicators, interleaved
in time, an indicator giving several objects): every page size gives the same objects in
the same order, none twice; and a page costs the same number of queries however many
objects or events it holds (no query per object)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from entente.core.clock import utcnow
from entente.interop.stix_import import ImportTarget, import_objects
from entente.interop.taxii.models import TaxiiCollection
from entente.interop.taxii.objects import ObjectFilter, ObjectQuery, TaxiiObject, read_page
from entente.sharing.indicators import IndicatorType
from tests.interop.builders import Member, event, indicators, member
from tests.interop.taxii.builders import collection

CREATED = "2026-11-20T10:00:00.000Z"


def _malware(number: int) -> dict[str, object]:
    return {
        "type": "malware",
        "spec_version": "2.1",
        "id": f"malware--{uuid.uuid4()}",
        "created": CREATED,
        "modified": CREATED,
        "name": f"Family {number}",
        "is_family": True,
    }


def _interleaved(session: Session, owner: Member) -> None:
    """Rounds of: a stored object, an observed indicator (four objects), a plain one."""
    seen = utcnow() - timedelta(days=1)
    for number in range(4):
        target = event(session, owner)
        import_objects(
            session, owner.principal(session), [_malware(number)], ImportTarget(event=target)
        )
        indicators(
            session, owner, target, {IndicatorType.IPV4: f"192.0.2.{number}"}, first_seen=seen
        )
        indicators(session, owner, target, {IndicatorType.DOMAIN: f"round-{number}.example"})


def _read(
    session: Session, owner: Member, target: TaxiiCollection, limit: int
) -> list[TaxiiObject]:
    found: list[TaxiiObject] = []
    viewer = owner.principal(session).viewer
    next_token = None
    while True:
        page = read_page(
            session,
            viewer,
            target,
            ObjectQuery(ObjectFilter(), limit, next_token),
        )
        assert len(page.objects) <= limit
        assert page.more == (page.next is not None)
        found.extend(page.objects)
        if not page.more:
            return found
        next_token = page.next


def test_every_page_size_reads_the_same_objects_in_the_same_order(session: Session) -> None:
    owner = member(session)
    _interleaved(session, owner)
    target = collection(session, [owner])
    whole = _read(session, owner, target, 1000)
    kinds = [item.type for item in whole]
    assert kinds.count("malware") == 4 and kinds.count("observed-data") == 4
    assert len(whole) == 4 * (1 + 4 + 1)
    ids = [item.stix_id for item in whole]
    assert len(set(ids)) == len(ids)
    for limit in (1, 2, 3, 5, 7):
        assert [item.stix_id for item in _read(session, owner, target, limit)] == ids
    dates = [item.date_added for item in whole]
    assert dates == sorted(dates)


@contextmanager
def _counted(session: Session) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = session.get_bind()

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)


def test_a_page_costs_the_same_queries_for_few_or_many_objects(session: Session) -> None:
    owner = member(session)
    target = collection(session, [owner])
    small = event(session, owner)
    indicators(session, owner, small, {IndicatorType.DOMAIN: "alone.example"})
    query = ObjectQuery(ObjectFilter(), 1000)
    viewer = owner.principal(session).viewer
    with _counted(session) as few:
        assert len(read_page(session, viewer, target, query).objects) == 1
    for number in range(6):
        more = event(session, owner)
        values = {
            IndicatorType.DOMAIN: f"many-{number}.example",
            IndicatorType.URL: f"http://many.example/{number}",
        }
        indicators(session, owner, more, values)
    with _counted(session) as many:
        assert len(read_page(session, viewer, target, query).objects) == 13
    # Stored objects, indicators, and their events: three, however many.
    assert len(many) == len(few) == 3
