"""The admins' list of peers: filtered and cursor-paginated like every other list page.

An addition beside `service.list_peers` (all peers, for the CLI and the API) so the UI page
filters and pages in SQL; neither changes what the other returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session
from sqlalchemy.sql import select

from entente.core.pagination import Page, PageRequest, paginate
from entente.interop.federation.choices import SyncOutcome
from entente.interop.federation.models import Peer
from entente.interop.federation.schemas import PeerPublic
from entente.interop.federation.service import peer_public


class LastSync(StrEnum):
    """How a peer's last sync went, "never" included: what the list shows and filters by."""

    OK = "ok"
    FAILED = "failed"
    NEVER = "never"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def colour(self) -> str:
        return _COLOURS[self]

    @classmethod
    def of(cls, outcome: SyncOutcome | None) -> LastSync:
        if outcome is None:
            return cls.NEVER
        return cls.OK if outcome is SyncOutcome.SUCCEEDED else cls.FAILED


_LABELS = {LastSync.OK: "OK", LastSync.FAILED: "Failed", LastSync.NEVER: "Never synced"}
_COLOURS = {LastSync.OK: "green", LastSync.FAILED: "red", LastSync.NEVER: "grey"}


@dataclass(frozen=True, slots=True)
class PeerFilter:
    """`enabled` the agreement's switch; `last_sync` how its last sync went."""

    enabled: bool | None = None
    last_sync: LastSync | None = None


def peer_page(session: Session, filters: PeerFilter, page: PageRequest) -> Page[PeerPublic]:
    """One page of peers matching `filters`, by name (the token masked, as everywhere)."""
    query = select(Peer)
    if filters.enabled is not None:
        query = query.where(Peer.enabled == filters.enabled)
    if filters.last_sync is LastSync.NEVER:
        query = query.where(Peer.last_sync_outcome.is_(None))
    elif filters.last_sync is LastSync.OK:
        query = query.where(Peer.last_sync_outcome == SyncOutcome.SUCCEEDED)
    elif filters.last_sync is LastSync.FAILED:
        query = query.where(Peer.last_sync_outcome == SyncOutcome.FAILED)
    found = paginate(session, query, [Peer.name, Peer.id], page)
    return Page(
        items=[peer_public(peer) for peer in found.items],
        next_cursor=found.next_cursor,
        count=found.count,
    )
