"""REST routes of shared events and indicators. Every read goes through the access predicate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from entente.members.schemas import ListOf, RowId, list_of
from entente.sharing import service
from entente.sharing.filters import EventFilter, IndicatorFilter
from entente.sharing.models import Event
from entente.sharing.schemas import (
    EventCreate,
    EventPublic,
    EventUpdate,
    EventVersionPublic,
    IndicatorBatch,
    IndicatorBatchResult,
    IndicatorPublic,
)
from entente.web.deps import PageDep, PrincipalDep, SessionDep
from entente.web.errors import ERROR_RESPONSES

router = APIRouter(responses=ERROR_RESPONSES)


def event_dep(event_id: RowId, session: SessionDep, principal: PrincipalDep) -> Event:
    """The event, if the caller may see it; 404 otherwise (never 403: existence stays hidden)."""
    return service.get_event(session, principal.viewer, event_id)


EventDep = Annotated[Event, Depends(event_dep)]


@router.get("/events", response_model=ListOf[EventPublic], tags=["events"])
def list_events(
    session: SessionDep,
    principal: PrincipalDep,
    filters: Annotated[EventFilter, Depends()],
    page: PageDep,
) -> ListOf[EventPublic]:
    """Events you may see, newest first, with filters."""
    return list_of(service.list_events(session, principal.viewer, filters, page))


@router.post(
    "/events", response_model=EventPublic, status_code=status.HTTP_201_CREATED, tags=["events"]
)
def create_event(data: EventCreate, session: SessionDep, principal: PrincipalDep) -> EventPublic:
    """A new, unpublished event owned by your organisation."""
    event = service.create_event(session, principal, data)
    return service.event_public(event, 0)


@router.get("/events/{event_id}", response_model=EventPublic, tags=["events"])
def get_event(event: EventDep, session: SessionDep, principal: PrincipalDep) -> EventPublic:
    return service.event_public_for(session, principal.viewer, event)


@router.patch("/events/{event_id}", response_model=EventPublic, tags=["events"])
def update_event(
    event: EventDep, data: EventUpdate, session: SessionDep, principal: PrincipalDep
) -> EventPublic:
    """Edit your organisation's event; a published event then waits for its next version."""
    updated = service.update_event(session, principal, event, data)
    return service.event_public_for(session, principal.viewer, updated)


@router.post("/events/{event_id}/publish", response_model=EventPublic, tags=["events"])
def publish_event(event: EventDep, session: SessionDep, principal: PrincipalDep) -> EventPublic:
    """Freeze the current state as the next version and publish it."""
    published = service.publish_event(session, principal, event)
    return service.event_public_for(session, principal.viewer, published)


@router.get("/events/{event_id}/versions", response_model=list[EventVersionPublic], tags=["events"])
def event_versions(event: EventDep, session: SessionDep) -> list[EventVersionPublic]:
    """Published versions of the event, newest first."""
    return service.event_history(session, event)


@router.post(
    "/events/{event_id}/indicators",
    response_model=IndicatorBatchResult,
    status_code=status.HTTP_201_CREATED,
    tags=["indicators"],
)
def add_indicators(
    event: EventDep, data: IndicatorBatch, session: SessionDep, principal: PrincipalDep
) -> IndicatorBatchResult:
    """Add indicators: valid ones are kept, each invalid one is listed in `rejected`."""
    return service.add_indicators(session, principal, event, data)


@router.get("/indicators", response_model=ListOf[IndicatorPublic], tags=["indicators"])
def search_indicators(
    session: SessionDep,
    principal: PrincipalDep,
    filters: Annotated[IndicatorFilter, Depends()],
    page: PageDep,
) -> ListOf[IndicatorPublic]:
    """Indicators you may see; `value` is an exact lookup of any canonical form (refanged)."""
    return list_of(service.list_indicators(session, principal.viewer, filters, page))


@router.get("/indicators/{indicator_id}", response_model=IndicatorPublic, tags=["indicators"])
def get_indicator(
    indicator_id: RowId, session: SessionDep, principal: PrincipalDep
) -> IndicatorPublic:
    return service.indicator_public(service.get_indicator(session, principal.viewer, indicator_id))
