"""What leaves for a peer and what is accepted from one, on SQLite and PostgreSQL: the
agreement (max TLP, filter), published only, loop prevention, idempotence, origins kept,
and a failed sync that loses nothing."""

from __future__ import annotations

import copy

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from entente.core.audit import SYSTEM, AuditEntry
from entente.interop.federation.agreement import Agreement, peer_viewer
from entente.interop.federation.choices import SyncOutcome
from entente.interop.federation.identity import local_hub_uuid
from entente.interop.federation.incoming import receive_events
from entente.interop.federation.models import FederatedEvent, Peer, RemoteOrganisation
from entente.interop.federation.outgoing import changed_events, wire_events
from entente.interop.federation.sync import sync_peer
from entente.members.models import Organisation
from entente.sharing.indicators import IndicatorType
from entente.sharing.models import Event, Indicator
from entente.vocabulary.markings import TLP, Distribution
from tests.factories import make_sharing_group
from tests.interop import builders
from tests.interop.federation.wire import OTHER_HUB, as_sent_by_other_hub, make_peer, publish

VALUES = {IndicatorType.IPV4: "198.51.100.7", IndicatorType.DOMAIN: "c2.example.net"}


def pushed_uuids(session: Session, peer: Peer) -> list[str]:
    agreement = Agreement.of(peer)
    viewer = peer_viewer(session, agreement)
    route = (local_hub_uuid(session), peer.remote_hub_uuid)
    items = wire_events(session, viewer, changed_events(viewer, None), agreement, route)
    return [item["Event"]["uuid"] for item in items]


def test_a_push_sends_published_events_within_the_agreement(session: Session) -> None:
    owner = builders.member(session)
    peer = make_peer(session, max_tlp=TLP.GREEN)
    green = publish(session, owner, builders.event(session, owner, TLP.GREEN))
    amber = publish(session, owner, builders.event(session, owner, TLP.AMBER))
    draft = builders.event(session, owner, TLP.CLEAR)  # never published
    own = builders.event(session, owner, TLP.GREEN, distribution=Distribution.ORGANISATION)
    publish(session, owner, own)
    red = builders.event(session, owner, TLP.RED, distribution=Distribution.ORGANISATION)
    publish(session, owner, red)
    sent = pushed_uuids(session, peer)
    assert sent == [green.uuid]
    assert not {amber.uuid, draft.uuid, own.uuid, red.uuid} & set(sent)


def test_indicators_above_the_maximum_stay_home(session: Session) -> None:
    owner = builders.member(session)
    peer = make_peer(session, max_tlp=TLP.GREEN)
    event = builders.event(session, owner, TLP.GREEN)
    builders.indicators(session, owner, event, {IndicatorType.IPV4: "198.51.100.7"})
    builders.indicators(
        session, owner, event, {IndicatorType.DOMAIN: "c2.example.net"}, tlp=TLP.AMBER
    )
    publish(session, owner, event)
    agreement = Agreement.of(peer)
    viewer = peer_viewer(session, agreement)
    route = (local_hub_uuid(session), OTHER_HUB)
    [item] = wire_events(session, viewer, changed_events(viewer, None), agreement, route)
    assert [a["value"] for a in item["Event"]["Attribute"]] == ["198.51.100.7"]
    assert item["Federation"]["chain"] == [local_hub_uuid(session)]
    assert item["Federation"]["organisation"]["name"] == owner.organisation.name


def test_the_filter_and_sharing_groups_bound_a_push(session: Session) -> None:
    owner = builders.member(session)
    group = make_sharing_group(session, owner.organisation, [owner.organisation])
    tagged = publish(session, owner, builders.event(session, owner, tags=["phishing"]))
    publish(session, owner, builders.event(session, owner, tags=["botnet"]))
    in_group = builders.event(
        session, owner, TLP.AMBER, distribution=Distribution.SHARING_GROUP,
        sharing_group_id=group.id, tags=["phishing"],
    )  # fmt: skip
    publish(session, owner, in_group)
    without_group = make_peer(session, "no-group", tags=["Phishing"], remote_hub_uuid=None)
    assert pushed_uuids(session, without_group) == [tagged.uuid]
    with_group = make_peer(
        session, "group", tags=["phishing"], sharing_groups=[group.name], max_tlp=TLP.AMBER
    )
    assert sorted(pushed_uuids(session, with_group)) == sorted([tagged.uuid, in_group.uuid])


