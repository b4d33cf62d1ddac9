"""The alert lifecycle as data: which status may follow which, and who may move it.

    new --> notified --> acknowledged --> remediated --+
     |         |              |       \\-> false_positive
     |         |              +---------> closed        |
     +---------+--> (any of the three above)            |
    remediated / closed / false_positive --(reason)--> acknowledged or new   (reopening)

Like RTIR's queues and TheHive's case states, people move alerts and the hub moves some
itself: `notified` is set by the hub's notifier (never by hand, so time-to-notify measures
the hub), `remediated` also by the automatic rules (alerts.automatic). Every other step is
taken by the alert's organisation's analysts and org-admins, or by platform admins; readers
only read. Reopening a closed alert undoes a decision, so it takes an org-admin or admin.
"""

from __future__ import annotations

from dataclasses import dataclass

from entente.alerts.choices import AlertStatus
from entente.members.choices import Role

S = AlertStatus
WORKERS = frozenset({Role.ANALYST, Role.ORG_ADMIN, Role.ADMIN})
MANAGERS = frozenset({Role.ORG_ADMIN, Role.ADMIN})
NOBODY: frozenset[Role] = frozenset()
"""`notified` is the notifier's step; the hub's system actor takes it, no role does."""

OPEN = frozenset({S.NEW, S.NOTIFIED, S.ACKNOWLEDGED})
"""Statuses in which an alert still waits for its member; the automatic rules act on these."""
REOPENABLE = frozenset({S.REMEDIATED, S.CLOSED, S.FALSE_POSITIVE})


@dataclass(frozen=True, slots=True)
class Step:
    """One allowed transition: the roles that may take it, and whether it needs a reason."""

    roles: frozenset[Role]
    needs_reason: bool = False


TRANSITIONS: dict[tuple[AlertStatus, AlertStatus], Step] = {
    (S.NEW, S.NOTIFIED): Step(NOBODY),
    (S.NEW, S.ACKNOWLEDGED): Step(WORKERS),
    (S.NEW, S.REMEDIATED): Step(WORKERS),
    (S.NEW, S.FALSE_POSITIVE): Step(WORKERS),
    (S.NEW, S.CLOSED): Step(WORKERS),
    (S.NOTIFIED, S.ACKNOWLEDGED): Step(WORKERS),
    (S.NOTIFIED, S.REMEDIATED): Step(WORKERS),
    (S.NOTIFIED, S.FALSE_POSITIVE): Step(WORKERS),
    (S.NOTIFIED, S.CLOSED): Step(WORKERS),
    (S.ACKNOWLEDGED, S.REMEDIATED): Step(WORKERS),
    (S.ACKNOWLEDGED, S.FALSE_POSITIVE): Step(WORKERS),
    (S.ACKNOWLEDGED, S.CLOSED): Step(WORKERS),
    (S.REMEDIATED, S.CLOSED): Step(WORKERS),
    (S.FALSE_POSITIVE, S.CLOSED): Step(WORKERS),
    # Reopening: the finding is back or the decision was wrong; the reason says which.
    (S.REMEDIATED, S.ACKNOWLEDGED): Step(WORKERS, needs_reason=True),
    (S.REMEDIATED, S.NEW): Step(WORKERS, needs_reason=True),
    (S.FALSE_POSITIVE, S.ACKNOWLEDGED): Step(WORKERS, needs_reason=True),
    (S.FALSE_POSITIVE, S.NEW): Step(WORKERS, needs_reason=True),
    (S.CLOSED, S.ACKNOWLEDGED): Step(MANAGERS, needs_reason=True),
    (S.CLOSED, S.NEW): Step(MANAGERS, needs_reason=True),
}


def step(current: AlertStatus, target: AlertStatus) -> Step | None:
    """The allowed transition from `current` to `target`, or None when there is none."""
    return TRANSITIONS.get((current, target))


def may_take(role: Role, current: AlertStatus, target: AlertStatus) -> bool:
    """Whether a user of the alert's organisation (or a platform admin) with `role` may
    move an alert from `current` to `target`."""
    found = step(current, target)
    return found is not None and role in found.roles


def next_statuses(role: Role, current: AlertStatus) -> list[AlertStatus]:
    """The statuses `role` may move an alert in `current` to, in lifecycle order: the
    actions a page offers."""
    return [target for target in AlertStatus if may_take(role, current, target)]


def may_work_on(role: Role) -> bool:
    """Whether `role` may change alerts at all (assign, comment, transition)."""
    return role in WORKERS
