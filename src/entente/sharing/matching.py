"""Matching: which of a batch of observed values are active indicators the caller may see.

This is what a member's SIEM or the early-warning pipeline asks: "do any of these appear
in the sharing space?". Expired indicators (decay) never match but stay searchable. Values
are looked up through the digest index in chunks, one query per chunk, never one per value.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy.orm import Session

from entente.core.access import Viewer
from entente.core.clock import utcnow
from entente.members.schemas import Strict
from entente.sharing.indicator_service import current_scores
from entente.sharing.indicators import IndicatorType
from entente.sharing.models import Indicator
from entente.sharing.queries import digest_chunks, visible_indicators
from entente.sharing.search import active_at, candidate_digests

MAX_MATCH_VALUES = 10_000

ObservedValue = Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class MatchRequest(Strict):
    values: list[ObservedValue] = Field(min_length=1, max_length=MAX_MATCH_VALUES)
    type: IndicatorType | None = Field(default=None, description="Read every value as this type")


class Match(BaseModel):
    value: str = Field(description="The value as you sent it")
    indicator_id: int
    event_id: int
    type: IndicatorType
    canonical_value: str
    score: int
    warning_lists: list[str] = Field(description="Known-benign lists the value hit: likely noise")


class MatchResult(BaseModel):
    matches: list[Match]
    matched_values: int = Field(description="How many of the values sent matched at least once")


def match_values(session: Session, viewer: Viewer, request: MatchRequest) -> MatchResult:
    by_digest: dict[str, list[str]] = {}
    for value in request.values:
        for digest in candidate_digests(value, request.type):
            by_digest.setdefault(digest, []).append(value)
    now = utcnow()
    active = active_at(now)
    found: list[Indicator] = []
    for chunk in digest_chunks(by_digest):
        query = visible_indicators(viewer).where(Indicator.value_digest.in_(chunk), active)
        found.extend(session.scalars(query.order_by(Indicator.id)))
    current = current_scores(found, now)
    matches = [
        Match(
            value=value,
            indicator_id=indicator.id,
            event_id=indicator.event_id,
            type=indicator.type,
            canonical_value=indicator.value,
            score=score,
            warning_lists=indicator.warning_list_names,
        )
        for indicator, score in zip(found, current, strict=True)
        for value in dict.fromkeys(by_digest[indicator.value_digest])
    ]
    return MatchResult(matches=matches, matched_values=len({m.value for m in matches}))
