"""REST routes of the alert lifecycle: an alert's detail and timeline, transitions,
assignment, comments, and bulk actions. (The list, `GET /alerts`, is the pipeline's.)

Thin: each handler calls one function of `alerts.actions`. Another member's alert is a 404,
a step the lifecycle does not have a 409, a role that may not take it a 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from entente.alerts import actions
from entente.alerts.schemas import (
    AlertDetail,
    AssignRequest,
    BulkReport,
    BulkRequest,
    CommentCreate,
    TimelineEntryPublic,
    TransitionRequest,
)
from entente.web.deps import PrincipalDep, SessionDep
from entente.web.errors import ERROR_RESPONSES

router = APIRouter(responses=ERROR_RESPONSES, tags=["alerts"])

AlertId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The alert's id")]


@router.post("/alerts/bulk", response_model=BulkReport)
def bulk_action(data: BulkRequest, session: SessionDep, principal: PrincipalDep) -> BulkReport:
    """Acknowledge, close or assign every alert the filter matches (at most 1,000), all or
    nothing: one alert that cannot take the step is a 409 naming it, and nothing changes."""
    return actions.bulk(session, principal, data)


@router.get("/alerts/{alert_id}", response_model=AlertDetail)
def get_alert(alert_id: AlertId, session: SessionDep, principal: PrincipalDep) -> AlertDetail:
    """The alert with its assignee and the statuses you may move it to."""
    return actions.alert_detail(session, principal, actions.get_alert(session, principal, alert_id))


@router.get("/alerts/{alert_id}/timeline", response_model=list[TimelineEntryPublic])
def get_timeline(
    alert_id: AlertId, session: SessionDep, principal: PrincipalDep
) -> list[TimelineEntryPublic]:
    """Every change to the alert, oldest first: status, assignment, comment, returned."""
    return actions.timeline(session, principal, alert_id)


@router.post("/alerts/{alert_id}/transition", response_model=AlertDetail)
def transition(
    alert_id: AlertId, data: TransitionRequest, session: SessionDep, principal: PrincipalDep
) -> AlertDetail:
    """Move the alert to another status (reopening needs a `reason`)."""
    alert = actions.transition(session, principal, alert_id, data.to, data.reason)
    return actions.alert_detail(session, principal, alert)


@router.post("/alerts/{alert_id}/assign", response_model=AlertDetail)
def assign(
    alert_id: AlertId, data: AssignRequest, session: SessionDep, principal: PrincipalDep
) -> AlertDetail:
    """Assign the alert to a user of its organisation (`null`: to nobody)."""
    alert = actions.assign(session, principal, alert_id, data.assignee_id)
    return actions.alert_detail(session, principal, alert)


@router.post(
    "/alerts/{alert_id}/comments",
    response_model=TimelineEntryPublic,
    status_code=status.HTTP_201_CREATED,
)
def add_comment(
    alert_id: AlertId, data: CommentCreate, session: SessionDep, principal: PrincipalDep
) -> TimelineEntryPublic:
    """Add a Markdown comment to the alert's timeline."""
    return actions.add_comment(session, principal, alert_id, data)
