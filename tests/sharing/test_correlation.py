"""Correlation: equal values and network containment link events, never past the access rule."""

from __future__ import annotations

import ipaddress
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from entente.members.accounts import Principal, load_viewer
from entente.members.models import User
from entente.sharing import correlation, indicator_service, service
from entente.sharing.indicators import IndicatorType
from entente.sharing.models import Correlation, Event
from entente.sharing.schemas import EventCreate, IndicatorBatch, IndicatorCreate
from entente.vocabulary.markings import TLP, Distribution
from tests.factories import make_organisation, make_user


def _principal(session: Session, user: User) -> Principal:
    return Principal(user=user, viewer=load_viewer(session, user), via="api")


def _writer(session: Session) -> Principal:
    return _principal(session, make_user(session, make_organisation(session)))


def _event(
    session: Session,
    owner: Principal,
    values: list[tuple[IndicatorType, str]],
    tlp: TLP = TLP.GREEN,
    distribution: Distribution = Distribution.ALL_MEMBERS,
) -> Event:
    data = EventCreate(
        title=f"event with {len(values)} indicators",
        event_date=date(2026, 11, 20),
        tlp=tlp,
        distribution=distribution,
    )
    event = service.create_event(session, owner, data)
    batch = IndicatorBatch(
        indicators=[IndicatorCreate(type=kind, value=value) for kind, value in values]
    )
    indicator_service.add_indicators(session, owner, event, batch)
    return event


def test_equal_values_link_both_events_with_counts(session: Session) -> None:
    alice, bob = _writer(session), _writer(session)
    first = _event(
        session, alice, [(IndicatorType.DOMAIN, "evil.example"), (IndicatorType.MD5, "a" * 32)]
    )
    second = _event(
        session, bob, [(IndicatorType.DOMAIN, "EVIL.example"), (IndicatorType.MD5, "a" * 32)]
    )
    seen_by_alice = correlation.correlated_events(session, alice.viewer, first.id)
    seen_by_bob = correlation.correlated_events(session, bob.viewer, second.id)
    assert [(c.event_id, c.links) for c in seen_by_alice] == [(second.id, 2)]
    assert [(c.event_id, c.links) for c in seen_by_bob] == [(first.id, 2)]
    assert set(seen_by_alice[0].sample_values) == {"evil.example", "a" * 32}


def test_a_network_links_the_addresses_and_smaller_networks_inside_it(session: Session) -> None:
    owner = _writer(session)
    addresses = _event(
        session,
        owner,
        [
            (IndicatorType.IPV4, "198.51.100.7"),
            (IndicatorType.CIDR, "198.51.100.0/28"),
            (IndicatorType.IPV4, "203.0.113.9"),  # outside
            (IndicatorType.IPV6, "2001:db8:5::1"),
        ],
    )
    networks = _event(
        session,
        owner,
        [
            (IndicatorType.CIDR, "198.51.100.0/24"),  # bucketed (/16 or longer)
            (IndicatorType.CIDR, "2001:db8::/32"),
        ],
    )
    wide = _event(session, owner, [(IndicatorType.CIDR, "198.0.0.0/8")])  # wider than a bucket
    linked = {
        (c.event_id, c.links)
        for c in correlation.correlated_events(session, owner.viewer, addresses.id)
    }
    # The /24 contains .7 and the /28; the /8 contains them and nothing else here; 203.0.113.9
    # is in neither; the IPv6 address sits in the /32.
    assert linked == {(networks.id, 3), (wide.id, 2)}
    around = correlation.correlated_events(session, owner.viewer, wide.id)
    # The /8 was added last: it found the addresses and the /24 already stored (range scan).
    assert {(c.event_id, c.links) for c in around} == {(addresses.id, 2), (networks.id, 1)}


def test_an_address_and_its_slash_32_link_once(session: Session) -> None:
    owner = _writer(session)
    address = _event(session, owner, [(IndicatorType.IPV4, "192.0.2.1")])
    network = _event(session, owner, [(IndicatorType.CIDR, "192.0.2.1/32")])
    rows = session.scalar(
        select(func.count()).select_from(Correlation).where(Correlation.event_id == network.id)
    )
    assert rows == 1
    assert [c.links for c in correlation.correlated_events(session, owner.viewer, address.id)] == [
        1
    ]


