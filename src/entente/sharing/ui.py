"""UI pages of shared events: the list with filters and facets, the new-event form, and an
event's page (markings, tags, description, indicators, correlations, sightings, history).

Thin: every read goes through the same service functions as the REST API (`sharing/api.py`),
which apply the access predicate, so an event the viewer may not see is a 404 exactly like
an absent one, and is neither listed nor counted in a facet. Bulk adding and sightings are in
`indicators_ui.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from entente.core.clock import utcnow
from entente.core.errors import AppError, BadValue
from entente.core.pagination import LARGEST_PAGE, PageRequest
from entente.members import service as members
from entente.members.accounts import Principal
from entente.members.filters import MemberStateFilter, OrganisationFilter
from entente.sharing import correlation, groups, search, service, sightings, tags
from entente.sharing.api import EventDep
from entente.sharing.choices import AnalysisState, SightingKind, ThreatLevel
from entente.sharing.filters import EventFilter, IndicatorFilter
from entente.sharing.group_schemas import GroupFilter
from entente.sharing.models import Event
from entente.sharing.permissions import WRITER_ROLES, require_writer
from entente.sharing.schemas import EventCreate, TimelinePoint
from entente.sharing.tables import CORRELATIONS, EVENTS, HISTORY, INDICATORS, IndicatorRow
from entente.vocabulary.markings import TLP, Distribution
from entente.web.charts import FONT, VEGA_LITE_SCHEMA
from entente.web.deps import PageDep, PrincipalDep, SessionDep
from entente.web.filter_forms import FieldOverride, Widget, declare
from entente.web.forms import FormDep, field_errors, parse_form
from entente.web.templating import LOGIN_REQUIRED, flash, redirect, render, url_with

router = APIRouter(include_in_schema=False, dependencies=LOGIN_REQUIRED)


# ---- the list: filters and facets ------------------------------------------------------

_EVENT_FILTER = TypeAdapter(EventFilter)
_EVENT_FILTER_FIELDS = frozenset(f.name for f in fields(EventFilter))


def event_filter(request: Request) -> EventFilter:
    """The filter form's query: blank means "any"; values are checked as the API checks them."""
    given = {
        key: value.strip()
        for key, value in request.query_params.items()
        if key in _EVENT_FILTER_FIELDS and value.strip()
    }
    try:
        return _EVENT_FILTER.validate_python(given)
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = str(problem["loc"][0])
        raise BadValue(f"{field}: {problem['msg']}", field=field, value=given.get(field)) from exc


EventFilterDep = Annotated[EventFilter, Depends(event_filter)]

EVENT_FILTERS = declare(
    EventFilter,
    "/events",
    {
        "q": FieldOverride(placeholder="Part of the title"),
        "organisation_id": FieldOverride(label="Owner", blank="Any owner", widget=Widget.SELECT),
        "member_state": FieldOverride(blank="Any member state", widget=Widget.SELECT),
        "tlp": FieldOverride(label="TLP", blank="Any TLP"),
        "threat_level": FieldOverride(blank="Any level"),
        "published": FieldOverride(blank="Published or not"),
        "tag": FieldOverride(placeholder='e.g. rsit:fraud="phishing"'),
    },
    order=(
        "q",
        "organisation_id",
        "member_state",
        "tlp",
        "threat_level",
        "published",
        "tag",
        "since",
        "until",
    ),
)

# Facet name (search.event_facets) -> its title and the query parameter it filters by.
FACET_PARAMETERS = {
    "tlp": ("TLP", "tlp"),
    "threat_level": ("Threat level", "threat_level"),
    "organisation": ("Owner", "organisation_id"),
    "member_state": ("Member state", "member_state"),
    "tag": ("Tag", "tag"),
}


@dataclass(frozen=True, slots=True)
class FacetLink:
    """One value of a facet: following it adds that filter (or, once applied, removes it)."""

    label: str
    count: int
    href: str
    active: bool


@dataclass(frozen=True, slots=True)
class FacetGroup:
    title: str
    links: tuple[FacetLink, ...]


def facet_groups(request: Request, facets: search.Facets) -> list[FacetGroup]:
    groups_shown = []
    for name, (title, parameter) in FACET_PARAMETERS.items():
        applied = request.query_params.get(parameter, "").strip().casefold()
        links = tuple(
            FacetLink(
                label=item.label,
                count=item.count,
                href=_facet_href(request, parameter, item.value, applied),
                active=item.value.casefold() == applied,
            )
            for item in facets.get(name, [])
        )
        if links:
            groups_shown.append(FacetGroup(title, links))
    return groups_shown


def _facet_href(request: Request, parameter: str, value: str, applied: str) -> str:
    chosen = None if value.casefold() == applied else value
    return url_with(request, **{parameter: chosen, "cursor": None})


