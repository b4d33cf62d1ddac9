"""Access property: for random alerts of several organisations, every read path of the
lifecycle's API (list, detail, timeline) gives a member its own organisation's alerts only,
and a platform admin every one."""

from __future__ import annotations

import hypothesis
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from entente.alerts.choices import AlertStatus, TimelineKind
from entente.alerts.models import AlertTimelineEntry
from entente.members.choices import Role
from tests.alerts.builders import make_alert
from tests.factories import auth, make_organisation, make_token, make_user


def every_alert(client: TestClient, headers: dict[str, str]) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    params: dict[str, str] = {"limit": "1000"}
    while True:
        page = client.get("/api/v1/alerts", params=params, headers=headers).json()
        found += page["data"]
        if not page["next_cursor"]:
            return found
        params["cursor"] = page["next_cursor"]


@pytest.mark.slow
def test_every_read_path_gives_a_member_its_own_alerts_only(
    client: TestClient,
    session: Session,
    session_factory: sessionmaker[Session],
    connection: Connection,
) -> None:
    owners = [make_organisation(session, member_state=code) for code in ("GH", "KE", "BR")]
    readers = {
        owner.id: auth(make_token(session, make_user(session, owner, role)))
        for owner, role in zip(owners[:2], (Role.ANALYST, Role.READER), strict=True)
    }
    admin = auth(make_token(session, make_user(session, owners[2], Role.ADMIN)))
    runs: list[int] = []

    @hypothesis.settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        alerts=st.lists(
            st.tuples(st.integers(0, 2), st.sampled_from(AlertStatus), st.booleans()), max_size=12
        )
    )
    def check(alerts: list[tuple[int, AlertStatus, bool]]) -> None:
        runs.append(len(alerts))
        savepoint = connection.begin_nested()
        try:
            with session_factory() as writer:
                owner_of: dict[int, int] = {}
                for whose, status, commented in alerts:
                    alert = make_alert(writer, owners[whose], status=status)
                    owner_of[alert.id] = owners[whose].id
                    if commented:
                        writer.add(
                            AlertTimelineEntry(
                                alert_id=alert.id, actor="x", kind=TimelineKind.COMMENT, body="c"
                            )
                        )
                writer.commit()
            for organisation_id, headers in readers.items():
                own = sorted(i for i, owner in owner_of.items() if owner == organisation_id)
                assert sorted(int(str(a["id"])) for a in every_alert(client, headers)) == own
                for alert_id, owner in owner_of.items():
                    detail = client.get(f"/api/v1/alerts/{alert_id}", headers=headers)
                    timeline = client.get(f"/api/v1/alerts/{alert_id}/timeline", headers=headers)
                    expected = 200 if owner == organisation_id else 404
                    assert (detail.status_code, timeline.status_code) == (expected, expected)
                    if expected == 200:
                        assert detail.json()["organisation_id"] == organisation_id
                        assert all(e["alert_id"] == alert_id for e in timeline.json())
            assert sorted(int(str(a["id"])) for a in every_alert(client, admin)) == sorted(owner_of)
        finally:
            savepoint.rollback()

    check()
    assert max(runs) >= 5, "the property barely ran"
