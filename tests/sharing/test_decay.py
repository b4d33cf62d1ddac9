"""Decay scoring: the arithmetic of `sharing.decay`, and what the API makes of it."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.core.clock import utcnow
from entente.sharing import decay
from entente.sharing.indicators import IndicatorType
from entente.sharing.models import Indicator
from tests.sharing.builders import add_indicator, create_event, match, member, search

START = datetime(2026, 1, 1, tzinfo=UTC)
DECAYING = sorted(t for t, half_life in decay.HALF_LIFE.items() if half_life is not None)
LASTING = sorted(t for t, half_life in decay.HALF_LIFE.items() if half_life is None)


def _score(kind: IndicatorType, base: int, at: datetime, start: datetime = START) -> int:
    return int(decay.scores([kind], [base], [start], [decay.expiry(kind, base, start)], at)[0])


def test_every_indicator_type_has_a_half_life_entry() -> None:
    assert set(decay.HALF_LIFE) == set(IndicatorType)


@pytest.mark.parametrize("kind", DECAYING)
def test_one_half_life_halves_the_score(kind: IndicatorType) -> None:
    half_life = decay.HALF_LIFE[kind]
    assert half_life is not None
    assert _score(kind, 100, START) == 100
    assert _score(kind, 100, START + half_life) == 50
    assert _score(kind, 100, START + 2 * half_life) == 25


@pytest.mark.parametrize("kind", LASTING)
def test_types_that_do_not_decay_never_expire(kind: IndicatorType) -> None:
    assert decay.expiry(kind, 70, START) is None
    assert _score(kind, 70, START + timedelta(days=36_500)) == 70


def test_hashes_and_cves_are_the_lasting_types() -> None:
    assert set(LASTING) == {
        IndicatorType.MD5,
        IndicatorType.SHA1,
        IndicatorType.SHA256,
        IndicatorType.SSDEEP,
        IndicatorType.TLSH,
        IndicatorType.CVE,
    }


def test_a_lasting_type_pushed_down_to_the_threshold_expires_at_once() -> None:
    # Only false-positive reports lower a base that far; then even a hash leaves matching.
    assert decay.expiry(IndicatorType.SHA256, decay.EXPIRY_THRESHOLD, START) == START
    assert _score(IndicatorType.SHA256, 17, START) == 0


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ([], decay.DEFAULT_BASE_SCORE),
        (["some free tag", 'rsit:malicious-code="c2-server"'], decay.DEFAULT_BASE_SCORE),
        (['admiralty-scale:source-reliability="a"'], 100),
        (['admiralty-scale:source-reliability="e"'], 30),
        (
            [
                'admiralty-scale:source-reliability="b"',
                'admiralty-scale:information-credibility="3"',
            ],
            78,  # mean of 85 and 70, rounded
        ),
        # "F" and "6" mean "cannot be judged": they say nothing, so the default stands.
        (['admiralty-scale:source-reliability="f"'], decay.DEFAULT_BASE_SCORE),
    ],
)
def test_admiralty_tags_set_the_base_score(tags: list[str], expected: int) -> None:
    assert decay.base_score(tags) == expected


def test_expiry_is_when_the_score_reaches_the_threshold() -> None:
    half_life = decay.HALF_LIFE[IndicatorType.IPV4]
    assert half_life is not None
    # 80 -> 40 -> 20: two half-lives.
    assert decay.expiry(IndicatorType.IPV4, 80, START) == START + 2 * half_life
    assert decay.expiry(IndicatorType.IPV4, 40, START) == START + half_life
    # At or below the threshold from the start: expired from the start.
    assert decay.expiry(IndicatorType.IPV4, decay.EXPIRY_THRESHOLD, START) == START
    assert decay.expiry(IndicatorType.IPV4, 5, START) == START


def test_scores_are_vectorised_and_zero_once_expired() -> None:
    kinds = [IndicatorType.IPV4, IndicatorType.DOMAIN, IndicatorType.MD5]
    bases = [80, 80, 80]
    starts = [START, START, START]
    ends = [decay.expiry(k, 80, START) for k in kinds]
    at = START + timedelta(days=60)  # ipv4 past two half-lives, domain at one
    assert decay.scores(kinds, bases, starts, ends, at).tolist() == [0, 40, 80]


def test_a_score_before_the_decay_start_is_the_base() -> None:
    # last_seen in the future of the clock (a skewed sensor) must not raise the score.
    assert _score(IndicatorType.URL, 60, START - timedelta(days=3)) == 60


_times = st.integers(min_value=0, max_value=3 * 365 * 24 * 3600).map(
    lambda seconds: START + timedelta(seconds=seconds)
)


@given(
    kind=st.sampled_from(list(IndicatorType)),
    base=st.integers(min_value=0, max_value=100),
    first=_times,
    second=_times,
)
def test_without_sightings_a_score_never_rises(
    kind: IndicatorType, base: int, first: datetime, second: datetime
) -> None:
    earlier, later = sorted((first, second))
    assert _score(kind, base, earlier) >= _score(kind, base, later)


@given(
    kind=st.sampled_from(list(IndicatorType)),
    base=st.integers(min_value=0, max_value=100),
    at=_times,
)
def test_expiry_agrees_with_the_scores(kind: IndicatorType, base: int, at: datetime) -> None:
    ends = decay.expiry(kind, base, START)
    score = _score(kind, base, at)
    if ends is not None and at >= ends:
        assert score == 0
    else:
        # Not expired yet: the score is still at or above the threshold.
        assert score >= decay.EXPIRY_THRESHOLD
        assert score <= base


def test_the_half_life_table_in_the_docs_is_the_codes() -> None:
    page = Path(__file__).parents[2] / "docs" / "decay.md"
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| (\d+ days|never decays) \|", page.read_text(), re.M)
    documented = {name: text for name, text in rows}
    expected = {
        kind.value: "never decays" if half_life is None else f"{half_life.days} days"
        for kind, half_life in decay.HALF_LIFE.items()
    }
    assert documented == expected


# ---- through the API -------------------------------------------------------------------


def test_new_indicators_carry_a_score_and_an_expiry(client: TestClient, session: Session) -> None:
    owner = member(session)
    event = create_event(client, owner)
    before = utcnow()
    address = add_indicator(client, owner, event, "ipv4", "45.155.205.10")
    digest = add_indicator(client, owner, event, "sha256", "ab" * 32)
    assert address["score"] == decay.DEFAULT_BASE_SCORE
    half_life = decay.HALF_LIFE[IndicatorType.IPV4]
    assert half_life is not None
    # 70 falls to 20 after log2(70 / 20) half-lives.
    expected = before + half_life * math.log2(decay.DEFAULT_BASE_SCORE / decay.EXPIRY_THRESHOLD)
    assert abs(datetime.fromisoformat(address["expires_at"]) - expected) < timedelta(minutes=1)
    assert (digest["score"], digest["expires_at"]) == (decay.DEFAULT_BASE_SCORE, None)


def test_the_owners_admiralty_tags_set_the_score_of_new_indicators(
    client: TestClient, session: Session
) -> None:
    owner = member(session)
    event = create_event(
        client,
        owner,
        tags=[
            'admiralty-scale:source-reliability="a"',
            'admiralty-scale:information-credibility="1"',
        ],
    )
    added = add_indicator(client, owner, event, "domain", "trusted.example")
    assert added["score"] == 100
    stored = session.scalar(select(Indicator.base_score).where(Indicator.id == added["id"]))
    assert stored == 100


def test_another_members_admiralty_tag_does_not_change_the_owners_score(
    client: TestClient, session: Session
) -> None:
    owner, other = member(session), member(session)
    event = create_event(client, owner)
    tagged = client.post(
        f"/api/v1/events/{event['id']}/tags",
        json={"tag": 'admiralty-scale:source-reliability="e"'},
        headers=other.headers,
    )
    assert tagged.status_code == 200, tagged.text
    added = add_indicator(client, owner, event, "domain", "owner-judged.example")
    assert added["score"] == decay.DEFAULT_BASE_SCORE


def test_an_address_last_seen_a_year_ago_is_expired_on_entry(
    client: TestClient, session: Session
) -> None:
    owner, other = member(session), member(session)
    event = create_event(client, owner)
    year_ago = utcnow() - timedelta(days=365)
    old = add_indicator(
        client, owner, event, "ipv4", "45.155.205.11", last_seen=year_ago.isoformat()
    )
    fresh = add_indicator(client, owner, event, "ipv4", "45.155.205.12")
    assert old["score"] == 0
    assert datetime.fromisoformat(old["expires_at"]) < utcnow()
    matched = match(client, other, "45.155.205.11", "45.155.205.12")
    assert [m["indicator_id"] for m in matched["matches"]] == [fresh["id"]]
    inactive = search(client, other, event_id=event["id"], active=False)
    assert [i["id"] for i in inactive] == [old["id"]]
    active = search(client, other, event_id=event["id"], active=True)
    assert [i["id"] for i in active] == [fresh["id"]]
    # Without the filter both are listed: expired indicators are kept.
    assert {i["id"] for i in search(client, other, event_id=event["id"])} == {
        old["id"],
        fresh["id"],
    }


def test_a_hash_last_seen_years_ago_still_matches(client: TestClient, session: Session) -> None:
    owner = member(session)
    long_ago = utcnow() - timedelta(days=5 * 365)
    added = add_indicator(
        client, owner, create_event(client, owner), "md5", "1" * 32, last_seen=long_ago.isoformat()
    )
    assert added["expires_at"] is None
    assert match(client, owner, "1" * 32)["matched_values"] == 1
