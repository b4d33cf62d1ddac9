"""REST routes of indicators: bulk add, search with facets, matching, sightings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from entente.members.schemas import ListOf, RowId, list_of
from entente.sharing import indicator_service, search, sightings
from entente.sharing.api import EventDep
from entente.sharing.filters import IndicatorFilter
from entente.sharing.matching import MatchRequest, MatchResult, match_values
from entente.sharing.models import Indicator
from entente.sharing.schemas import (
    IndicatorBatch,
    IndicatorBatchResult,
    IndicatorPublic,
    SightingCreate,
    SightingPublic,
    SightingSummary,
)
from entente.web.deps import PageDep, PrincipalDep, SessionDep
from entente.web.errors import ERROR_RESPONSES

router = APIRouter(responses=ERROR_RESPONSES, tags=["indicators"])


def indicator_dep(indicator_id: RowId, session: SessionDep, principal: PrincipalDep) -> Indicator:
    """The indicator, if the caller may see it; 404 otherwise."""
    return indicator_service.get_indicator(session, principal.viewer, indicator_id)


IndicatorDep = Annotated[Indicator, Depends(indicator_dep)]
IndicatorFilterDep = Annotated[IndicatorFilter, Depends()]


@router.post(
    "/events/{event_id}/indicators",
    response_model=IndicatorBatchResult,
    status_code=status.HTTP_201_CREATED,
)
def add_indicators(
    event: EventDep, data: IndicatorBatch, session: SessionDep, principal: PrincipalDep
) -> IndicatorBatchResult:
    """Add indicators: valid ones are kept, each invalid one is listed in `rejected`."""
    return indicator_service.add_indicators(session, principal, event, data)


@router.get("/indicators", response_model=ListOf[IndicatorPublic])
def search_indicators(
    session: SessionDep, principal: PrincipalDep, filters: IndicatorFilterDep, page: PageDep
) -> ListOf[IndicatorPublic]:
    """Indicators you may see; `value` is an exact lookup of any canonical form (refanged)."""
    return list_of(search.list_indicators(session, principal.viewer, filters, page))


@router.get("/indicators/facets", response_model=search.Facets)
def facets_of_indicators(
    session: SessionDep, principal: PrincipalDep, filters: IndicatorFilterDep
) -> search.Facets:
    """Counts of the indicators matching the filters, by type, TLP, owner and member state."""
    return search.indicator_facets(session, principal.viewer, filters)


@router.post("/indicators/match", response_model=MatchResult)
def match_indicators(
    data: MatchRequest, session: SessionDep, principal: PrincipalDep
) -> MatchResult:
    """Which of these values are active indicators you may see (expired ones never match)."""
    return match_values(session, principal.viewer, data)


@router.get("/indicators/{indicator_id}", response_model=IndicatorPublic)
def get_indicator(indicator: IndicatorDep) -> IndicatorPublic:
    return indicator_service.indicator_public(indicator)


@router.post(
    "/indicators/{indicator_id}/sightings",
    response_model=SightingPublic,
    status_code=status.HTTP_201_CREATED,
)
def add_sighting(
    indicator: IndicatorDep, data: SightingCreate, session: SessionDep, principal: PrincipalDep
) -> SightingPublic:
    """Report that your organisation saw the indicator (or found it false, or expired)."""
    sighting = sightings.add_sighting(session, principal, indicator, data)
    return sightings.sighting_public(sighting, principal.user.organisation.name)


@router.get("/indicators/{indicator_id}/sightings", response_model=ListOf[SightingPublic])
def list_sightings(
    indicator: IndicatorDep, session: SessionDep, principal: PrincipalDep, page: PageDep
) -> ListOf[SightingPublic]:
    """Sightings, newest first; the reporter is named to the owner and the reporter only."""
    return list_of(sightings.list_sightings(session, principal.viewer, indicator, page))


@router.get("/indicators/{indicator_id}/sightings/summary", response_model=SightingSummary)
def sighting_summary(indicator: IndicatorDep, session: SessionDep) -> SightingSummary:
    return sightings.summary(session, indicator.id)
