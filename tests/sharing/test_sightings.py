"""Sightings through the REST API: who may report, who is named, sums, timeline, decay."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from entente.core.clock import utcnow
from entente.members.choices import Role
from entente.sharing.models import Indicator
from tests.sharing.builders import (
    Member,
    add_indicator,
    create_event,
    match,
    member,
    search,
)


def _report(
    client: TestClient, who: Member, indicator: dict[str, Any], **body: Any
) -> Any:  # the response, for the status code and the body
    return client.post(
        f"/api/v1/indicators/{indicator['id']}/sightings", json=body, headers=who.headers
    )


def _sighted(client: TestClient, who: Member, indicator: dict[str, Any], **body: Any) -> None:
    response = _report(client, who, indicator, **body)
    assert response.status_code == 201, response.text


def _at(moment: datetime) -> str:
    return moment.isoformat()


def _indicator(client: TestClient, who: Member, indicator: dict[str, Any]) -> dict[str, Any]:
    response = client.get(f"/api/v1/indicators/{indicator['id']}", headers=who.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize("kind", ["seen", "false_positive", "expired"])
def test_any_member_that_sees_an_indicator_may_report_on_it(
    client: TestClient, session: Session, kind: str
) -> None:
    owner, other = member(session), member(session)
    event = create_event(client, owner)
    indicator = add_indicator(client, owner, event, "domain", "c2.evil.example")
    response = _report(client, other, indicator, kind=kind, source="sinkhole", count=4)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["kind"], body["count"], body["source"]) == (kind, 4, "sinkhole")
    assert body["organisation_name"] == other.organisation.name


def test_a_member_that_cannot_see_the_indicator_gets_404(
    client: TestClient, session: Session
) -> None:
    owner, other = member(session), member(session)
    event = create_event(client, owner, tlp="amber+strict", distribution="organisation")
    hidden = add_indicator(client, owner, event, "domain", "hidden.example")
    assert _report(client, other, hidden, kind="seen").status_code == 404
    # A hidden indicator answers exactly as one that does not exist.
    assert _report(client, other, {"id": 987_654_321}, kind="seen").status_code == 404
    listed = client.get(f"/api/v1/indicators/{hidden['id']}/sightings", headers=other.headers)
    assert listed.status_code == 404


def test_an_indicator_tlp_stricter_than_its_event_hides_it_from_sightings(
    client: TestClient, session: Session
) -> None:
    owner, other = member(session), member(session)
    event = create_event(client, owner, tlp="green")
    strict = add_indicator(client, owner, event, "domain", "strict.example", tlp="amber+strict")
    assert _report(client, other, strict, kind="seen").status_code == 404
    assert _report(client, owner, strict, kind="seen").status_code == 201


def test_a_reader_may_not_report_a_sighting(client: TestClient, session: Session) -> None:
    owner = member(session)
    reader = member(session, Role.READER)
    event = create_event(client, owner)
    indicator = add_indicator(client, owner, event, "domain", "c2.evil.example")
    response = _report(client, reader, indicator, kind="seen")
    assert response.status_code == 403
    summary = client.get(
        f"/api/v1/indicators/{indicator['id']}/sightings/summary", headers=owner.headers
    ).json()
    assert summary["seen"] == 0


def test_a_sighting_in_the_future_is_refused_naming_observed_at(
    client: TestClient, session: Session
) -> None:
    owner = member(session)
    indicator = add_indicator(client, owner, create_event(client, owner), "md5", "a" * 32)
    later = utcnow() + timedelta(hours=1)
    response = _report(client, owner, indicator, kind="seen", observed_at=_at(later))
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "observed_at"


@pytest.mark.parametrize("count", [0, -3])
def test_a_count_below_one_is_refused_naming_count(
    client: TestClient, session: Session, count: int
) -> None:
    owner = member(session)
    indicator = add_indicator(client, owner, create_event(client, owner), "md5", "a" * 32)
    response = _report(client, owner, indicator, kind="seen", count=count)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "count"


def test_the_reporter_is_named_only_to_the_owner_and_to_the_reporter(
    client: TestClient, session: Session
) -> None:
    owner, reporter, bystander = member(session), member(session), member(session)
    indicator = add_indicator(client, owner, create_event(client, owner), "domain", "x.example")
    _sighted(client, reporter, indicator, kind="seen")
    _sighted(client, bystander, indicator, kind="false_positive")

    def names_seen_by(who: Member) -> dict[str, str | None]:
        response = client.get(
            f"/api/v1/indicators/{indicator['id']}/sightings", headers=who.headers
        )
        assert response.status_code == 200, response.text
        return {s["kind"]: s["organisation_name"] for s in response.json()["data"]}

    assert names_seen_by(owner) == {
        "seen": reporter.organisation.name,
        "false_positive": bystander.organisation.name,
    }
    assert names_seen_by(reporter) == {"seen": reporter.organisation.name, "false_positive": None}
    assert names_seen_by(bystander) == {"seen": None, "false_positive": bystander.organisation.name}


def test_the_summary_sums_counts_per_kind(client: TestClient, session: Session) -> None:
    owner, other = member(session), member(session)
    indicator = add_indicator(client, owner, create_event(client, owner), "md5", "b" * 32)
    first = utcnow() - timedelta(days=3)
    last = utcnow() - timedelta(hours=2)
    _sighted(client, owner, indicator, kind="seen", count=3, observed_at=_at(first))
    _sighted(client, other, indicator, kind="seen", count=2, observed_at=_at(last))
    _sighted(client, other, indicator, kind="false_positive")
    response = client.get(
        f"/api/v1/indicators/{indicator['id']}/sightings/summary", headers=other.headers
    )
    assert response.status_code == 200, response.text
    summary = response.json()
    assert (summary["seen"], summary["false_positive"], summary["expired"]) == (5, 1, 0)
    assert datetime.fromisoformat(summary["first_sighted_at"]) == first
    assert datetime.fromisoformat(summary["last_sighted_at"]) > last


def test_the_summary_of_an_indicator_never_sighted_is_zero(
    client: TestClient, session: Session
) -> None:
    owner = member(session)
    indicator = add_indicator(client, owner, create_event(client, owner), "md5", "c" * 32)
    summary = client.get(
        f"/api/v1/indicators/{indicator['id']}/sightings/summary", headers=owner.headers
    ).json()
    assert summary == {
        "indicator_id": indicator["id"],
        "seen": 0,
        "false_positive": 0,
        "expired": 0,
        "first_sighted_at": None,
        "last_sighted_at": None,
    }


def _timeline(client: TestClient, who: Member, event: dict[str, Any]) -> list[tuple[str, str, int]]:
    response = client.get(f"/api/v1/events/{event['id']}/sightings/timeline", headers=who.headers)
    assert response.status_code == 200, response.text
    return [(p["day"], p["kind"], p["count"]) for p in response.json()]


def test_the_timeline_sums_per_day_and_kind_and_leaves_out_hidden_indicators(
    client: TestClient, session: Session
) -> None:
    owner, other = member(session), member(session)
    event = create_event(client, owner, tlp="green")
    shared = add_indicator(client, owner, event, "domain", "shared.example")
    strict = add_indicator(client, owner, event, "domain", "strict.example", tlp="amber+strict")
    day_one = (utcnow() - timedelta(days=2)).replace(hour=1, minute=0, second=0, microsecond=0)
    day_two = day_one + timedelta(days=1)
    _sighted(client, other, shared, kind="seen", count=2, observed_at=_at(day_one))
    _sighted(client, owner, shared, kind="seen", count=5, observed_at=_at(day_one.replace(hour=22)))
    _sighted(client, other, shared, kind="false_positive", observed_at=_at(day_one))
    _sighted(client, owner, shared, kind="seen", observed_at=_at(day_two))
    _sighted(client, owner, strict, kind="seen", count=100, observed_at=_at(day_one))
    one, two = day_one.date().isoformat(), day_two.date().isoformat()
    assert _timeline(client, other, event) == [
        (one, "false_positive", 1),
        (one, "seen", 7),
        (two, "seen", 1),
    ]
    # The owner sees its strict indicator's sightings too.
    assert _timeline(client, owner, event) == [
        (one, "false_positive", 1),
        (one, "seen", 107),
        (two, "seen", 1),
    ]


# Only PostgreSQL has a session time zone; SQLite stores UTC text.
@pytest.mark.parametrize("backend", ["postgresql"])
def test_the_timeline_counts_days_in_utc_whatever_the_database_time_zone(
    client: TestClient, session: Session
) -> None:
    # UTC+14: 15:00 UTC is already the next day there.
    session.execute(text("SET TIME ZONE 'Pacific/Kiritimati'"))
    owner = member(session)
    event = create_event(client, owner)
    indicator = add_indicator(client, owner, event, "domain", "late.example")
    afternoon = (utcnow() - timedelta(days=2)).replace(hour=15, minute=0, second=0, microsecond=0)
    _sighted(client, owner, indicator, kind="seen", observed_at=_at(afternoon))
    assert _timeline(client, owner, event) == [(afternoon.date().isoformat(), "seen", 1)]


def test_the_timeline_of_a_hidden_event_is_404(client: TestClient, session: Session) -> None:
    owner, other = member(session), member(session)
    event = create_event(client, owner, tlp="red", distribution="organisation")
    response = client.get(f"/api/v1/events/{event['id']}/sightings/timeline", headers=other.headers)
    assert response.status_code == 404


# ---- sightings feed decay --------------------------------------------------------------


def test_a_seen_sighting_after_expiry_revives_the_indicator(
    client: TestClient, session: Session
) -> None:
    owner, other = member(session), member(session)
    year_ago = utcnow() - timedelta(days=365)
    indicator = add_indicator(
        client, owner, create_event(client, owner), "ipv4", "45.155.205.99", last_seen=_at(year_ago)
    )
    assert datetime.fromisoformat(indicator["expires_at"]) < utcnow()
    assert match(client, other, "45.155.205.99")["matches"] == []
    _sighted(client, other, indicator, kind="seen")
    revived = _indicator(client, other, indicator)
    assert datetime.fromisoformat(revived["expires_at"]) > utcnow() + timedelta(days=14)
    assert revived["score"] > 0
    assert [m["indicator_id"] for m in match(client, other, "45.155.205.99")["matches"]] == [
        indicator["id"]
    ]


def test_a_false_positive_halves_the_base_score(client: TestClient, session: Session) -> None:
    owner, other = member(session), member(session)
    # A hash does not decay with time, so its score is its base score.
    indicator = add_indicator(client, owner, create_event(client, owner), "sha256", "d" * 64)
    before = session.scalar(select(Indicator.base_score).where(Indicator.id == indicator["id"]))
    assert before is not None
    assert indicator["score"] == before
    _sighted(client, other, indicator, kind="false_positive")
    after = session.scalar(select(Indicator.base_score).where(Indicator.id == indicator["id"]))
    assert after == before // 2
    assert _indicator(client, other, indicator)["score"] == before // 2


def test_false_positives_push_an_indicator_below_the_threshold_out_of_matching(
    client: TestClient, session: Session
) -> None:
    owner, other = member(session), member(session)
    indicator = add_indicator(client, owner, create_event(client, owner), "sha256", "e" * 64)
    _sighted(client, other, indicator, kind="false_positive")  # 70 -> 35
    assert match(client, other, "e" * 64)["matched_values"] == 1
    _sighted(client, other, indicator, kind="false_positive")  # 35 -> 17, below 20
    assert match(client, other, "e" * 64)["matches"] == []
    assert [i["id"] for i in search(client, other, value="e" * 64)] == [indicator["id"]]


def test_an_expired_sighting_leaves_match_but_stays_in_search(
    client: TestClient, session: Session
) -> None:
    owner, other = member(session), member(session)
    indicator = add_indicator(client, owner, create_event(client, owner), "domain", "old.example")
    assert match(client, other, "old.example")["matched_values"] == 1
    _sighted(client, other, indicator, kind="expired")
    assert match(client, other, "old.example")["matches"] == []
    found = search(client, other, value="old.example")
    assert [(i["id"], i["score"]) for i in found] == [(indicator["id"], 0)]
    assert [i["id"] for i in search(client, other, value="old.example", active=False)] == [
        indicator["id"]
    ]
    assert search(client, other, value="old.example", active=True) == []


def test_a_false_positive_does_not_revive_an_expired_indicator(
    client: TestClient, session: Session
) -> None:
    owner, other = member(session), member(session)
    indicator = add_indicator(client, owner, create_event(client, owner), "md5", "f" * 32)
    _sighted(client, other, indicator, kind="expired")
    _sighted(client, owner, indicator, kind="false_positive")
    assert match(client, other, "f" * 32)["matches"] == []
    assert _indicator(client, other, indicator)["score"] == 0


def test_a_sighting_is_audited(client: TestClient, session: Session) -> None:
    owner = member(session)
    admin = member(session, Role.ADMIN)
    indicator = add_indicator(client, owner, create_event(client, owner), "md5", "9" * 32)
    _sighted(client, owner, indicator, kind="seen", count=3)
    entries = client.get(
        "/api/v1/audit", params={"action": "sighting.add"}, headers=admin.headers
    ).json()["data"]
    assert [(e["object_id"], e["detail"]) for e in entries][:1] == [
        (str(indicator["id"]), {"kind": "seen", "count": 3})
    ]
