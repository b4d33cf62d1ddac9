"""One sync with a peer: pull what changed there, push what the agreement lets go there.

The peer's own API decides what a pull sees (its access predicate, for the token's user);
this hub's agreement then decides what it accepts. A push reads as the peer
(`agreement.peer_viewer`), published events only, never back to a hub in an event's chain
nor to the peer it came from. Each direction is one audit entry naming the peer and the
events; the peer's last sync status says when, how it went, the counts and any error. A
failed sync moves no cursor, so the next one asks for the same again and nothing is lost.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlalchemy.orm import Session

from entente.core import audit
from entente.core.audit import Actor
from entente.core.clock import utcnow
from entente.core.errors import AppError, BadValue, FetchError
from entente.interop.federation.agreement import Agreement, peer_viewer
from entente.interop.federation.choices import SyncOutcome
from entente.interop.federation.identity import local_hub_uuid
from entente.interop.federation.incoming import receive_events
from entente.interop.federation.models import FederatedEvent, Peer
from entente.interop.federation.outgoing import changed_events, wire_events
from entente.interop.federation.remote import PeerClient
from entente.interop.federation.schemas import SyncResult, TransferCounts

# Events per POST of a push: well under the receiver's body limit for ordinary events.
PUSH_BATCH = 50


def sync_peer(
    session: Session, actor: Actor, peer: Peer, client: PeerClient | None = None
) -> SyncResult:
    """Pull and/or push as the peer's direction says; the outcome is stored on the peer."""
    result = SyncResult(peer=peer.name, outcome=SyncOutcome.SUCCEEDED)
    try:
        if not peer.enabled:
            raise BadValue("the peer is disabled", field="enabled", value=False)
        with client or PeerClient(peer) as remote:
            local_hub = local_hub_uuid(session)
            remote_hub = _check_identity(session, peer, remote.hub_uuid(), local_hub)
            if peer.direction.pulls:
                result.pulled = _pull(session, actor, peer, remote, local_hub)
            if peer.direction.pushes:
                result.pushed = _push(session, actor, peer, remote, (local_hub, remote_hub))
    except AppError as exc:
        session.rollback()
        result.outcome, result.error = SyncOutcome.FAILED, exc.message
    _record_status(session, peer, result)
    return result


def _check_identity(session: Session, peer: Peer, stated: str, local_hub: str) -> str:
    if stated == local_hub:
        raise BadValue("the peer's address leads back to this hub", field="base_url")
    if peer.remote_hub_uuid is None:
        peer.remote_hub_uuid = stated
        session.commit()
    elif peer.remote_hub_uuid != stated:
        raise FetchError(
            f"the peer answered as hub {stated}; the agreement is with {peer.remote_hub_uuid}",
            field="remote_hub_uuid",
            value=stated,
        )
    return stated


def _pull(
    session: Session, actor: Actor, peer: Peer, remote: PeerClient, local_hub: str
) -> TransferCounts:
    until, items = remote.changed_events(peer.pulled_until, local_hub)
    counts = receive_events(session, peer, local_hub, items, actor)
    peer.pulled_until = _instant(until)
    _audit(session, actor, "federation.pull", peer, counts)
    session.commit()
    return counts


def _push(
    session: Session, actor: Actor, peer: Peer, remote: PeerClient, route: tuple[str, str]
) -> TransferCounts:
    started = utcnow()
    agreement = Agreement.of(peer)
    viewer = peer_viewer(session, agreement)
    query = changed_events(viewer, peer.pushed_until).where(
        or_(
            FederatedEvent.received_from_peer_id.is_(None),
            FederatedEvent.received_from_peer_id != peer.id,
        )
    )
    counts = TransferCounts()
    batch: list[dict[str, Any]] = []
    for item in wire_events(session, viewer, query, agreement, route):
        batch.append(item)
        if len(batch) == PUSH_BATCH:
            _deliver(remote, route[0], batch, counts)
            batch = []
    if batch:
        _deliver(remote, route[0], batch, counts)
    peer.pushed_until = started
    _audit(session, actor, "federation.push", peer, counts)
    session.commit()
    return counts


def _deliver(
    remote: PeerClient, local_hub: str, batch: list[dict[str, Any]], counts: TransferCounts
) -> None:
    report = TransferCounts.model_validate(remote.deliver(local_hub, batch))
    counts.offered += len(batch)
    for outcome in ("imported", "updated", "unchanged", "looped"):
        setattr(counts, outcome, getattr(counts, outcome) + getattr(report, outcome))
    counts.refused += report.refused
    counts.refusals = (counts.refusals + report.refusals)[:50]
    for item in batch:
        counts.note(str(item["Event"]["uuid"]))


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise FetchError(f"the peer's cursor is not a time: {text!r}", field="until") from exc
    if moment.tzinfo is None:
        raise FetchError(f"the peer's cursor has no time zone: {text!r}", field="until")
    return moment


def _audit(session: Session, actor: Actor, action: str, peer: Peer, counts: TransferCounts) -> None:
    detail = counts.model_dump(exclude={"refusals"})
    audit.record(session, actor, action, ("peer", peer.id), peer=peer.name, **detail)


def _record_status(session: Session, peer: Peer, result: SyncResult) -> None:
    peer.last_sync_at = utcnow()
    peer.last_sync_outcome = result.outcome
    peer.last_sync_error = result.error
    peer.last_sync_counts = {
        direction: counts.model_dump(exclude={"refusals", "event_uuids"})
        for direction, counts in (("pulled", result.pulled), ("pushed", result.pushed))
        if counts is not None
    }
    session.commit()
