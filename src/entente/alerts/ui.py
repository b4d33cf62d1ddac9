"""UI pages of the alert lifecycle: the alert list with bulk actions on ticked alerts, and an
alert's page (status, the actions the viewer may take, assignment, comments, timeline).

Thin: each handler calls the same `alerts.actions` function as the REST API; a refused
action is shown as a message on the page it came from, and nothing is changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from entente.alerts import actions
from entente.alerts.choices import AlertStatus
from entente.alerts.schemas import BulkFilter, BulkRequest, CommentCreate
from entente.core.errors import AppError, BadValue
from entente.pipeline import findings
from entente.pipeline.filters import AlertFilter
from entente.web.deps import PageDep, PrincipalDep, SessionDep
from entente.web.forms import FormDep, parse_form
from entente.web.templating import LOGIN_REQUIRED, FlashLevel, flash, redirect, render

router = APIRouter(include_in_schema=False, dependencies=LOGIN_REQUIRED)

_FILTER = TypeAdapter(AlertFilter)
_FILTER_FIELDS = ("day_from", "day_to", "feed", "taxonomy", "type", "status")


def alert_filter(request: Request) -> AlertFilter:
    """The list's filters from the query string; blank means any, a bad value is named."""
    given = {
        key: value.strip()
        for key, value in request.query_params.items()
        if key in _FILTER_FIELDS and value.strip()
    }
    try:
        return _FILTER.validate_python(given)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "filter"
        raise BadValue(f"{field}: {error['msg']}", field=field, value=given.get(field)) from exc


@router.get("/alerts", response_class=HTMLResponse)
def alert_list(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    filters: Annotated[AlertFilter, Depends(alert_filter)],
    page: PageDep,
) -> Response:
    found = findings.list_alerts(session, principal, filters, page)
    context = {
        "page": found,
        "alerts": found.items,
        "statuses": list(AlertStatus),
        "values": {name: request.query_params.get(name, "") for name in _FILTER_FIELDS},
        "may_change": actions.may_change(principal),
        "users": actions.colleagues(session, principal),
    }
    return render(request, "alerts/alerts.html", context)


async def picked_alerts(request: Request) -> list[str]:
    """The ticked alerts' ids (`pick` checkboxes)."""
    return [str(value) for value in (await request.form()).getlist("pick")]


def _bulk_request(form: dict[str, str], picked: list[str]) -> BulkRequest:
    if not picked:
        raise BadValue("Tick the alerts to change first.", field="pick")
    if not all(value.isdigit() for value in picked):
        raise BadValue("Not alerts of the list.", field="pick")
    values: dict[str, Any] = {"filter": BulkFilter(ids=[int(value) for value in picked])}
    return parse_form(BulkRequest, form, **values)


@router.post("/alerts/bulk")
def alert_bulk(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    form: FormDep,
    picked: Annotated[list[str], Depends(picked_alerts)],
) -> Response:
    form = {key: value for key, value in form.items() if key != "pick"}
    report = _attempt(
        session, request, lambda: actions.bulk(session, principal, _bulk_request(form, picked))
    )
    if report is not None:
        flash(request, f"{report.action.value.capitalize()}: {report.changed} alert(s) changed.")
    return redirect("/alerts")


def _attempt(session: Session, request: Request, act: Callable[[], Any]) -> Any:
    """Run one action; a refusal becomes the page's error message and changes nothing."""
    try:
        return act()
    except AppError as exc:
        session.rollback()
        flash(request, exc.message, FlashLevel.ERROR)
        return None


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(
    request: Request, alert_id: int, session: SessionDep, principal: PrincipalDep
) -> Response:
    alert = actions.get_alert(session, principal, alert_id)
    detail = actions.alert_detail(session, principal, alert)
    users = actions.assignable_users(session, alert)
    context = {
        "alert": detail,
        "timeline": actions.timeline(session, principal, alert_id),
        "status_options": [(status.value, status.label) for status in detail.allowed_statuses],
        "user_options": [(user.id, user.username) for user in users],
    }
    return render(request, "alerts/alert.html", context)


def _alert_url(alert_id: int) -> str:
    return f"/alerts/{alert_id}"


@router.post("/alerts/{alert_id}/transition")
def alert_transition(
    request: Request, alert_id: int, session: SessionDep, principal: PrincipalDep, form: FormDep
) -> Response:
    def act() -> object:
        target = _status(form.get("to", ""))
        return actions.transition(session, principal, alert_id, target, form.get("reason", ""))

    if _attempt(session, request, act) is not None:
        flash(request, "Status changed.")
    return redirect(_alert_url(alert_id))


def _status(text: str) -> AlertStatus:
    try:
        return AlertStatus(text)
    except ValueError:
        raise BadValue(f"{text!r} is not an alert status", field="to", value=text) from None


@router.post("/alerts/{alert_id}/assign")
def alert_assign(
    request: Request, alert_id: int, session: SessionDep, principal: PrincipalDep, form: FormDep
) -> Response:
    def act() -> object:
        text = form.get("assignee_id", "")
        if text and not text.isdigit():
            raise BadValue(f"{text!r} is not a user", field="assignee_id", value=text)
        return actions.assign(session, principal, alert_id, int(text) if text else None)

    if _attempt(session, request, act) is not None:
        flash(request, "Assignment changed.")
    return redirect(_alert_url(alert_id))


@router.post("/alerts/{alert_id}/comments")
def alert_comment(
    request: Request, alert_id: int, session: SessionDep, principal: PrincipalDep, form: FormDep
) -> Response:
    def act() -> object:
        return actions.add_comment(session, principal, alert_id, parse_form(CommentCreate, form))

    if _attempt(session, request, act) is not None:
        flash(request, "Comment added.")
    return redirect(_alert_url(alert_id))
