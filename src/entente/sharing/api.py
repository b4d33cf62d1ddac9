"""REST routes of shared events: CRUD, publication, tags, correlations, sightings timeline.

Every read goes through the access predicate; indicators are in `indicators_api`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from entente.members.schemas import ListOf, RowId, list_of
from entente.sharing import correlation, service, sightings, tags
from entente.sharing.filters import EventFilter
from entente.sharing.models import Event
from entente.sharing.schemas import (
    CorrelatedEventPublic,
    EventCreate,
    EventPublic,
    EventUpdate,
    EventVersionPublic,
    TagCreate,
    TagText,
    TimelinePoint,
)
from entente.sharing.search import Facets, event_facets
from entente.web.deps import PageDep, PrincipalDep, SessionDep
from entente.web.errors import ERROR_RESPONSES

router = APIRouter(responses=ERROR_RESPONSES, tags=["events"])


def event_dep(event_id: RowId, session: SessionDep, principal: PrincipalDep) -> Event:
    """The event, if the caller may see it; 404 otherwise (never 403: existence stays hidden)."""
    return service.get_event(session, principal.viewer, event_id)


EventDep = Annotated[Event, Depends(event_dep)]
EventFilterDep = Annotated[EventFilter, Depends()]


@router.get("/events", response_model=ListOf[EventPublic])
def list_events(
    session: SessionDep, principal: PrincipalDep, filters: EventFilterDep, page: PageDep
) -> ListOf[EventPublic]:
    """Events you may see, newest first, with filters."""
    return list_of(service.list_events(session, principal.viewer, filters, page))


@router.get("/events/facets", response_model=Facets)
def facets_of_events(
    session: SessionDep, principal: PrincipalDep, filters: EventFilterDep
) -> Facets:
    """Counts of the events matching the filters, by TLP, threat level, owner, member state, tag."""
    return event_facets(session, principal.viewer, filters)


@router.post("/events", response_model=EventPublic, status_code=status.HTTP_201_CREATED)
def create_event(data: EventCreate, session: SessionDep, principal: PrincipalDep) -> EventPublic:
    """A new, unpublished event owned by your organisation."""
    event = service.create_event(session, principal, data)
    return service.event_public_for(session, principal.viewer, event)


@router.get("/events/{event_id}", response_model=EventPublic)
def get_event(event: EventDep, session: SessionDep, principal: PrincipalDep) -> EventPublic:
    return service.event_public_for(session, principal.viewer, event)


@router.patch("/events/{event_id}", response_model=EventPublic)
def update_event(
    event: EventDep, data: EventUpdate, session: SessionDep, principal: PrincipalDep
) -> EventPublic:
    """Edit your organisation's event; a published event then waits for its next version."""
    updated = service.update_event(session, principal, event, data)
    return service.event_public_for(session, principal.viewer, updated)


@router.post("/events/{event_id}/publish", response_model=EventPublic)
def publish_event(event: EventDep, session: SessionDep, principal: PrincipalDep) -> EventPublic:
    """Freeze the current state as the next version and publish it."""
    published = service.publish_event(session, principal, event)
    return service.event_public_for(session, principal.viewer, published)


@router.get("/events/{event_id}/versions", response_model=list[EventVersionPublic])
def event_versions(event: EventDep, session: SessionDep) -> list[EventVersionPublic]:
    """Published versions of the event, newest first."""
    return service.event_history(session, event)


@router.post("/events/{event_id}/tags", response_model=EventPublic)
def tag_event(
    event: EventDep, data: TagCreate, session: SessionDep, principal: PrincipalDep
) -> EventPublic:
    """Tag the event: shared if your organisation owns it, otherwise seen only by yours."""
    tags.add_tag(session, principal, event, data.tag)
    return service.event_public_for(session, principal.viewer, event)


@router.delete("/events/{event_id}/tags", response_model=EventPublic)
def untag_event(
    event: EventDep, tag: Annotated[TagText, Query()], session: SessionDep, principal: PrincipalDep
) -> EventPublic:
    """Remove one of your organisation's tags from the event."""
    tags.remove_tag(session, principal, event, tag)
    return service.event_public_for(session, principal.viewer, event)


@router.get("/events/{event_id}/correlations", response_model=list[CorrelatedEventPublic])
def event_correlations(
    event: EventDep, session: SessionDep, principal: PrincipalDep
) -> list[CorrelatedEventPublic]:
    """Other events you may see that share indicator values or networks with this one."""
    found = correlation.correlated_events(session, principal.viewer, event.id)
    return [CorrelatedEventPublic.model_validate(item, from_attributes=True) for item in found]


@router.get("/events/{event_id}/sightings/timeline", response_model=list[TimelinePoint])
def event_sightings_timeline(
    event: EventDep, session: SessionDep, principal: PrincipalDep
) -> list[TimelinePoint]:
    """Sightings of the event's indicators per day and kind."""
    return sightings.event_timeline(session, principal.viewer, event)