def test_receiving_is_idempotent_by_uuid_and_timestamp(session: Session) -> None:
    owner = builders.member(session)
    peer = make_peer(session)
    event = builders.event(session, owner, TLP.GREEN)
    builders.indicators(session, owner, event, VALUES)
    item = as_sent_by_other_hub(session, owner, publish(session, owner, event))
    here = local_hub_uuid(session)
    first = receive_events(session, peer, here, [item], SYSTEM)
    assert (first.imported, first.refused) == (1, 0), first.refusals
    again = receive_events(session, peer, here, [item, copy.deepcopy(item)], SYSTEM)
    assert (again.imported, again.updated, again.unchanged) == (0, 0, 2)
    older = copy.deepcopy(item)
    older["Event"]["timestamp"] = str(int(older["Event"]["timestamp"]) - 60)
    older["Event"]["info"] = "An older title"
    assert receive_events(session, peer, here, [older], SYSTEM).unchanged == 1
    newer = copy.deepcopy(item)
    newer["Event"]["timestamp"] = str(int(newer["Event"]["timestamp"]) + 60)
    newer["Event"]["info"] = "A newer title"
    newer["Event"]["Attribute"] = newer["Event"]["Attribute"][:1]
    assert receive_events(session, peer, here, [newer], SYSTEM).updated == 1
    stored = session.scalars(select(Event).where(Event.uuid == item["Event"]["uuid"])).one()
    assert stored.title == "A newer title" and stored.published
    count = select(func.count()).select_from(Indicator).where(Indicator.event_id == stored.id)
    assert session.scalar(count) == 1


def test_a_received_event_keeps_its_origin_under_a_remote_organisation(session: Session) -> None:
    owner = builders.member(session)
    peer = make_peer(session)
    item = as_sent_by_other_hub(
        session, owner, publish(session, owner, builders.event(session, owner))
    )
    receive_events(session, peer, local_hub_uuid(session), [item], SYSTEM)
    stored = session.scalars(select(Event).where(Event.uuid == item["Event"]["uuid"])).one()
    assert stored.owner_organisation_id != owner.organisation.id  # never a local member's
    remote = session.get_one(RemoteOrganisation, stored.owner_organisation_id)
    assert remote.origin_hub_uuid == OTHER_HUB
    assert remote.origin_organisation_name == owner.organisation.name
    # The name was taken here (the same test database), so the record says which hub.
    assert session.get_one(Organisation, remote.organisation_id).name.endswith(
        f"(hub {OTHER_HUB[:8]})"
    )
    origin = session.get_one(FederatedEvent, stored.id)
    assert (origin.origin_hub_uuid, origin.hub_chain) == (OTHER_HUB, [OTHER_HUB])
    assert origin.received_from_peer_id == peer.id
    # A second event of the same origin organisation lands under the same record.
    second = as_sent_by_other_hub(
        session, owner, publish(session, owner, builders.event(session, owner))
    )
    second["Federation"]["organisation"]["uuid"] = item["Federation"]["organisation"]["uuid"]
    receive_events(session, peer, local_hub_uuid(session), [second], SYSTEM)
    owners = select(func.count(func.distinct(Event.owner_organisation_id))).where(
        Event.uuid.in_([item["Event"]["uuid"], second["Event"]["uuid"]])
    )
    assert session.scalar(owners) == 1


