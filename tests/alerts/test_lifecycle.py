"""The transition table, pair by pair and role by role, as the rules and as the service
applies them (on SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy.orm import Session

from entente.alerts import actions, lifecycle
from entente.alerts.choices import AlertStatus
from entente.core.errors import BadValue, Conflict, PermissionDenied
from entente.members.accounts import Principal, load_viewer
from entente.members.choices import Role
from tests.alerts.builders import make_alert
from tests.factories import make_organisation, make_user

S = AlertStatus
WORK = {S.ACKNOWLEDGED, S.REMEDIATED, S.FALSE_POSITIVE, S.CLOSED}
# Written out independently of lifecycle.TRANSITIONS, so a change to the table fails here.
EXPECTED_FOR_ANALYST = {
    S.NEW: {S.ACKNOWLEDGED, S.REMEDIATED, S.FALSE_POSITIVE, S.CLOSED},
    S.NOTIFIED: {S.ACKNOWLEDGED, S.REMEDIATED, S.FALSE_POSITIVE, S.CLOSED},
    S.ACKNOWLEDGED: {S.REMEDIATED, S.FALSE_POSITIVE, S.CLOSED},
    S.REMEDIATED: {S.ACKNOWLEDGED, S.NEW, S.CLOSED},
    S.FALSE_POSITIVE: {S.ACKNOWLEDGED, S.NEW, S.CLOSED},
    S.CLOSED: set(),
}
REOPENINGS = {
    (S.REMEDIATED, S.ACKNOWLEDGED),
    (S.REMEDIATED, S.NEW),
    (S.FALSE_POSITIVE, S.ACKNOWLEDGED),
    (S.FALSE_POSITIVE, S.NEW),
    (S.CLOSED, S.ACKNOWLEDGED),
    (S.CLOSED, S.NEW),
}


def expected(role: Role, current: S, target: S) -> bool:
    if role is Role.READER:
        return False
    if role in (Role.ORG_ADMIN, Role.ADMIN) and current is S.CLOSED:
        return target in (S.ACKNOWLEDGED, S.NEW)
    return target in EXPECTED_FOR_ANALYST[current]


@pytest.mark.parametrize("role", list(Role))
def test_every_pair_of_statuses_is_allowed_or_refused_per_role(role: Role) -> None:
    for current, target in itertools.product(S, S):
        assert lifecycle.may_take(role, current, target) is expected(role, current, target), (
            role,
            current,
            target,
        )


def test_only_reopenings_need_a_reason_and_nobody_sets_notified_by_hand() -> None:
    needing = {pair for pair, step in lifecycle.TRANSITIONS.items() if step.needs_reason}
    assert needing == REOPENINGS
    assert lifecycle.TRANSITIONS[(S.NEW, S.NOTIFIED)].roles == frozenset()
    assert all((current, current) not in lifecycle.TRANSITIONS for current in S)


def principal_of(session: Session, role: Role) -> Principal:
    organisation = make_organisation(session)
    user = make_user(session, organisation, role)
    return Principal(user=user, viewer=load_viewer(session, user), via="api")


@pytest.mark.parametrize("role", [Role.ANALYST, Role.ORG_ADMIN])
def test_the_service_applies_the_table_to_every_pair(session: Session, role: Role) -> None:
    principal = principal_of(session, role)
    for current, target in itertools.product(S, S):
        alert = make_alert(session, principal.user.organisation, status=current)
        found = lifecycle.step(current, target)
        if expected(role, current, target):
            actions.transition(session, principal, alert.id, target, reason="seen again")
            assert alert.status is target
        elif found is None or not found.roles:
            with pytest.raises(Conflict) as refused:
                actions.transition(session, principal, alert.id, target, reason="x")
            assert f"alert {alert.id}" in refused.value.message
            assert f"from {current.value} to {target.value}" in refused.value.message
        else:
            with pytest.raises(PermissionDenied):
                actions.transition(session, principal, alert.id, target, reason="x")
        session.rollback()


def test_a_reader_may_take_no_step(session: Session) -> None:
    reader = principal_of(session, Role.READER)
    alert = make_alert(session, reader.user.organisation)
    for target in WORK:
        with pytest.raises(PermissionDenied):
            actions.transition(session, reader, alert.id, target)
    assert alert.status is S.NEW


def test_reopening_without_a_reason_is_refused_naming_the_field(session: Session) -> None:
    analyst = principal_of(session, Role.ANALYST)
    alert = make_alert(session, analyst.user.organisation, status=S.REMEDIATED)
    with pytest.raises(BadValue) as refused:
        actions.transition(session, analyst, alert.id, S.ACKNOWLEDGED, reason="  ")
    assert refused.value.field == "reason"
    session.rollback()
    assert alert.status is S.REMEDIATED
