"""Canonical forms of constituency values and PGP fingerprints, and RIPE range splitting.

Pure functions: no database. Property tests check the prefix encoding and that an inetnum
range becomes prefixes covering exactly that range.
"""

from __future__ import annotations

import ipaddress
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from entente.core.errors import BadValue
from entente.members.choices import ConstituencyKind
from entente.members.constituency_imports import _inetnum_prefixes
from entente.members.constituency_values import canonical_fingerprint, canonical_value

PREFIX, ASN, DOMAIN, COUNTRY = (
    ConstituencyKind.PREFIX,
    ConstituencyKind.ASN,
    ConstituencyKind.DOMAIN,
    ConstituencyKind.COUNTRY,
)


@pytest.mark.parametrize(
    ("kind", "raw", "canonical"),
    [
        (PREFIX, " 192.0.2.0/24 ", "192.0.2.0/24"),
        (PREFIX, "2001:DB8:0::/32", "2001:db8::/32"),
        (PREFIX, "198.51.100.7", "198.51.100.7/32"),
        (ASN, "AS64496", "64496"),
        (ASN, "as 64496", "64496"),
        (ASN, "64496", "64496"),
        (ASN, "AS1.10", "65546"),
        (ASN, "4200000000", "4200000000"),
        (DOMAIN, "Example.ORG.", "example.org"),
        (DOMAIN, "*.example.org", "example.org"),
        (DOMAIN, "bücher.example", "xn--bcher-kva.example"),
        (COUNTRY, "gh", "GH"),
    ],
)
def test_values_are_stored_in_one_spelling(
    kind: ConstituencyKind, raw: str, canonical: str
) -> None:
    assert canonical_value(kind, raw).value == canonical


@pytest.mark.parametrize(
    ("kind", "raw", "message"),
    [
        (PREFIX, "192.0.2.1/24", "host bits set; the prefix is written 192.0.2.0/24"),
        (PREFIX, "2001:db8::1/32", "the prefix is written 2001:db8::/32"),
        (PREFIX, "192.0.2.0/33", "not an IP prefix"),
        (PREFIX, "example.org", "not an IP prefix"),
        (PREFIX, "10.20.0.0/16", "private (RFC 1918)"),
        (PREFIX, "0.0.0.0/0", "overlaps"),
        (PREFIX, "::/0", "overlaps"),
        (PREFIX, "::ffff:192.0.2.0/120", "IPv4-mapped"),
        (PREFIX, "fe80::1%eth0/128", "zone index"),
        (ASN, "AS0", "between 1 and"),
        (ASN, "4294967296", "between 1 and"),
        (ASN, "AS23456", "AS_TRANS"),
        (ASN, "ASX", "an AS number is written"),
        (DOMAIN, "https://example.org/", "no scheme, path"),
        (DOMAIN, "abuse@example.org", "no scheme, path or e-mail"),
        (DOMAIN, "192.0.2.1", "looks like an IP address"),
        (DOMAIN, "localhost", "at least two labels"),
        (DOMAIN, "exa mple.org", "label"),
        (COUNTRY, "GHA", "alpha-2"),
        (PREFIX, "   ", "give the ip prefix"),
    ],
)
def test_bad_values_are_refused_naming_the_field(
    kind: ConstituencyKind, raw: str, message: str
) -> None:
    with pytest.raises(BadValue) as caught:
        canonical_value(kind, raw)
    assert caught.value.field == "value"
    assert message in caught.value.message


def test_sort_keys_list_kinds_in_routing_order_and_prefixes_by_address() -> None:
    values = [
        canonical_value(COUNTRY, "GH"),
        canonical_value(DOMAIN, "www.example.org"),
        canonical_value(DOMAIN, "example.org"),
        canonical_value(ASN, "AS9"),
        canonical_value(ASN, "AS10"),
        canonical_value(PREFIX, "2001:db8::/32"),
        canonical_value(PREFIX, "198.51.100.0/24"),
        canonical_value(PREFIX, "9.0.0.0/8"),
    ]
    ordered = [v.value for v in sorted(values, key=lambda v: v.sort_key)]
    assert ordered == [
        "9.0.0.0/8",
        "198.51.100.0/24",
        "2001:db8::/32",
        "9",
        "10",
        "example.org",
        "www.example.org",
        "GH",
    ]


@given(st.ip_addresses(v=4), st.integers(min_value=8, max_value=32))
def test_prefix_ranges_bracket_exactly_the_prefix(
    address: ipaddress.IPv4Address, length: int
) -> None:
    network = ipaddress.ip_network(f"{address}/{length}", strict=False)
    try:
        value = canonical_value(PREFIX, str(network))
    except BadValue:
        return  # special-purpose space, refused on purpose
    assert value.value == str(network)
    assert value.net_low is not None and value.net_high is not None
    mapped = 0xFFFF << 32
    assert int(value.net_low, 16) == int(network.network_address) | mapped
    assert int(value.net_high, 16) == int(network.broadcast_address) | mapped


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**20))
def test_an_inetnum_range_becomes_prefixes_covering_exactly_that_range(
    start: int, width: int
) -> None:
    end = min(start + width, 2**32 - 1)
    first, last = ipaddress.IPv4Address(start), ipaddress.IPv4Address(end)
    networks = [ipaddress.IPv4Network(p) for p in _inetnum_prefixes(f"{first} - {last}")]
    assert int(networks[0].network_address) == start
    assert int(networks[-1].broadcast_address) == end
    for before, after in itertools.pairwise(networks):
        assert int(before.broadcast_address) + 1 == int(after.network_address)


def test_inetnum_ranges_that_are_not_ranges_are_refused() -> None:
    with pytest.raises(BadValue, match="first address is after its last"):
        _inetnum_prefixes("192.0.2.255 - 192.0.2.0")
    with pytest.raises(BadValue, match="range of IPv4 addresses"):
        _inetnum_prefixes("192.0.2.0 - 2001:db8::")
    assert _inetnum_prefixes("192.0.2.0 - 192.0.3.127") == ["192.0.2.0/24", "192.0.3.0/25"]


def test_fingerprints_are_normalised_and_short_key_ids_refused() -> None:
    spaced = "0123 4567 89ab CDEF 0123  4567 89AB cdef 0123 4567"
    assert canonical_fingerprint(spaced) == "0123456789ABCDEF0123456789ABCDEF01234567"
    assert canonical_fingerprint("0x" + "a" * 40) == "A" * 40
    with pytest.raises(ValueError, match="short key ids can be forged"):
        canonical_fingerprint("89AB CDEF 0123 4567")
    with pytest.raises(ValueError, match="40 hexadecimal digits"):
        canonical_fingerprint("G" * 40)
