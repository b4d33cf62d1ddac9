"""`entente alert` end to end, as named users, on SQLite and PostgreSQL: the commands run the
API's services, so roles, access and the timeline apply; bad input exits 2 with a message."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta

import pytest

from entente.alerts.choices import AlertStatus
from entente.core.db import create_db_engine
from entente.core.migrate import upgrade
from entente.members.models import Organisation
from tests.alerts.builders import make_alert
from tests.conftest import BACKENDS, make_settings
from tests.test_cli import create_org, create_user, db_session, run

S = AlertStatus


@pytest.fixture(scope="module", params=BACKENDS)
def url(request: pytest.FixtureRequest, scratch_database: Callable[[str], str]) -> str:
    """A migrated database shared by this module's tests, which each use names of their own."""
    database_url = scratch_database(request.param)
    engine = create_db_engine(make_settings(database_url))
    upgrade(engine)
    engine.dispose()
    return database_url


def member(url: str, org: str, *users: tuple[str, str], country: str = "GH") -> None:
    assert create_org(url, org, country).exit_code == 0
    for username, role in users:
        assert create_user(url, username, org, role).exit_code == 0


def alert_of(
    url: str, org: str, day: date = date(2026, 11, 20), identifier: str | None = None
) -> int:
    with db_session(url) as session:
        organisation = session.query(Organisation).filter_by(name=org).one()
        return make_alert(session, organisation, day=day, identifier=identifier).id


@pytest.mark.slow
def test_list_show_ack_assign_close_reopen(url: str) -> None:
    member(url, "CLI CERT", ("cli-analyst", "analyst"), ("cli-boss", "org_admin"))
    alert_id = alert_of(url, "CLI CERT")
    listed = run(url, "alert", "list", "--as", "cli-analyst", "--json")
    assert listed.exit_code == 0, listed.output
    assert [a["id"] for a in json.loads(listed.stdout)] == [alert_id]
    assert run(url, "alert", "ack", str(alert_id), "--as", "cli-analyst").exit_code == 0
    assigned = run(url, "alert", "assign", str(alert_id), "--as", "cli-analyst", "--to", "cli-boss")
    assert assigned.exit_code == 0, assigned.output
    assert run(url, "alert", "close", str(alert_id), "--as", "cli-analyst").exit_code == 0
    refused = run(url, "alert", "reopen", str(alert_id), "--as", "cli-analyst", "--reason", "back")
    assert refused.exit_code == 2 and "may not move" in refused.output
    reopened = run(url, "alert", "reopen", str(alert_id), "--as", "cli-boss", "--reason", "back")
    assert reopened.exit_code == 0, reopened.output
    shown = json.loads(
        run(url, "alert", "show", str(alert_id), "--as", "cli-boss", "--json").stdout
    )
    assert shown["alert"]["status"] == "acknowledged"
    assert shown["alert"]["assignee_username"] == "cli-boss"
    assert [(e["kind"], e["to_value"]) for e in shown["timeline"]] == [
        ("status", "acknowledged"),
        ("assignment", "cli-boss"),
        ("status", "closed"),
        ("status", "acknowledged"),
    ]
    text = run(url, "alert", "show", str(alert_id), "--as", "cli-boss")
    assert text.exit_code == 0 and "assigned to: cli-boss" in text.stdout


@pytest.mark.slow
def test_bad_input_exits_2_with_a_message(url: str) -> None:
    member(url, "CLI CERT 2", ("cli-2", "analyst"))
    member(url, "CLI CERT 3", ("cli-3", "analyst"), country="KE")
    theirs = alert_of(url, "CLI CERT 3")
    for args, message in (
        (("alert", "ack", str(theirs), "--as", "cli-2"), f"alert {theirs} not found"),
        (("alert", "ack", "zero", "--as", "cli-2"), "ALERT_ID"),
        (("alert", "list", "--as", "cli-2", "--status", "lost"), "--status"),
        (("alert", "assign", str(theirs), "--as", "cli-3", "--to", "nobody-here"), "--to"),
        (("alert", "assign", str(theirs), "--as", "cli-3", "--to", "cli-2"), "--to"),
        (("alert", "reopen", str(theirs), "--as", "cli-3", "--reason", "x"), "still open"),
        (("alert", "list", "--as", "ghost"), "--as"),
        (("alert", "auto-remediate", "--days", "0"), "--days"),
    ):
        result = run(url, *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)


def test_auto_remediate(url: str) -> None:
    member(url, "CLI CERT 4", ("cli-4", "analyst"))
    first = date(2026, 10, 1)
    gone = alert_of(url, "CLI CERT 4", day=first, identifier="gone")
    for offset in (1, 2):
        alert_of(url, "CLI CERT 4", day=first + timedelta(days=offset), identifier="stays")
    done = run(url, "alert", "auto-remediate", "--days", "2")
    assert done.exit_code == 0, done.output
    assert "1 alert(s) remediated" in done.output
    shown = json.loads(run(url, "alert", "show", str(gone), "--as", "cli-4", "--json").stdout)
    assert shown["alert"]["status"] == "remediated"
    assert shown["timeline"][0]["actor"] == "system"
