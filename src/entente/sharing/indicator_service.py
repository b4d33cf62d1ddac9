"""Indicators inside events: bulk add (validated, flagged, scored, correlated) and reads.

Every read goes through the access predicate (`queries.visible_indicators`); an indicator
the viewer may not see raises `NotFound`, as one that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NoReturn

from sqlalchemy.orm import Session

from entente.core import audit
from entente.core.access import Viewer
from entente.core.clock import utcnow
from entente.core.errors import BadValue, NotFound
from entente.members.accounts import Principal
from entente.sharing import decay
from entente.sharing.correlation import correlate
from entente.sharing.indicator_rows import NewRows, build_rows, public_dicts
from entente.sharing.indicator_rows import value_digest as value_digest  # for the lookups
from entente.sharing.indicator_store import store_rows
from entente.sharing.models import Event, Indicator
from entente.sharing.permissions import require_owner
from entente.sharing.queries import visible_indicators
from entente.sharing.schemas import (
    IndicatorBatch,
    IndicatorBatchResult,
    IndicatorPublic,
    IndicatorRejection,
)
from entente.sharing.tags import owner_tags
from entente.sharing.warninglist_settings import active_warning_lists


def current_scores(indicators: Sequence[Indicator], now: datetime) -> list[int]:
    """Decay scores of many indicators at `now`, computed in one vectorised pass."""
    current: list[int] = decay.scores(
        [i.type for i in indicators],
        [i.base_score for i in indicators],
        [i.decay_from for i in indicators],
        [i.expires_at for i in indicators],
        now,
    ).tolist()
    return current


def indicator_publics(
    indicators: Sequence[Indicator], now: datetime | None = None
) -> list[IndicatorPublic]:
    """API shapes of many indicators, with their current decay scores."""
    current = current_scores(indicators, now or utcnow())
    return [
        IndicatorPublic.model_validate(
            {
                **{key: getattr(indicator, key) for key in _PUBLIC_COLUMNS},
                "score": score,
                "warning_lists": indicator.warning_list_names,
            }
        )
        for indicator, score in zip(indicators, current, strict=True)
    ]


_PUBLIC_COLUMNS = tuple(
    name for name in IndicatorPublic.model_fields if name not in {"score", "warning_lists"}
)


def indicator_public(indicator: Indicator) -> IndicatorPublic:
    return indicator_publics([indicator])[0]


def add_indicators(
    session: Session, principal: Principal, event: Event, batch: IndicatorBatch
) -> IndicatorBatchResult:
    """Add many indicators at once: valid ones are kept, each bad one is reported with why.

    New values are flagged against the active warning lists, given their decay base score
    from the event's tags, and correlated with other events in the same transaction.
    """
    require_owner(principal, event)
    now = utcnow()
    built = build_rows(event, batch.indicators, now, decay.base_score(owner_tags(session, event)))
    rejected = built.rejected
    if not len(built.rows) and rejected:
        _refuse(rejected)
    _flag_warning_lists(session, built.rows)
    outcome = store_rows(session, event.id, built.rows)
    stored = outcome.added
    if not stored and rejected:
        _refuse(rejected)
    if stored:
        correlate(session, event.id, stored[0][0], stored[-1][0], outcome.same_values)
        event.published = False
        event.updated_at = now
    duplicates = len(batch.indicators) - len(rejected) - len(stored)
    audit.record(
        session,
        principal.actor(),
        "indicator.add",
        ("event", event.id),
        added=len(stored),
        duplicates=duplicates,
        rejected=len(rejected),
    )
    session.commit()
    echoed = stored[:_ECHOED]
    shown = built.rows.take([position for _, position in echoed])
    return IndicatorBatchResult(
        added=[
            IndicatorPublic.model_validate(item)
            for item in public_dicts(shown, [indicator_id for indicator_id, _ in echoed], now)
        ],
        added_count=len(stored),
        duplicates=duplicates,
        rejected=rejected,
    )


# The response echoes at most this many of the added indicators; the count is always whole.
_ECHOED = 1_000


def _refuse(rejected: list[IndicatorRejection]) -> NoReturn:
    """Nothing to add and something was wrong: the first bad indicator is the answer."""
    first = rejected[0]
    raise BadValue(first.message, field=first.field, value=first.value)


def _flag_warning_lists(session: Session, rows: NewRows) -> None:
    hits = active_warning_lists(session).match_many(rows.columns["type"], rows.columns["value"])
    rows.columns["warning_lists"] = [",".join(names) for names in hits]


def get_indicator(session: Session, viewer: Viewer, indicator_id: int) -> Indicator:
    indicator = session.scalar(visible_indicators(viewer).where(Indicator.id == indicator_id))
    if indicator is None:
        raise NotFound(
            f"no indicator with id {indicator_id}", field="indicator_id", value=indicator_id
        )
    return indicator
