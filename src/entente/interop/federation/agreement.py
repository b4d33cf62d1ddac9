"""The rules of an agreement with a peer, applied the same way to what is sent and received.

An event travels when it is published, its distribution reaches beyond its owner (never
`organisation`), its TLP is no stricter than the agreed maximum, it passes the filter
(owner organisation, tags, sharing group) and the receiving hub is not in its chain.
Indicators stricter than the maximum are left out of an event that travels.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.core.access import Viewer
from entente.interop.federation.models import Peer
from entente.sharing.models import SharingGroup
from entente.vocabulary.markings import TLP, Distribution

# The peer hub as a reader of this one: a member organisation that owns nothing and is named
# as recipient nowhere (no row has id 0), so the access predicate gives it what every member
# may see plus the sharing groups the agreement names, and nothing of any one organisation.
PEER_ORGANISATION_ID = 0


@dataclass(frozen=True, slots=True)
class Agreement:
    """What a peer record says about which events may travel."""

    max_tlp: TLP
    organisations: frozenset[str]
    tags: frozenset[str]
    # None: no restriction of its own (a hub serving a pull to a hub it has no record of:
    # the token's user's access alone decides, and the puller's agreement on its side).
    sharing_groups: frozenset[str] | None

    @classmethod
    def of(cls, peer: Peer) -> Agreement:
        return cls(
            max_tlp=peer.max_tlp,
            organisations=_folded(peer.organisations),
            tags=_folded(peer.tags),
            sharing_groups=_folded(peer.sharing_groups),
        )


def _folded(names: Collection[str]) -> frozenset[str]:
    return frozenset(name.casefold() for name in names)


def within_tlp(agreement: Agreement, tlp: TLP) -> bool:
    """True when `tlp` is no stricter than the agreed maximum."""
    return tlp.rank <= agreement.max_tlp.rank


@dataclass(frozen=True, slots=True)
class Candidate:
    """The facts of one event the rules decide on, whichever way it travels."""

    tlp: TLP
    distribution: Distribution
    organisation_name: str
    tags: Sequence[str]
    sharing_group_name: str | None


def refusal(agreement: Agreement, event: Candidate) -> str | None:
    """Why the agreement keeps this event from travelling, or None when it may."""
    if event.distribution is Distribution.ORGANISATION:
        return "distribution 'organisation' never leaves its hub"
    if not within_tlp(agreement, event.tlp):
        return f"{event.tlp.label} is above the agreed {agreement.max_tlp.label}"
    if (
        agreement.organisations
        and event.organisation_name.casefold() not in agreement.organisations
    ):
        return f"organisation '{event.organisation_name}' is not in the agreement's filter"
    if agreement.tags and not agreement.tags & _folded(event.tags):
        return "none of the event's tags is in the agreement's filter"
    if (
        event.distribution is Distribution.SHARING_GROUP
        and agreement.sharing_groups is not None
        and (event.sharing_group_name or "").casefold() not in agreement.sharing_groups
    ):
        return f"sharing group '{event.sharing_group_name}' is not in the agreement"
    return None


# What a hub serves to a puller it has no peer record for: the token's access decides.
UNRESTRICTED = Agreement(TLP.RED, frozenset(), frozenset(), None)


def loops_back(chain: Sequence[str], hub_uuid: str | None) -> bool:
    """True when the event has already been on `hub_uuid` (its origin included)."""
    return hub_uuid is not None and hub_uuid in chain


def peer_viewer(session: Session, agreement: Agreement) -> Viewer:
    """The access predicate's reader for what may be pushed to a peer (`PEER_ORGANISATION_ID`)."""
    named = agreement.sharing_groups or frozenset()
    rows = session.execute(select(SharingGroup.id, SharingGroup.name))
    agreed = frozenset(row.id for row in rows if row.name.casefold() in named)
    return Viewer(user_id=None, organisation_id=PEER_ORGANISATION_ID, sharing_group_ids=agreed)
