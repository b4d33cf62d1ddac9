"""The automatic transitions over several report days: remediated when a finding leaves its
feed for N report days, "returned" when it comes back; run after each day, as a pipeline
would (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.alerts.automatic import AutomaticReport, apply_automatic_transitions
from entente.alerts.choices import AlertStatus, TimelineKind
from entente.alerts.models import Alert, AlertTimelineEntry
from entente.core.audit import AuditEntry
from entente.members.models import Organisation
from tests.alerts.builders import make_alert
from tests.factories import make_organisation

S = AlertStatus
DAY_1 = date(2026, 11, 1)


def day(number: int) -> date:
    return DAY_1 + timedelta(days=number - 1)


# key -> (days it is reported, feed, status its first alert is given by people)
FINDINGS: dict[str, tuple[set[int], str, AlertStatus]] = {
    "back-again": ({1, 2, 6}, "scan_http", S.NEW),
    "every-day": (set(range(1, 9)), "scan_http", S.NEW),
    "late-one": ({4}, "scan_http", S.NEW),
    "other-feed": ({1}, "blocklist", S.NEW),
    "acknowledged": ({1}, "scan_http", S.ACKNOWLEDGED),
    "closed": ({1}, "scan_http", S.CLOSED),
}


def statuses(session: Session, organisation: Organisation) -> dict[tuple[str, int], S]:
    session.expire_all()
    rows = session.scalars(select(Alert).where(Alert.organisation_id == organisation.id))
    return {(alert.identifier, (alert.day - DAY_1).days + 1): alert.status for alert in rows}


def entries(session: Session, organisation: Organisation) -> list[tuple[str, int, str, str, str]]:
    query = (
        select(Alert.identifier, Alert.day, AlertTimelineEntry)
        .join(AlertTimelineEntry, AlertTimelineEntry.alert_id == Alert.id)
        .where(Alert.organisation_id == organisation.id)
        .order_by(AlertTimelineEntry.id)
    )
    return [
        (key, (on - DAY_1).days + 1, e.kind.value, e.from_value, e.to_value)
        for key, on, e in session.execute(query)
    ]


def test_findings_are_remediated_and_returned_over_eight_report_days(session: Session) -> None:
    member = make_organisation(session)
    # Another member's finding is in the report every day: the feed reported each day.
    other = make_organisation(session, member_state="KE")
    reports: dict[int, AutomaticReport] = {}
    seen: dict[int, dict[tuple[str, int], S]] = {}
    for number in range(1, 9):
        make_alert(session, other, day=day(number), identifier="their-finding")
        for key, (days, feed, status) in FINDINGS.items():
            if number in days:
                first = number == min(days)
                make_alert(
                    session, member, day=day(number), feed=feed, identifier=key,
                    status=status if first else S.NEW,
                )  # fmt: skip
        reports[number] = apply_automatic_transitions(session, remediate_after_days=3)
        seen[number] = statuses(session, member)

    # Absent on days 2, 3 and 4: remediated after day 4.
    assert seen[3][("acknowledged", 1)] is S.ACKNOWLEDGED
    assert seen[4][("acknowledged", 1)] is S.REMEDIATED
    # Reported on days 1 and 2, absent on 3, 4, 5: both of its alerts remediated after day 5.
    assert seen[4][("back-again", 1)] is S.NEW
    assert seen[5][("back-again", 1)] is S.REMEDIATED
    assert seen[5][("back-again", 2)] is S.REMEDIATED
    # Back on day 6: a new alert, marked returned, not remediated by the old gap.
    assert seen[8][("back-again", 6)] is S.NEW
    # Day 4 only: two report days without it by day 6, three by day 7.
    assert seen[6][("late-one", 4)] is S.NEW
    assert seen[7][("late-one", 4)] is S.REMEDIATED
    # Untouched: reported every day; a feed that did not report again; a closed alert.
    assert all(status is S.NEW for (key, _), status in seen[8].items() if key == "every-day")
    assert seen[8][("other-feed", 1)] is S.NEW
    assert seen[8][("closed", 1)] is S.CLOSED
    assert all(status is S.NEW for status in statuses(session, other).values())

    assert [
        (n, r.remediated, r.returned) for n, r in reports.items() if r.remediated or r.returned
    ] == [
        (4, 1, 0),
        (5, 2, 0),
        (6, 0, 1),
        (7, 1, 0),
    ]
    assert entries(session, member) == [
        ("acknowledged", 1, "status", "acknowledged", "remediated"),
        ("back-again", 1, "status", "new", "remediated"),
        ("back-again", 2, "status", "new", "remediated"),
        ("back-again", 6, "returned", "remediated", "new"),
        ("late-one", 4, "status", "new", "remediated"),
    ]


def test_the_timeline_entries_are_the_systems_with_a_reason_and_audited(session: Session) -> None:
    member = make_organisation(session)
    alert = make_alert(session, member, day=day(1), identifier="gone")
    for number in (2, 3):
        make_alert(session, member, day=day(number), identifier="still-there")
    report = apply_automatic_transitions(session, remediate_after_days=2)
    assert report == AutomaticReport(remediated=1, returned=0)
    entry = session.scalars(
        select(AlertTimelineEntry).where(AlertTimelineEntry.alert_id == alert.id)
    ).one()
    assert (entry.actor, entry.actor_user_id, entry.kind) == ("system", None, TimelineKind.STATUS)
    assert entry.reason == "absent from the feed for 2 consecutive report days"
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "alert.automatic")).one()
    assert audit.detail["remediated"] == 1


def test_running_again_changes_nothing(session: Session) -> None:
    member = make_organisation(session)
    make_alert(session, member, day=day(1), identifier="gone")
    make_alert(session, member, day=day(2), identifier="x")
    make_alert(session, member, day=day(3), identifier="gone")
    first = apply_automatic_transitions(session, remediate_after_days=1)
    count = len(entries(session, member))
    assert apply_automatic_transitions(session, remediate_after_days=1) == AutomaticReport(0, 0)
    assert len(entries(session, member)) == count
    assert first.remediated >= 1
