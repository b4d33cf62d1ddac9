"""What people do with alerts: move them through the lifecycle, assign them, comment, and the
same in bulk; and the reads those pages need (an alert's detail, its timeline).

Every alert is loaded through `readable_alerts`, so another member's alert is "not found",
exactly like one that does not exist. Each change writes a timeline entry and an audit entry
in the same transaction, then commits.
"""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from entente.alerts import lifecycle
from entente.alerts.choices import AlertStatus, TimelineKind
from entente.alerts.models import Alert, AlertTimelineEntry
from entente.alerts.schemas import (
    MAX_BULK_ALERTS,
    AlertDetail,
    BulkAction,
    BulkFilter,
    BulkReport,
    BulkRequest,
    CommentCreate,
    TimelineEntryPublic,
)
from entente.core import audit
from entente.core.clock import utcnow
from entente.core.errors import AppError, BadValue, Conflict, NotFound, PermissionDenied
from entente.members.accounts import Principal
from entente.members.models import User
from entente.pipeline.findings import alert_publics, alerts_for

OBJECT_TYPE = "alert"
BULK_TARGET = {
    BulkAction.ACKNOWLEDGE: AlertStatus.ACKNOWLEDGED,
    BulkAction.CLOSE: AlertStatus.CLOSED,
}


def readable_alerts(principal: Principal) -> Select[Alert]:
    """The alerts the principal may read: its organisation's; a platform admin every one
    (the same scope as the pipeline's alert list)."""
    return alerts_for(principal)


def get_alert(session: Session, principal: Principal, alert_id: int) -> Alert:
    """The alert, or NotFound when it does not exist or is another member's."""
    alert = session.scalar(readable_alerts(principal).where(Alert.id == alert_id))
    if alert is None:
        raise NotFound(f"alert {alert_id} not found", field="alert_id", value=alert_id)
    return alert


def alert_detail(session: Session, principal: Principal, alert: Alert) -> AlertDetail:
    """The alert with its assignee and the statuses the principal may move it to."""
    public = alert_publics(session, [alert])[0]
    assignee = session.get(User, alert.assignee_id) if alert.assignee_id else None
    role = principal.user.role
    return AlertDetail(
        **public.model_dump(),
        assignee_id=alert.assignee_id,
        assignee_username=assignee.username if assignee else None,
        allowed_statuses=lifecycle.next_statuses(role, alert.status),
        may_change=lifecycle.may_work_on(role),
    )


def may_change(principal: Principal) -> bool:
    """Whether the principal may change alerts at all (readers may not)."""
    return lifecycle.may_work_on(principal.user.role)


def assignable_users(session: Session, alert: Alert) -> list[User]:
    """The active users of the alert's organisation, by name: who it may be assigned to."""
    query = select(User).where(User.organisation_id == alert.organisation_id, User.is_active)
    return list(session.scalars(query.order_by(User.username)))


def colleagues(session: Session, principal: Principal) -> list[User]:
    """The active users of the principal's organisation: whom a bulk assignment may pick."""
    query = select(User).where(
        User.organisation_id == principal.user.organisation_id, User.is_active
    )
    return list(session.scalars(query.order_by(User.username)))


def timeline(session: Session, principal: Principal, alert_id: int) -> list[TimelineEntryPublic]:
    """Every change to the alert, oldest first."""
    alert = get_alert(session, principal, alert_id)
    entries = session.scalars(
        select(AlertTimelineEntry)
        .where(AlertTimelineEntry.alert_id == alert.id)
        .order_by(AlertTimelineEntry.at, AlertTimelineEntry.id)
    )
    return [TimelineEntryPublic.model_validate(entry) for entry in entries]


def _check_worker(principal: Principal) -> None:
    if not lifecycle.may_work_on(principal.user.role):
        raise PermissionDenied(f"the role {principal.user.role.value} may only read alerts")


