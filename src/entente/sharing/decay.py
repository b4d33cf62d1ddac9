"""Decay scoring: how much an indicator is still worth acting on, from 0 to 100.

An indicator starts at a *base score* given by how far its source is trusted (the event's
admiralty-scale tags, as MISP's decaying models take it from taxonomy values) and loses half
of it every *half-life* of its type: a botnet address changes hands within weeks, a domain
lasts months, a file hash never stops identifying the file. A sighting ("seen") restarts
the clock; a false-positive report halves the base; an "expired" report ends it at once.
Below `EXPIRY_THRESHOLD` the indicator is *expired*: kept and searchable, but left out of
matching. `expires_at` is stored so matching filters on an index instead of computing scores.

    score(t) = base * 0.5 ** ((t - decay_from) / half_life)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from entente.sharing.indicators.types import IndicatorType

EXPIRY_THRESHOLD = 20
DEFAULT_BASE_SCORE = 70

_DAY = timedelta(days=1)
# None: the type does not decay (a hash or a CVE identifies the same thing forever).
HALF_LIFE: dict[IndicatorType, timedelta | None] = {
    IndicatorType.IPV4: 14 * _DAY,
    IndicatorType.IPV6: 14 * _DAY,
    IndicatorType.CIDR: 90 * _DAY,
    IndicatorType.DOMAIN: 60 * _DAY,
    IndicatorType.HOSTNAME: 30 * _DAY,
    IndicatorType.URL: 30 * _DAY,
    IndicatorType.EMAIL_SRC: 60 * _DAY,
    IndicatorType.EMAIL_SUBJECT: 30 * _DAY,
    IndicatorType.MD5: None,
    IndicatorType.SHA1: None,
    IndicatorType.SHA256: None,
    IndicatorType.SSDEEP: None,
    IndicatorType.TLSH: None,
    IndicatorType.FILENAME: 180 * _DAY,
    IndicatorType.MUTEX: 365 * _DAY,
    IndicatorType.REGKEY: 365 * _DAY,
    IndicatorType.JA3: 180 * _DAY,
    IndicatorType.CVE: None,
    IndicatorType.ASN: 365 * _DAY,
    IndicatorType.BTC: 180 * _DAY,
    IndicatorType.OTHER: 90 * _DAY,
}

# Admiralty scale (NATO AJP-2.1) grades as confidence; F and 6 ("cannot be judged") say nothing.
_ADMIRALTY_CONFIDENCE = {
    'admiralty-scale:source-reliability="a"': 100,
    'admiralty-scale:source-reliability="b"': 85,
    'admiralty-scale:source-reliability="c"': 70,
    'admiralty-scale:source-reliability="d"': 50,
    'admiralty-scale:source-reliability="e"': 30,
    'admiralty-scale:information-credibility="1"': 100,
    'admiralty-scale:information-credibility="2"': 85,
    'admiralty-scale:information-credibility="3"': 70,
    'admiralty-scale:information-credibility="4"': 50,
    'admiralty-scale:information-credibility="5"': 30,
}


def base_score(tags: Iterable[str]) -> int:
    """The starting score from the event's admiralty tags: their mean, or the default."""
    grades = [_ADMIRALTY_CONFIDENCE[tag] for tag in tags if tag in _ADMIRALTY_CONFIDENCE]
    return round(sum(grades) / len(grades)) if grades else DEFAULT_BASE_SCORE


def expiry(indicator_type: IndicatorType, base: int, decay_from: datetime) -> datetime | None:
    """When the score falls to the threshold; None when it never will.

    A type that does not decay keeps its base forever, so it expires only when false-positive
    reports have already pushed the base down to the threshold.
    """
    if base <= EXPIRY_THRESHOLD:
        return decay_from
    half_life = HALF_LIFE[indicator_type]
    if half_life is None:
        return None
    return decay_from + half_life * math.log2(base / EXPIRY_THRESHOLD)


def scores(
    types: Sequence[IndicatorType],
    bases: Sequence[int],
    decay_from: Sequence[datetime],
    expires_at: Sequence[datetime | None],
    now: datetime,
) -> npt.NDArray[np.int64]:
    """Current scores of many indicators at once; an expired indicator scores 0."""
    half_lives = np.array(
        [_seconds(HALF_LIFE[indicator_type]) for indicator_type in types], dtype=np.float64
    )
    ages = np.array([(now - start).total_seconds() for start in decay_from], dtype=np.float64)
    values = np.asarray(bases, dtype=np.float64) * np.exp2(-np.maximum(ages, 0.0) / half_lives)
    expired = np.array([end is not None and end <= now for end in expires_at], dtype=np.bool_)
    return np.where(expired, 0, np.rint(values)).astype(np.int64)


def _seconds(half_life: timedelta | None) -> float:
    return math.inf if half_life is None else half_life.total_seconds()