def test_what_the_agreement_refuses_is_not_stored(session: Session) -> None:
    owner = builders.member(session)
    peer = make_peer(session, max_tlp=TLP.GREEN)
    here = local_hub_uuid(session)
    amber = as_sent_by_other_hub(
        session, owner, publish(session, owner, builders.event(session, owner, TLP.AMBER))
    )
    unpublished = as_sent_by_other_hub(
        session, owner, publish(session, owner, builders.event(session, owner))
    )
    unpublished["Event"]["published"] = False
    ours = as_sent_by_other_hub(
        session, owner, publish(session, owner, builders.event(session, owner))
    )
    ours["Federation"]["chain"] = [here, OTHER_HUB]  # made here, coming back
    no_envelope = as_sent_by_other_hub(
        session, owner, publish(session, owner, builders.event(session, owner))
    )
    del no_envelope["Federation"]
    counts = receive_events(session, peer, here, [amber, unpublished, ours, no_envelope], SYSTEM)
    assert (counts.imported, counts.refused, counts.looped) == (0, 3, 1)
    assert any("TLP:AMBER is above the agreed TLP:GREEN" in r for r in counts.refusals)
    assert any("Event.published" in r for r in counts.refusals)
    assert any(r.startswith("[3] Federation") for r in counts.refusals)
    uuids = [i["Event"]["uuid"] for i in (amber, unpublished, ours, no_envelope)]
    assert session.scalar(select(func.count()).where(Event.uuid.in_(uuids))) == 0


def test_a_uuid_of_a_local_event_is_never_overwritten(session: Session) -> None:
    owner = builders.member(session)
    peer = make_peer(session)
    local = publish(session, owner, builders.event(session, owner))
    item = as_sent_by_other_hub(session, owner, local)
    item["Event"]["uuid"] = local.uuid
    item["Event"]["timestamp"] = str(int(item["Event"]["timestamp"]) + 3600)
    item["Event"]["info"] = "Hijacked title"
    counts = receive_events(session, peer, local_hub_uuid(session), [item], SYSTEM)
    assert counts.refused == 1 and "not merged" in counts.refusals[0]
    kept = session.get_one(Event, local.id)  # the export let go of `local`: read it again
    assert kept.title != "Hijacked title" and kept.owner_organisation_id == owner.organisation.id


def test_a_push_never_returns_an_event_to_where_it_came_from(session: Session) -> None:
    owner = builders.member(session)
    source = make_peer(session, "source")
    other = make_peer(session, "other", remote_hub_uuid="0f0f0f0f-0000-4000-8000-000000000002")
    item = as_sent_by_other_hub(
        session, owner, publish(session, owner, builders.event(session, owner))
    )
    receive_events(session, source, local_hub_uuid(session), [item], SYSTEM)
    received = item["Event"]["uuid"]
    assert received not in pushed_uuids(session, source)  # OTHER_HUB is in its chain
    assert received in pushed_uuids(session, other)  # onward, with this hub added to the chain


def test_an_unreachable_peer_fails_with_its_reason_and_loses_nothing(session: Session) -> None:
    owner = builders.member(session)
    publish(session, owner, builders.event(session, owner))
    peer = make_peer(session, base_url="http://127.0.0.1:9")  # discard port: nothing listens
    events_before = session.scalar(select(func.count()).select_from(Event))
    result = sync_peer(session, SYSTEM, peer)
    assert result.outcome is SyncOutcome.FAILED
    assert "could not reach http://127.0.0.1:9" in (result.error or "")
    session.refresh(peer)
    assert peer.last_sync_outcome is SyncOutcome.FAILED and peer.last_sync_at is not None
    assert peer.last_sync_error == result.error
    assert (peer.pulled_until, peer.pushed_until) == (None, None)
    assert session.scalar(select(func.count()).select_from(Event)) == events_before
    logged = session.scalars(select(AuditEntry.detail).where(AuditEntry.object_type == "peer"))
    assert all("ent_secret-token-value" not in str(detail) for detail in logged)