def _entry(
    alert: Alert, actor: audit.Actor, kind: TimelineKind, **values: str
) -> AlertTimelineEntry:
    return AlertTimelineEntry(
        alert_id=alert.id,
        at=utcnow(),
        actor_user_id=actor.user_id,
        actor=actor.label,
        kind=kind,
        **values,
    )


def _move(
    session: Session, principal: Principal, alert: Alert, target: AlertStatus, reason: str
) -> None:
    """Check one transition and stage its change and timeline entry (the caller commits)."""
    step = lifecycle.step(alert.status, target)
    if step is None or not step.roles:
        raise Conflict(
            f"alert {alert.id} cannot go from {alert.status.value} to {target.value}",
            field="to",
            value=target.value,
        )
    if principal.user.role not in step.roles:
        raise PermissionDenied(
            f"the role {principal.user.role.value} may not move alert {alert.id} "
            f"from {alert.status.value} to {target.value}",
            field="to",
        )
    if step.needs_reason and not reason.strip():
        raise BadValue(
            f"reopening alert {alert.id} from {alert.status.value} needs a reason", field="reason"
        )
    actor = principal.actor()
    session.add(
        _entry(
            alert,
            actor,
            TimelineKind.STATUS,
            from_value=alert.status.value,
            to_value=target.value,
            reason=reason,
        )
    )
    alert.status = target
    alert.updated_at = utcnow()


def transition(
    session: Session, principal: Principal, alert_id: int, target: AlertStatus, reason: str = ""
) -> Alert:
    """Move the alert to `target` (see `lifecycle.TRANSITIONS`): a 409 when the lifecycle has
    no such step, a 403 when the principal's role may not take it."""
    _check_worker(principal)
    alert = get_alert(session, principal, alert_id)
    before = alert.status
    _move(session, principal, alert, target, reason)
    audit.record(
        session,
        principal.actor(),
        "alert.transition",
        (OBJECT_TYPE, alert.id),
        **{"from": before.value, "to": target.value, "reason": reason},
    )
    session.commit()
    return alert


def reopen(
    session: Session, principal: Principal, alert_id: int, target: AlertStatus, reason: str
) -> Alert:
    """Reopen a remediated, false-positive or closed alert (to `target`: acknowledged or new);
    a 409 for an alert that is still open, where "reopen" would be a plain status change."""
    alert = get_alert(session, principal, alert_id)
    if alert.status not in lifecycle.REOPENABLE:
        raise Conflict(
            f"alert {alert.id} cannot go from {alert.status.value} to {target.value} by "
            "reopening: it is still open",
            field="to",
            value=target.value,
        )
    return transition(session, principal, alert_id, target, reason)


def _assignee(session: Session, alert: Alert, assignee_id: int | None) -> User | None:
    if assignee_id is None:
        return None
    user = session.get(User, assignee_id)
    if user is None or user.organisation_id != alert.organisation_id or not user.is_active:
        raise BadValue(
            f"user {assignee_id} is not an active user of alert {alert.id}'s organisation",
            field="assignee_id",
            value=assignee_id,
        )
    return user


def _stage_assignment(
    session: Session, principal: Principal, alert: Alert, assignee_id: int | None
) -> None:
    user = _assignee(session, alert, assignee_id)
    before = session.get(User, alert.assignee_id) if alert.assignee_id else None
    session.add(
        _entry(
            alert,
            principal.actor(),
            TimelineKind.ASSIGNMENT,
            from_value=before.username if before else "",
            to_value=user.username if user else "",
        )
    )
    alert.assignee_id = user.id if user else None
    alert.updated_at = utcnow()


def assign(session: Session, principal: Principal, alert_id: int, assignee_id: int | None) -> Alert:
    """Assign the alert to a user of its organisation (None: to nobody)."""
    _check_worker(principal)
    alert = get_alert(session, principal, alert_id)
    _stage_assignment(session, principal, alert, assignee_id)
    audit.record(
        session, principal.actor(), "alert.assign", (OBJECT_TYPE, alert.id), assignee_id=assignee_id
    )
    session.commit()
    return alert


