"""The visibility queries every sharing read starts from, so none is written twice.

An indicator reaches its event's audience (owner, distribution, sharing group, named
recipients) narrowed by its own TLP, which is never looser than the event's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Select, select

from entente.core.access import AccessColumns, Viewer, visible_to
from entente.sharing.models import Event, Indicator


def indicator_access(indicator: Any = Indicator, event: Any = Event) -> AccessColumns:
    """Access columns of an indicator (or an alias of it) joined to its event (or an alias)."""
    return AccessColumns(
        access_type=Event.__access_type__,
        object_id=event.id,
        owner_organisation_id=event.owner_organisation_id,
        tlp=indicator.tlp,
        distribution=event.distribution,
        sharing_group_id=event.sharing_group_id,
    )


INDICATOR_ACCESS = indicator_access()


def visible_events(viewer: Viewer) -> Select[Event]:
    return select(Event).where(visible_to(viewer, Event))


def visible_indicators(viewer: Viewer) -> Select[Indicator]:
    return select(Indicator).join(Event).where(visible_to(viewer, INDICATOR_ACCESS))


# Digests per `IN (...)` query: well under every driver's bound-parameter limit.
DIGESTS_PER_QUERY = 2_000


def digest_chunks(digests: Iterable[str]) -> Iterator[list[str]]:
    """Sorted digests in slices of `DIGESTS_PER_QUERY`, one indexed query each."""
    ordered = sorted(digests)
    for start in range(0, len(ordered), DIGESTS_PER_QUERY):
        yield ordered[start : start + DIGESTS_PER_QUERY]
