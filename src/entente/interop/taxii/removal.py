"""Deleting an object from a collection (TAXII 2.1 section 5.8), where the caller may.

Only objects of the caller's own organisation's events are deleted, by a writer of an
organisation that may write to the collection. A stored object goes with the Entente
indicators made from it; an object Entente made from an indicator is deleted by deleting
that indicator, through its main object (indicator, vulnerability or note): its companions
(observed-data, observable, relationship) are not objects one deletes on their own.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from entente.core import audit
from entente.core.errors import NotFound, PermissionDenied
from entente.interop.models import StixIndicatorLink, StixObject
from entente.interop.taxii.collections import CollectionAccess
from entente.interop.taxii.objects import MAX_LIMIT, Kind, ObjectFilter, ObjectQuery, read_page
from entente.members.accounts import Principal
from entente.sharing.models import Event, Indicator
from entente.sharing.permissions import require_writer


def delete_object(
    session: Session, principal: Principal, access: CollectionAccess, filters: ObjectFilter
) -> int:
    """Delete the caller's organisation's versions of the object; how many were deleted."""
    access.require_write()
    require_writer(principal)
    stored: set[int] = set()
    indicators: set[int] = set()
    companions = 0
    next_token: str | None = None
    while True:
        query = ObjectQuery(filters, MAX_LIMIT, next_token)
        page = read_page(session, principal.viewer, access.collection, query)
        for item in page.objects:
            kind, row_id, main = item.source
            if kind is Kind.STORED:
                stored.add(row_id)
            elif main:
                indicators.add(row_id)
            else:
                companions += 1
        if not page.more:
            break
        next_token = page.next
    if not (stored or indicators or companions):
        raise NotFound("no such object in this collection", field="object_id")
    owner = principal.user.organisation_id
    own_stored = _own_stored(session, stored, owner)
    own_indicators = _own_indicators(session, indicators, owner)
    if not (own_stored or own_indicators):
        raise PermissionDenied(
            "only objects of your organisation's events may be deleted, and an object made "
            "from an Entente indicator only through the indicator itself"
        )
    _delete(session, own_stored, own_indicators)
    audit.record(
        session,
        principal.actor(),
        "taxii.object.delete",
        ("taxii_collection", access.collection.uuid),
        object_id=sorted(filters.ids)[0] if filters.ids else None,
        stored_objects=len(own_stored),
        indicators=len(own_indicators),
    )
    session.commit()
    return len(own_stored) + len(own_indicators)


def _own_stored(session: Session, row_ids: set[int], owner: int) -> list[int]:
    if not row_ids:
        return []
    return list(
        session.scalars(
            select(StixObject.id)
            .join(Event, Event.id == StixObject.event_id)
            .where(StixObject.id.in_(sorted(row_ids)), Event.owner_organisation_id == owner)
        )
    )


def _own_indicators(session: Session, indicator_ids: set[int], owner: int) -> list[int]:
    if not indicator_ids:
        return []
    return list(
        session.scalars(
            select(Indicator.id)
            .join(Event, Event.id == Indicator.event_id)
            .where(Indicator.id.in_(sorted(indicator_ids)), Event.owner_organisation_id == owner)
        )
    )


def _delete(session: Session, stored: list[int], indicators: list[int]) -> None:
    made_from = select(StixIndicatorLink.indicator_id).where(
        StixIndicatorLink.stix_object_id.in_(stored)
    )
    linked = list(session.scalars(made_from)) if stored else []
    doomed = sorted(set(indicators) | set(linked))
    if doomed:
        session.execute(delete(Indicator).where(Indicator.id.in_(doomed)))
    if stored:
        session.execute(delete(StixObject).where(StixObject.id.in_(sorted(stored))))
