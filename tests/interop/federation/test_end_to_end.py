"""Three real hubs on loopback ports, each with its own SQLite file: A pulls from and pushes
to B, then the chain A -> B -> C converges with nothing above the agreed TLP arriving
anywhere and no event sent back to a hub it has already been on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from entente.core.audit import AuditEntry
from entente.interop.federation.models import FederatedEvent
from entente.sharing import service
from entente.sharing.indicators import IndicatorType
from entente.sharing.models import Event
from entente.vocabulary.markings import TLP, Distribution
from tests.interop import builders
from tests.interop.federation.hubs import Hub, running_hub

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, Hub, Hub]]:
    root = tmp_path_factory.mktemp("federation")
    with (
        running_hub("hub-a", root / "a") as a,
        running_hub("hub-b", root / "b") as b,
        running_hub("hub-c", root / "c") as c,
    ):
        yield a, b, c


def published(hub: Hub, title: str, tlp: TLP, **overrides: object) -> str:
    with hub.session_factory() as session:
        owner = hub.member
        event = builders.event(session, owner, tlp, title=title, **overrides)
        builders.indicators(
            session,
            owner,
            event,
            {IndicatorType.DOMAIN: f"{title.lower().replace(' ', '-')}.example"},
        )
        service.publish_event(session, owner.principal(session), event)
        return event.uuid


def titles(hub: Hub) -> dict[str, TLP]:
    with hub.session_factory() as session:
        return {event.title: event.tlp for event in session.scalars(select(Event))}


def test_two_hubs_pull_and_push_within_the_agreement(hubs: tuple[Hub, Hub, Hub]) -> None:
    a, b, _c = hubs
    published(a, "From A green", TLP.GREEN)
    published(a, "From A amber", TLP.AMBER)
    published(b, "From B green", TLP.GREEN)
    published(b, "From B amber", TLP.AMBER)
    published(b, "From B red", TLP.RED, distribution=Distribution.ORGANISATION)
    b.add_peer(a, direction="pull")  # B's agreement with A: accepts A's pushes up to GREEN
    peer_at_a = a.add_peer(b, direction="both")

    first = a.sync(peer_at_a)
    assert first["outcome"] == "succeeded", first
    assert first["pulled"]["imported"] == 1 and first["pushed"]["imported"] == 1
    assert titles(a).keys() >= {"From B green"} and "From B amber" not in titles(a)
    assert "From B red" not in titles(a)
    assert "From A green" in titles(b) and "From A amber" not in titles(b)

    again = a.sync(peer_at_a)
    assert again["pulled"]["offered"] == 0  # the cursor moved: only what changed since
    assert again["pushed"]["offered"] == 0  # B's event, now at A, never goes back to B
    with a.session_factory() as session:
        actions = set(session.scalars(select(AuditEntry.action)))
    assert {"federation.pull", "federation.push", "event.federation_import"} <= actions


def test_a_chain_of_three_hubs_converges_without_bouncing(hubs: tuple[Hub, Hub, Hub]) -> None:
    a, b, c = hubs
    published(c, "From C green", TLP.GREEN)
    c.add_peer(b, direction="pull")  # accepts B's pushes
    b_to_c = b.add_peer(c, direction="push")
    pushed = b.sync(b_to_c)["pushed"]
    assert pushed["imported"] == 2 and pushed["refused"] == 0  # A's and B's green events
    with c.session_factory() as session:
        origins = {
            session.get_one(Event, row.event_id).title: row.hub_chain
            for row in session.scalars(select(FederatedEvent))
        }
    assert origins == {"From A green": [a.hub_uuid, b.hub_uuid], "From B green": [b.hub_uuid]}

    # C and A now agree directly: what each holds already must not bounce back.
    a.add_peer(c, direction="pull")
    c_to_a = c.add_peer(a, direction="both")
    result = c.sync(c_to_a)
    assert result["outcome"] == "succeeded", result
    with a.session_factory() as session:
        a_uuid = session.scalars(select(Event.uuid).where(Event.title == "From A green")).one()
    assert a_uuid not in result["pushed"]["event_uuids"]  # A is in its chain
    assert result["pulled"]["imported"] == 0  # A offers only what C has, or C's own
    assert result["pushed"]["imported"] == 1  # C's own green event reaches A

    # A's next sync with B carries C's event on to B; B holds nothing A has not had.
    with a.api() as api:
        a_to_b = next(p["id"] for p in api.get("/peers").json()["data"] if p["name"] == "hub-b")
    onward = a.sync(a_to_b)
    assert onward["pulled"]["offered"] == 0 and onward["pushed"]["imported"] == 1

    greens = {"From A green", "From B green", "From C green"}
    for hub in (a, b, c):
        assert greens <= titles(hub).keys(), hub.name
    for hub in (a, b, c):  # nothing above the agreed TLP:GREEN came from another hub
        assert all(tlp.rank <= TLP.GREEN.rank for tlp in received(hub).values()), hub.name
    with a.session_factory() as session:
        assert len(session.scalars(select(Event).where(Event.title == "From A green")).all()) == 1


def received(hub: Hub) -> dict[str, TLP]:
    with hub.session_factory() as session:
        rows = session.execute(
            select(Event.title, Event.tlp).join(FederatedEvent, FederatedEvent.event_id == Event.id)
        )
        return {row.title: row.tlp for row in rows}