@router.get("/events", response_class=HTMLResponse)
def event_list(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    filters: EventFilterDep,
    page: PageDep,
) -> Response:
    result = service.list_events(session, principal.viewer, filters, page)
    organisations = members.list_organisations(session, OrganisationFilter(), LARGEST_PAGE).items
    states = members.list_member_states(session, MemberStateFilter(), LARGEST_PAGE).items
    filter_form = EVENT_FILTERS.form(
        request.query_params,
        {
            "organisation_id": [(o.id, o.name) for o in organisations],
            "member_state": [(s.alpha2, s.name) for s in states],
        },
    )
    return render(
        request,
        "sharing/events.html",
        {
            "page": result,
            "table": EVENTS,
            "rows": EVENTS.rows(result.items),
            "filter_form": filter_form,
            "filtered": any(field.value for field in filter_form.fields),
            "facets": facet_groups(
                request, search.event_facets(session, principal.viewer, filters)
            ),
            "may_write": may_write(principal),
        },
    )


def may_write(principal: Principal) -> bool:
    return principal.user.role in WRITER_ROLES


def is_owner(principal: Principal, event: Event) -> bool:
    return may_write(principal) and principal.user.organisation_id == event.owner_organisation_id


# ---- the new-event form ----------------------------------------------------------------


@router.get("/events/new", response_class=HTMLResponse)
def new_event(request: Request, session: SessionDep, principal: PrincipalDep) -> Response:
    require_writer(principal)
    defaults = {
        "event_date": utcnow().date().isoformat(),
        "threat_level": ThreatLevel.UNDEFINED.value,
        "analysis": AnalysisState.INITIAL.value,
        "tlp": TLP.AMBER.value,
        "distribution": Distribution.ALL_MEMBERS.value,
    }
    return _event_form(request, session, principal, defaults)


@router.post("/events/new", response_class=HTMLResponse)
def create_event(
    request: Request, session: SessionDep, principal: PrincipalDep, form: FormDep
) -> Response:
    try:
        data = parse_form(EventCreate, form, tags=split_tags(form.get("tags", "")))
        event = service.create_event(session, principal, data)
    except AppError as exc:
        session.rollback()
        return _event_form(request, session, principal, form, exc)
    flash(request, f"Event '{event.title}' created. Add its indicators, then publish it.")
    return redirect(f"/events/{event.id}")


def split_tags(text: str) -> list[str]:
    """Tags as typed in one box, comma-separated (a machine tag holds no comma)."""
    return [tag.strip() for tag in text.split(",") if tag.strip()]


def _event_form(
    request: Request,
    session: Session,
    principal: Principal,
    values: Mapping[str, str],
    error: AppError | None = None,
) -> Response:
    own_groups = groups.list_groups(
        session, GroupFilter(organisation_id=principal.user.organisation_id), LARGEST_PAGE
    )
    return render(
        request,
        "sharing/event_form.html",
        {
            "values": values,
            "errors": _form_errors(error) if error else {},
            "threat_levels": list(ThreatLevel),
            "analysis_states": list(AnalysisState),
            "tlps": list(TLP),
            "distributions": list(Distribution),
            "sharing_groups": [(g.id, g.name) for g in own_groups.items],
        },
        status_code=error.http_status if error else 200,
    )


def _form_errors(error: AppError) -> dict[str, str]:
    """Errors by form field: a tag's error (`tags.2` from the schema, `tag` from the service)
    belongs to the one tags box."""
    shown: dict[str, str] = {}
    for field, message in field_errors(error).items():
        shown.setdefault("tags" if field.startswith("tag") else field, message)
    return shown


# ---- an event's page -------------------------------------------------------------------


@router.get("/events/{event_id}", response_class=HTMLResponse)
def event_page(
    event: EventDep, request: Request, session: SessionDep, principal: PrincipalDep, page: PageDep
) -> Response:
    return render(request, "sharing/event.html", event_context(session, principal, event, page))