def add_comment(
    session: Session, principal: Principal, alert_id: int, data: CommentCreate
) -> TimelineEntryPublic:
    """Add a Markdown comment to the alert's timeline."""
    _check_worker(principal)
    alert = get_alert(session, principal, alert_id)
    entry = _entry(alert, principal.actor(), TimelineKind.COMMENT, body=data.body)
    session.add(entry)
    audit.record(session, principal.actor(), "alert.comment", (OBJECT_TYPE, alert.id))
    session.commit()
    return TimelineEntryPublic.model_validate(entry)


def filtered(query: Select[Alert], filters: BulkFilter) -> Select[Alert]:
    """The query narrowed to the filter's alerts (every given field must match)."""
    if filters.ids is not None:
        query = query.where(Alert.id.in_(filters.ids))
    if filters.day_from is not None:
        query = query.where(Alert.day >= filters.day_from)
    if filters.day_to is not None:
        query = query.where(Alert.day <= filters.day_to)
    for column, value in (
        (Alert.feed_name, filters.feed),
        (Alert.taxonomy, filters.taxonomy),
        (Alert.type, filters.type),
        (Alert.status, filters.status),
    ):
        if value is not None:
            query = query.where(column == value)
    return query


def _bulk_targets(session: Session, principal: Principal, filters: BulkFilter) -> list[Alert]:
    query = filtered(readable_alerts(principal), filters).order_by(Alert.id)
    alerts = list(session.scalars(query.limit(MAX_BULK_ALERTS + 1)))
    if len(alerts) > MAX_BULK_ALERTS:
        raise BadValue(
            f"the filter matches more than {MAX_BULK_ALERTS} alerts; narrow it", field="filter"
        )
    missing = sorted(set(filters.ids or ()) - {alert.id for alert in alerts})
    if missing:
        raise NotFound(f"alert {missing[0]} not found", field="filter.ids", value=missing[0])
    return alerts


def _check_no_reopening(alert: Alert, target: AlertStatus) -> None:
    """A bulk action never reopens: each reopening has its own reason, given one by one."""
    step = lifecycle.step(alert.status, target)
    if step is not None and step.needs_reason:
        raise Conflict(
            f"alert {alert.id} cannot go from {alert.status.value} to {target.value} "
            "in bulk; reopen it on its own, with a reason",
            field="action",
            value=target.value,
        )


def bulk(session: Session, principal: Principal, request: BulkRequest) -> BulkReport:
    """Apply one action to every alert the filter matches, all or nothing: the first alert
    that cannot take it stops the whole action (409 naming it) and nothing is changed."""
    _check_worker(principal)
    if request.action is BulkAction.ASSIGN and request.assignee_id is None:
        raise BadValue("assign needs an assignee_id", field="assignee_id")
    alerts = _bulk_targets(session, principal, request.filter)
    try:
        for alert in alerts:
            if request.action is BulkAction.ASSIGN:
                _stage_assignment(session, principal, alert, request.assignee_id)
            elif alert.status is not BULK_TARGET[request.action]:
                _check_no_reopening(alert, BULK_TARGET[request.action])
                _move(session, principal, alert, BULK_TARGET[request.action], request.reason)
    except AppError:
        # Nothing of a refused bulk action may reach the database with a later flush.
        session.rollback()
        raise
    ids = [alert.id for alert in alerts]
    audit.record(
        session,
        principal.actor(),
        f"alert.bulk_{request.action.value}",
        (OBJECT_TYPE, None),
        alert_ids=ids,
        assignee_id=request.assignee_id,
        reason=request.reason,
    )
    session.commit()
    return BulkReport(action=request.action, changed=len(ids), alert_ids=ids)
