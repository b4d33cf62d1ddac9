"""People's actions on alerts through the service: roles, another member's alert, assignment,
comments, bulk actions, and a timeline and audit entry for each change."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.alerts import actions
from entente.alerts.choices import AlertStatus, TimelineKind
from entente.alerts.schemas import BulkAction, BulkFilter, BulkRequest, CommentCreate
from entente.core.audit import AuditEntry
from entente.core.errors import BadValue, Conflict, NotFound, PermissionDenied
from entente.members.accounts import Principal, load_viewer
from entente.members.choices import Role
from entente.members.models import Organisation, User
from tests.alerts.builders import make_alert
from tests.factories import make_organisation, make_user

S = AlertStatus


def as_principal(session: Session, user: User) -> Principal:
    return Principal(user=user, viewer=load_viewer(session, user), via="api")


@pytest.fixture
def org(session: Session) -> Organisation:
    return make_organisation(session)


@pytest.fixture
def analyst(session: Session, org: Organisation) -> Principal:
    return as_principal(session, make_user(session, org, Role.ANALYST))


def audit_actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_another_members_alert_is_not_found_for_every_action(
    session: Session, analyst: Principal
) -> None:
    other = make_alert(session, make_organisation(session, member_state="KE"))
    for act in (
        lambda: actions.get_alert(session, analyst, other.id),
        lambda: actions.timeline(session, analyst, other.id),
        lambda: actions.transition(session, analyst, other.id, S.ACKNOWLEDGED),
        lambda: actions.assign(session, analyst, other.id, analyst.user.id),
        lambda: actions.add_comment(session, analyst, other.id, CommentCreate(body="mine?")),
    ):
        with pytest.raises(NotFound):
            act()
    session.rollback()
    assert other.status is S.NEW
    assert actions.timeline(session, as_principal(session, admin_of(session)), other.id) == []


def admin_of(session: Session) -> User:
    return make_user(session, make_organisation(session, member_state="FR"), Role.ADMIN)


def test_a_platform_admin_acts_on_any_members_alert(session: Session, org: Organisation) -> None:
    alert = make_alert(session, org)
    admin = as_principal(session, admin_of(session))
    actions.transition(session, admin, alert.id, S.CLOSED)
    actions.transition(session, admin, alert.id, S.NEW, reason="closed by mistake")
    assert alert.status is S.NEW


def test_assignment_is_to_a_user_of_the_alerts_organisation_only(
    session: Session, org: Organisation, analyst: Principal
) -> None:
    alert = make_alert(session, org)
    colleague = make_user(session, org, Role.READER)
    stranger = make_user(session, make_organisation(session, member_state="KE"))
    with pytest.raises(BadValue) as refused:
        actions.assign(session, analyst, alert.id, stranger.id)
    assert refused.value.field == "assignee_id"
    session.rollback()
    actions.assign(session, analyst, alert.id, colleague.id)
    actions.assign(session, analyst, alert.id, None)
    entries = actions.timeline(session, analyst, alert.id)
    assert [(e.kind, e.from_value, e.to_value) for e in entries] == [
        (TimelineKind.ASSIGNMENT, "", colleague.username),
        (TimelineKind.ASSIGNMENT, colleague.username, ""),
    ]
    assert alert.assignee_id is None


def test_a_reader_may_not_assign_or_comment(session: Session, org: Organisation) -> None:
    alert = make_alert(session, org)
    reader = as_principal(session, make_user(session, org, Role.READER))
    with pytest.raises(PermissionDenied):
        actions.assign(session, reader, alert.id, reader.user.id)
    with pytest.raises(PermissionDenied):
        actions.add_comment(session, reader, alert.id, CommentCreate(body="hi"))
    assert actions.timeline(session, reader, alert.id) == []


def test_the_timeline_records_every_change_with_who_when_from_to_and_why(
    session: Session, org: Organisation, analyst: Principal
) -> None:
    alert = make_alert(session, org)
    manager = as_principal(session, make_user(session, org, Role.ORG_ADMIN))
    actions.transition(session, analyst, alert.id, S.ACKNOWLEDGED)
    actions.assign(session, analyst, alert.id, analyst.user.id)
    actions.add_comment(session, analyst, alert.id, CommentCreate(body="Patched **web01**."))
    actions.transition(session, analyst, alert.id, S.REMEDIATED)
    actions.transition(session, analyst, alert.id, S.CLOSED)
    actions.transition(session, manager, alert.id, S.ACKNOWLEDGED, reason="scan shows it again")
    entries = actions.timeline(session, analyst, alert.id)
    me, boss = analyst.user.username, manager.user.username
    assert [(e.actor, e.kind, e.from_value, e.to_value, e.reason, e.body) for e in entries] == [
        (me, TimelineKind.STATUS, "new", "acknowledged", "", ""),
        (me, TimelineKind.ASSIGNMENT, "", me, "", ""),
        (me, TimelineKind.COMMENT, "", "", "", "Patched **web01**."),
        (me, TimelineKind.STATUS, "acknowledged", "remediated", "", ""),
        (me, TimelineKind.STATUS, "remediated", "closed", "", ""),
        (boss, TimelineKind.STATUS, "closed", "acknowledged", "scan shows it again", ""),
    ]
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    assert audit_actions(session)[-6:] == [
        "alert.transition", "alert.assign", "alert.comment",
        "alert.transition", "alert.transition", "alert.transition",
    ]  # fmt: skip


def test_an_analyst_may_not_reopen_a_closed_alert(
    session: Session, org: Organisation, analyst: Principal
) -> None:
    alert = make_alert(session, org, status=S.CLOSED)
    with pytest.raises(PermissionDenied):
        actions.transition(session, analyst, alert.id, S.ACKNOWLEDGED, reason="back")


def test_bulk_acknowledge_by_filter_changes_only_own_matching_alerts(
    session: Session, org: Organisation, analyst: Principal
) -> None:
    day = date(2026, 11, 21)
    mine = [make_alert(session, org, day=day) for _ in range(3)]
    already = make_alert(session, org, day=day, status=S.ACKNOWLEDGED)
    other_day = make_alert(session, org, day=date(2026, 11, 22))
    theirs = make_alert(session, make_organisation(session, member_state="KE"), day=day)
    request = BulkRequest(
        action=BulkAction.ACKNOWLEDGE, filter=BulkFilter(day_from=day, day_to=day)
    )
    report = actions.bulk(session, analyst, request)
    assert sorted(report.alert_ids) == sorted([a.id for a in mine] + [already.id])
    assert all(a.status is S.ACKNOWLEDGED for a in mine)
    assert other_day.status is S.NEW and theirs.status is S.NEW
    # The alert already acknowledged got no new entry; each changed one got exactly one.
    assert actions.timeline(session, analyst, already.id) == []
    for alert in mine:
        assert [e.to_value for e in actions.timeline(session, analyst, alert.id)] == [
            "acknowledged"
        ]
    assert audit_actions(session)[-1] == "alert.bulk_acknowledge"


def test_bulk_is_all_or_nothing_and_names_the_alert_that_cannot_move(
    session: Session, org: Organisation, analyst: Principal
) -> None:
    fine = make_alert(session, org)
    stuck = make_alert(session, org, status=S.CLOSED)
    request = BulkRequest(action=BulkAction.ACKNOWLEDGE, filter=BulkFilter(ids=[fine.id, stuck.id]))
    with pytest.raises(Conflict) as refused:
        actions.bulk(session, analyst, request)
    assert f"alert {stuck.id} cannot go from closed to acknowledged" in refused.value.message
    session.expire_all()
    assert session.get(type(fine), fine.id).status is S.NEW  # type: ignore[union-attr]
    assert actions.timeline(session, analyst, fine.id) == []


def test_bulk_with_another_members_id_is_not_found(
    session: Session, org: Organisation, analyst: Principal
) -> None:
    mine = make_alert(session, org)
    theirs = make_alert(session, make_organisation(session, member_state="KE"))
    request = BulkRequest(action=BulkAction.CLOSE, filter=BulkFilter(ids=[mine.id, theirs.id]))
    with pytest.raises(NotFound) as refused:
        actions.bulk(session, analyst, request)
    assert str(theirs.id) in refused.value.message
    assert mine.status is S.NEW


def test_bulk_assign_and_close(session: Session, org: Organisation, analyst: Principal) -> None:
    alerts = [make_alert(session, org), make_alert(session, org, status=S.REMEDIATED)]
    ids = [a.id for a in alerts]
    assign = BulkRequest(
        action=BulkAction.ASSIGN, filter=BulkFilter(ids=ids), assignee_id=analyst.user.id
    )
    assert actions.bulk(session, analyst, assign).changed == 2
    close = BulkRequest(action=BulkAction.CLOSE, filter=BulkFilter(ids=ids), reason="handled")
    actions.bulk(session, analyst, close)
    for alert in alerts:
        kinds = [(e.kind, e.to_value) for e in actions.timeline(session, analyst, alert.id)]
        assert alert.status is S.CLOSED
        assert kinds == [
            (TimelineKind.ASSIGNMENT, analyst.user.username),
            (TimelineKind.STATUS, "closed"),
        ]
        assert alert.assignee_id == analyst.user.id
    with pytest.raises(BadValue) as refused:
        actions.bulk(
            session, analyst, BulkRequest(action=BulkAction.ASSIGN, filter=BulkFilter(ids=ids))
        )
    assert refused.value.field == "assignee_id"