def test_a_link_to_an_event_the_viewer_may_not_see_is_neither_shown_nor_counted(
    session: Session,
) -> None:
    alice, bob = _writer(session), _writer(session)
    shared = _event(session, alice, [(IndicatorType.DOMAIN, "c2.example")])
    hidden = _event(
        session,
        bob,
        [(IndicatorType.DOMAIN, "c2.example")],
        tlp=TLP.RED,
        distribution=Distribution.ORGANISATION,
    )
    assert correlation.correlated_events(session, alice.viewer, shared.id) == []
    assert (
        correlation.indicator_link_counts(session, alice.viewer, [i.id for i in shared.indicators])
        == {}
    )
    # Bob sees both ends, so he sees the link from his own event.
    assert [c.event_id for c in correlation.correlated_events(session, bob.viewer, hidden.id)] == [
        shared.id
    ]


def test_indicators_of_the_same_event_do_not_correlate_with_each_other(session: Session) -> None:
    owner = _writer(session)
    event = _event(
        session, owner, [(IndicatorType.IPV4, "192.0.2.5"), (IndicatorType.CIDR, "192.0.2.0/24")]
    )
    assert correlation.correlated_events(session, owner.viewer, event.id) == []


# Networks of every width, including ones wider than a bucket (v4 < /16, v6 < /32), the
# coarse-bucketed (v4 /8-/15, v6 /16-/31) and the widest (v4 < /8, v6 < /16), over a small
# space so that containment is common.
_V4_PREFIXES = st.integers(min_value=0, max_value=32)
_V6_PREFIXES = st.integers(min_value=0, max_value=128)
_v4_networks = st.builds(
    lambda high, low, prefix: str(
        ipaddress.ip_network(f"{ipaddress.IPv4Address((high << 24) | low)}/{prefix}", strict=False)
    ),
    st.sampled_from([10, 11, 198]),
    st.integers(min_value=0, max_value=(1 << 24) - 1),
    _V4_PREFIXES,
)
_v6_networks = st.builds(
    lambda top, low, prefix: str(
        ipaddress.ip_network(f"{ipaddress.IPv6Address((top << 112) | low)}/{prefix}", strict=False)
    ),
    st.sampled_from([0x2001, 0x2002]),
    st.integers(min_value=0, max_value=(1 << 112) - 1),
    _V6_PREFIXES,
)
_placed_values = st.lists(
    st.tuples(st.integers(min_value=0, max_value=2), st.one_of(_v4_networks, _v6_networks)),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=max(10, settings().max_examples // 10),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(placed=_placed_values)
def test_stored_links_are_exactly_equal_or_containing_values_of_other_events(
    session: Session, placed: list[tuple[int, str]]
) -> None:
    """Whatever the order of adding, the links are the pairs a brute force finds."""
    owner = _writer(session)
    events = [
        _event(session, owner, [_as_indicator(value) for slot, value in placed if slot == n])
        if any(slot == n for slot, _ in placed)
        else None
        for n in range(3)
    ]
    added = [
        (indicator.id, event.id, _in_one_space(indicator.value))
        for event in events
        if event is not None
        for indicator in event.indicators
    ]
    expected = {
        (a_id, b_id)
        for a_id, a_event, a in added
        for b_id, b_event, b in added
        if a_event != b_event and (a.subnet_of(b) or b.subnet_of(a))
    }
    ids = [indicator_id for indicator_id, _, _ in added]
    stored = {
        (int(a), int(b))
        for a, b in session.execute(
            select(Correlation.indicator_id, Correlation.other_indicator_id).where(
                # Earlier examples' rows stay in this test's transaction: look at ours only.
                Correlation.indicator_id.in_(ids),
                Correlation.other_indicator_id.in_(ids),
            )
        )
    }
    assert stored == expected


def _in_one_space(value: str) -> ipaddress.IPv6Network:
    """IPv4 mapped into IPv6 (::ffff:0:0/96), as Entente compares them: ::/0 holds all IPv4."""
    network = ipaddress.ip_network(value)
    if isinstance(network, ipaddress.IPv6Network):
        return network
    mapped = int(network.network_address) | 0xFFFF << 32
    return ipaddress.IPv6Network((mapped, 96 + network.prefixlen))


def _as_indicator(value: str) -> tuple[IndicatorType, str]:
    """A network of one address is that address (an ip indicator has no /prefix)."""
    network = ipaddress.ip_network(value)
    if network.prefixlen == network.max_prefixlen:
        kind = IndicatorType.IPV4 if network.version == 4 else IndicatorType.IPV6
        return kind, str(network.network_address)
    return IndicatorType.CIDR, value
