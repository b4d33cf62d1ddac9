"""The alert pages: the list with bulk actions on ticked alerts, and an alert's page with its
actions, assignment, comments (sanitised) and timeline; every form with its CSRF token."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from entente.alerts.choices import AlertStatus
from entente.members.choices import Role
from tests.alerts.builders import make_alert
from tests.factories import make_organisation, make_user
from tests.web.test_ui_pages import HTML, csrf_of, log_in

S = AlertStatus


def test_alert_page_actions_comment_and_timeline(client: TestClient, session: Session) -> None:
    organisation = make_organisation(session)
    analyst = make_user(session, organisation, Role.ANALYST)
    alert = make_alert(session, organisation)
    log_in(client, analyst)
    page = client.get(f"/alerts/{alert.id}", headers=HTML)
    assert page.status_code == 200
    assert 'id="alert-status">New<' in page.text
    assert 'value="acknowledged"' in page.text and 'value="notified"' not in page.text
    path = f"/alerts/{alert.id}"
    token = csrf_of(client, path)
    moved = client.post(
        f"{path}/transition", data={"csrf_token": token, "to": "acknowledged"}, headers=HTML
    )
    assert moved.status_code == 200 and 'id="alert-status">Acknowledged<' in moved.text
    comment = "Patched **web01** <script>alert(1)</script>"
    commented = client.post(
        f"{path}/comments", data={"csrf_token": token, "body": comment}, headers=HTML
    )
    assert "<strong>web01</strong>" in commented.text
    assert "<script>alert(1)</script>" not in commented.text
    assigned = client.post(
        f"{path}/assign", data={"csrf_token": token, "assignee_id": str(analyst.id)}, headers=HTML
    )
    assert f'id="alert-assignee">{analyst.username}<' in assigned.text
    assert "moved it from new to acknowledged" in assigned.text
    refused = client.post(
        f"{path}/transition", data={"csrf_token": token, "to": "new"}, headers=HTML
    )
    assert "cannot go from acknowledged to new" in refused.text
    forged = client.post(
        f"{path}/transition", data={"csrf_token": "forged", "to": "closed"}, headers=HTML
    )
    assert forged.status_code == 403


def test_another_members_alert_page_is_404(client: TestClient, session: Session) -> None:
    alert = make_alert(session, make_organisation(session, member_state="KE"))
    log_in(client, make_user(session, make_organisation(session)))
    assert client.get(f"/alerts/{alert.id}", headers=HTML).status_code == 404


def test_list_page_bulk_closes_the_ticked_alerts(client: TestClient, session: Session) -> None:
    organisation = make_organisation(session)
    analyst = make_user(session, organisation, Role.ANALYST)
    ticked = [make_alert(session, organisation) for _ in range(2)]
    left = make_alert(session, organisation)
    log_in(client, analyst)
    page = client.get("/alerts", headers=HTML)
    assert all(f'value="{alert.id}"' in page.text for alert in [*ticked, left])
    token = csrf_of(client, "/alerts")
    form = {"csrf_token": token, "action": "close", "pick": [str(alert.id) for alert in ticked]}
    done = client.post("/alerts/bulk", data=form, headers=HTML)
    assert "Close: 2 alert(s) changed." in done.text
    session.expire_all()
    assert [alert.status for alert in ticked] == [S.CLOSED, S.CLOSED]
    assert left.status is S.NEW
    closed_only = client.get("/alerts", params={"status": "closed"}, headers=HTML)
    assert f'value="{left.id}"' not in closed_only.text
    nothing = client.post(
        "/alerts/bulk", data={"csrf_token": token, "action": "close"}, headers=HTML
    )
    assert "Tick the alerts to change first." in nothing.text


def test_a_reader_sees_no_actions(client: TestClient, session: Session) -> None:
    organisation = make_organisation(session)
    alert = make_alert(session, organisation)
    log_in(client, make_user(session, organisation, Role.READER))
    page = client.get(f"/alerts/{alert.id}", headers=HTML)
    assert "may read alerts, not change them" in page.text
    assert 'name="pick"' not in client.get("/alerts", headers=HTML).text