def event_context(
    session: Session, principal: Principal, event: Event, page: PageRequest
) -> dict[str, Any]:
    """Everything the event page shows, each part read through its service for this viewer."""
    viewer = principal.viewer
    public = service.event_public_for(session, viewer, event)
    indicators = search.list_indicators(session, viewer, IndicatorFilter(event_id=event.id), page)
    ids = [indicator.id for indicator in indicators.items]
    links = correlation.indicator_link_counts(session, viewer, ids)
    sums = sightings.summaries(session, ids)
    rows = [IndicatorRow(i, links.get(i.id, 0), sums.get(i.id)) for i in indicators.items]
    timeline = sightings.event_timeline(session, viewer, event)
    group = groups.get_group(session, event.sharing_group_id) if event.sharing_group_id else None
    return {
        "event": public,
        "sharing_group": group,
        "may_write": may_write(principal),
        "is_owner": is_owner(principal, event),
        "removable_tags": _removable_tags(session, principal, event),
        "indicators": indicators,
        "indicator_table": INDICATORS,
        "indicator_rows": INDICATORS.rows(rows),
        "indicator_ids": ids,
        "sighting_kinds": (SightingKind.SEEN, SightingKind.FALSE_POSITIVE),
        "correlation_table": CORRELATIONS,
        "correlation_rows": CORRELATIONS.rows(
            correlation.correlated_events(session, viewer, event.id)
        ),
        "timeline_chart": timeline_chart(timeline) if timeline else None,
        "history_table": HISTORY,
        "history_rows": HISTORY.rows(service.event_history(session, event)),
        "values": {},
        "errors": {},
    }


def _removable_tags(session: Session, principal: Principal, event: Event) -> frozenset[str]:
    """The tags the viewer's organisation put on the event, which its writers may remove."""
    if not may_write(principal):
        return frozenset()
    return frozenset(tags.organisation_tags(session, event, principal.user.organisation_id))


@router.post("/events/{event_id}/publish")
def publish_event(
    event: EventDep, request: Request, session: SessionDep, principal: PrincipalDep
) -> Response:
    published = service.publish_event(session, principal, event)
    flash(request, f"Published version {published.version} of '{published.title}'.")
    return redirect(f"/events/{event.id}")


@router.post("/events/{event_id}/tags", response_class=HTMLResponse)
def add_tag(
    event: EventDep, request: Request, session: SessionDep, principal: PrincipalDep, form: FormDep
) -> Response:
    try:
        name = tags.add_tag(session, principal, event, form.get("tag", ""))
    except AppError as exc:
        session.rollback()
        context = event_context(session, principal, event, PageRequest())
        context.update(values=form, errors={"tag": exc.message})
        return render(request, "sharing/event.html", context, status_code=exc.http_status)
    flash(request, f"Tagged '{name}'.")
    return redirect(f"/events/{event.id}")


@router.post("/events/{event_id}/tags/remove")
def remove_tag(
    event: EventDep, request: Request, session: SessionDep, principal: PrincipalDep, form: FormDep
) -> Response:
    name = form.get("tag", "")
    tags.remove_tag(session, principal, event, name)
    flash(request, f"Removed the tag '{name}'.")
    return redirect(f"/events/{event.id}")


# ---- the sightings chart ---------------------------------------------------------------

# Bar colours of the sighting kinds, by the badge colour each kind declares.
_KIND_FILLS = {"red": "#c2342d", "green": "#2f9e58", "grey": "#8a96a6"}
# The axis spans at least this many days, so a lone day is a bar, not the whole chart.
TIMELINE_MIN_DAYS = 14


def timeline_chart(points: list[TimelinePoint]) -> dict[str, Any]:
    """Sightings per day, one bar a day stacked by kind, in the kinds' own colours."""
    kinds = list(SightingKind)
    last = max(point.day for point in points)
    first = min(min(point.day for point in points), last - timedelta(days=TIMELINE_MIN_DAYS - 1))
    values = [{"day": p.day.isoformat(), "kind": p.kind.label, "count": p.count} for p in points]
    day = {"field": "day", "type": "temporal", "timeUnit": "utcyearmonthdate"}
    return {
        "$schema": VEGA_LITE_SCHEMA,
        "width": "container",
        "height": 180,
        "data": {"values": values},
        "mark": {"type": "bar"},
        "encoding": {
            "x": {
                **day,
                "title": None,
                "scale": {"domain": [_utc_day(first), _utc_day(last + timedelta(days=1))]},
                "axis": {"format": "%d %b", "labelAngle": 0, "tickCount": "utcday"},
            },
            "y": {
                "field": "count",
                "type": "quantitative",
                "stack": "zero",
                "title": "Sightings",
                "axis": {"tickMinStep": 1, "format": "d"},
            },
            "color": {
                "field": "kind",
                "type": "nominal",
                "title": None,
                "scale": {
                    "domain": [kind.label for kind in kinds],
                    "range": [_KIND_FILLS[kind.colour] for kind in kinds],
                },
                "legend": {"orient": "bottom"},
            },
            "tooltip": [
                {**day, "title": "Day"},
                {"field": "kind", "title": "Kind"},
                {"field": "count", "title": "Sightings"},
            ],
        },
        "config": {"view": {"stroke": None}, "font": FONT},
    }


def _utc_day(day: date) -> dict[str, int | bool]:
    """A Vega-Lite DateTime (its months count from 1) at the UTC midnight starting `day`."""
    return {"year": day.year, "month": day.month, "date": day.day, "utc": True}
