"""Warning lists: the shipped lists flag known-benign values; the vectorised matcher is exact."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from entente.core.errors import BadValue
from entente.sharing.warninglists import (
    ListKind,
    WarningList,
    WarningListIndex,
    default_warning_list_index,
    load_warning_lists,
    parse_ipv4_column,
    read_warning_lists,
)

SPECIAL = "special-ranges"
RESOLVERS = "public-dns-resolvers"
TOP = "top-domains"


@pytest.fixture(scope="module")
def index() -> WarningListIndex:
    return default_warning_list_index()


def test_shipped_lists_load_with_names_and_an_enabled_flag() -> None:
    lists = {item.name: item for item in load_warning_lists()}
    assert set(lists) == {SPECIAL, RESOLVERS, TOP, "cloud-ranges-sample"}
    assert all(item.enabled for item in lists.values())
    assert lists["cloud-ranges-sample"].sample and lists[TOP].sample
    assert 90 <= len(lists[TOP].entries) <= 120


@pytest.mark.parametrize("value", ["10.1.2.3", "192.168.0.1", "::1", "fe80::1", "100.64.0.1"])
def test_special_purpose_addresses_hit_the_special_ranges(
    index: WarningListIndex, value: str
) -> None:
    assert index.match_ips([value]) == [[SPECIAL]]


def test_resolvers_hit_and_their_neighbours_do_not(index: WarningListIndex) -> None:
    values = ["8.8.8.8", "8.8.4.5", "2001:4860:4860::8888", "2001:4860:4860::8889", "1.1.1.1"]
    assert index.match_ips(values) == [[RESOLVERS], [], [RESOLVERS], [], [RESOLVERS]]


def test_a_value_in_two_lists_names_both(index: WarningListIndex) -> None:
    assert index.match_ips(["2606:4700:4700::1111"]) == [["cloud-ranges-sample", RESOLVERS]]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not an ip",
        "999.1.1.1",
        "01.2.3.4",
        "1.2.3",
        "1.2.3.4.5",
        "10.0.0.1/8",
        "fe80::zz",
        " 10.0.0.1",
    ],
)
def test_values_that_are_not_addresses_hit_nothing(index: WarningListIndex, value: str) -> None:
    assert index.match_ips([value]) == [[]]


def test_domains_match_exactly_or_through_a_parent(index: WarningListIndex) -> None:
    values = [
        "www.google.com",
        "google.com",
        "a.b.google.com",
        "evilgoogle.com",
        "google.com.evil.net",
        "WWW.GitHub.COM.",
    ]
    assert index.match_domains(values) == [[TOP], [TOP], [TOP], [], [], [TOP]]


def test_match_picks_the_list_kind_from_the_indicator_type(index: WarningListIndex) -> None:
    assert index.match("ipv4", "192.168.1.1") == [SPECIAL]
    assert index.match("cidr", "10.20.0.0/16") == [SPECIAL]
    assert index.match("cidr", "9.0.0.0/7") == []  # overlaps 10/8 but is not inside it
    assert index.match("hostname", "mail.google.com") == [TOP]
    assert index.match("url", "https://login.microsoftonline.com/common") == [TOP]
    assert index.match("url", "http://127.0.0.1:8080/x") == [SPECIAL]
    assert index.match("email-src", "someone@gmail.com") == [TOP]
    assert index.match("sha256", "0" * 64) == []


def test_match_refuses_unknown_types_and_unparseable_addresses(index: WarningListIndex) -> None:
    with pytest.raises(BadValue) as caught:
        index.match("colour", "red")
    assert caught.value.field == "type"
    with pytest.raises(BadValue) as caught:
        index.match("ipv4", "999.1.1.1")
    assert caught.value.field == "value"


def test_disabled_lists_are_left_out_of_the_index() -> None:
    lists = [
        dataclasses.replace(item, enabled=item.name != SPECIAL) for item in load_warning_lists()
    ]
    index = WarningListIndex(lists)
    assert SPECIAL not in index.names
    assert index.match_ips(["10.0.0.1", "8.8.8.8"]) == [[], [RESOLVERS]]


def test_a_malformed_list_file_is_reported_by_name(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text(
        'name = "x"\ndescription = ""\ntype = "cidr"\nentries = ["10.0.0.1/8"]\n'
    )
    with pytest.raises(BadValue) as caught:
        read_warning_lists(tmp_path)
    assert caught.value.value == "bad.toml"


def test_parse_ipv4_column_handles_empty_input() -> None:
    addresses, valid = parse_ipv4_column([])
    assert addresses.shape == valid.shape == (0,)


# --- the vectorised matcher against a naive one ------------------------------------------------

ipv4_ints = st.integers(min_value=0, max_value=2**32 - 1)


@st.composite
def ipv4_networks(draw: st.DrawFn) -> ipaddress.IPv4Network:
    prefix = draw(st.integers(min_value=0, max_value=32))
    return ipaddress.IPv4Network((draw(ipv4_ints), prefix), strict=False)


@settings(max_examples=200, deadline=None)
@given(
    networks=st.lists(ipv4_networks(), max_size=12),
    addresses=st.lists(ipv4_ints, min_size=1, max_size=60),
)
def test_vectorised_ipv4_matching_agrees_with_ipaddress(
    networks: list[ipaddress.IPv4Network], addresses: list[int]
) -> None:
    half = len(networks) // 2
    lists = [
        WarningList("a", "", ListKind.CIDR, tuple(str(net) for net in networks[:half])),
        WarningList("b", "", ListKind.CIDR, tuple(str(net) for net in networks[half:])),
    ]
    # Values near range edges are where an off-by-one would show.
    edges = [int(net.network_address) for net in networks] + [
        int(net.broadcast_address) for net in networks
    ]
    edges += [value + 1 for value in edges if value < 2**32 - 1]
    values = [str(ipaddress.IPv4Address(value)) for value in addresses + edges]
    expected = [
        [
            item.name
            for item in lists
            if any(ipaddress.IPv4Address(v) in ipaddress.IPv4Network(net) for net in item.entries)
        ]
        for v in values
    ]
    assert WarningListIndex(lists).match_ips(values) == expected


@st.composite
def ipv6_networks(draw: st.DrawFn) -> ipaddress.IPv6Network:
    prefix = draw(st.integers(min_value=0, max_value=128))
    return ipaddress.IPv6Network((draw(st.integers(0, 2**128 - 1)), prefix), strict=False)


@settings(max_examples=100, deadline=None)
@given(
    networks=st.lists(ipv6_networks(), max_size=8),
    addresses=st.lists(st.integers(0, 2**128 - 1), max_size=30),
)
def test_vectorised_ipv6_matching_agrees_with_ipaddress(
    networks: list[ipaddress.IPv6Network], addresses: list[int]
) -> None:
    warning_list = WarningList("v6", "", ListKind.CIDR, tuple(str(net) for net in networks))
    edges = [int(net.network_address) for net in networks] + [
        int(net.broadcast_address) for net in networks
    ]
    edges += [value + 1 for value in edges if value < 2**128 - 1]
    values = [str(ipaddress.IPv6Address(value)) for value in addresses + edges]
    expected = [
        ["v6"] if any(ipaddress.IPv6Address(v) in net for net in networks) else [] for v in values
    ]
    assert WarningListIndex([warning_list]).match_ips(values) == expected


def _naive_ipv4(text: str) -> int | None:
    try:
        return int(ipaddress.IPv4Address(text))
    except ValueError:
        return None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="0123456789.", max_size=18),
            st.text(alphabet="0123456789.:af /é", max_size=20),
            ipv4_ints.map(lambda value: str(ipaddress.IPv4Address(value))),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_ipv4_parser_accepts_exactly_what_ipaddress_accepts(values: list[str]) -> None:
    addresses, valid = parse_ipv4_column(values)
    parsed = [
        int(address) if ok else None
        for address, ok in zip(addresses.tolist(), valid.tolist(), strict=True)
    ]
    assert parsed == [_naive_ipv4(value) for value in values]


def test_random_addresses_hit_as_often_as_their_share_of_special_space(
    index: WarningListIndex,
) -> None:
    # Not a timing test: it checks the bulk path on a realistic size returns plausible counts.
    rng = np.random.default_rng(7)
    numbers = rng.integers(0, 2**32, 200_000, dtype=np.uint64).tolist()
    values = [str(ipaddress.IPv4Address(number)) for number in numbers]
    hits = index.match_ips(values)
    special_share = sum(SPECIAL in names for names in hits) / len(values)
    assert 0.13 < special_share < 0.15  # 224/4 + 240/4 + 10/8 + 127/8 + 0/8 + smaller ranges ~ 14%
