"""Routing rows to the organisation owning the most specific constituency entry."""

from __future__ import annotations

import ipaddress
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from entente.core.errors import BadValue, UnknownField
from entente.pipeline.addresses import format_v4
from entente.pipeline.batches import ORGANISATION, ROUTED_BY
from entente.pipeline.routing import (
    ConstituencyIndex,
    ConstituencyKind,
    SharedClaim,
    route,
    unrouted_by_country,
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Claim = tuple[int, Network]


def routed(batch: pl.DataFrame, entries: list[tuple[int, str, str]]) -> list[Any]:
    return route(batch, ConstituencyIndex.build(entries))[ORGANISATION].to_list()


def most_specific_owner(claims: list[Claim], address: Address) -> int | None:
    """Brute force: the longest network containing the address, the lowest id on a tie."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    containing = [(network.prefixlen, -org) for org, network in claims if address in network]
    return -max(containing)[1] if containing else None


@st.composite
def nested_claims(draw: st.DrawFn, bits: int) -> tuple[list[Claim], list[Address]]:
    """Networks grown around a few seed addresses, so they nest, overlap, repeat (ties) and
    sit side by side; addresses inside, at the edges of and around them."""
    build = ipaddress.IPv4Network if bits == 32 else ipaddress.IPv6Network
    seeds = draw(st.lists(st.integers(0, 2**bits - 1), min_size=1, max_size=3))
    claims: list[Claim] = []
    for _ in range(draw(st.integers(1, 12))):
        if claims and draw(st.integers(0, 4)) == 0:
            claims.append((draw(st.integers(1, 6)), draw(st.sampled_from(claims))[1]))
            continue
        flip = draw(st.integers(0, bits - 1))
        address = draw(st.sampled_from(seeds)) ^ (draw(st.integers(0, 3)) << flip)
        length = draw(st.integers(0, bits))
        mask = ((1 << length) - 1) << (bits - length)
        claims.append((draw(st.integers(1, 6)), build((address & mask, length))))
    edges = [
        int(network.network_address) + offset
        for _, network in claims
        for offset in (-1, 0, network.num_addresses - 1, network.num_addresses)
    ]
    near = st.builds(
        lambda seed, bits_: seed ^ bits_, st.sampled_from(seeds), st.integers(0, 2**12)
    )
    numbers = draw(
        st.lists(st.one_of(st.sampled_from(edges), near, st.integers(0, 2**bits - 1)), max_size=20)
    )
    addresses = [ipaddress.ip_address(number % 2**bits) for number in numbers]
    return claims, [a if bits == 32 else ipaddress.IPv6Address(int(a)) for a in addresses]


def check_against_brute_force(claims: list[Claim], addresses: list[Address]) -> None:
    entries = [(org, "prefix", str(network)) for org, network in claims]
    batch = pl.DataFrame(
        {"source.ip": [str(address) for address in addresses]}, schema={"source.ip": pl.String}
    )
    expected = [most_specific_owner(claims, address) for address in addresses]
    assert routed(batch, entries) == expected


@given(nested_claims(bits=32))
def test_ipv4_row_goes_to_the_longest_containing_prefix(
    drawn: tuple[list[Claim], list[Address]],
) -> None:
    check_against_brute_force(*drawn)


@given(nested_claims(bits=128))
def test_ipv6_row_goes_to_the_longest_containing_prefix(
    drawn: tuple[list[Claim], list[Address]],
) -> None:
    check_against_brute_force(*drawn)


def test_many_nested_ipv4_prefixes_match_a_per_length_reference() -> None:
    """Thousands of prefixes /8-/32 around shared seeds (ranges start inside /20 blocks and
    cover whole ones), checked against a per-length dictionary lookup."""
    rng = np.random.default_rng(5)
    seeds = rng.integers(0, 2**32, 50, dtype=np.uint64)
    bases = seeds[rng.integers(0, 50, 5000)] ^ rng.integers(0, 2**20, 5000, dtype=np.uint64)
    lengths = rng.integers(8, 33, 5000)
    networks = bases >> (32 - lengths).astype(np.uint64) << (32 - lengths).astype(np.uint64)
    orgs = rng.integers(1, 300, 5000)
    owner: dict[tuple[int, int], int] = {}
    for org, network, length in zip(
        orgs.tolist(), networks.tolist(), lengths.tolist(), strict=True
    ):
        owner[length, network] = min(org, owner.get((length, network), org))
    entries = [
        (org, "prefix", f"{ipaddress.IPv4Address(net)}/{length}")
        for (length, net), org in owner.items()
    ]
    near = seeds[rng.integers(0, 50, 30_000)] ^ rng.integers(0, 2**22, 30_000, dtype=np.uint64)
    addresses = np.concatenate([near, rng.integers(0, 2**32, 30_000, dtype=np.uint64)])

    def reference(address: int) -> int | None:
        for length in range(32, -1, -1):
            found = owner.get((length, address >> (32 - length) << (32 - length)))
            if found is not None:
                return found
        return None

    batch = pl.DataFrame({"source.ip": format_v4(addresses.astype(np.uint32))})
    assert routed(batch, entries) == [reference(address) for address in addresses.tolist()]


@pytest.mark.parametrize(
    ("entries", "rows", "expected"),
    [
        (
            [
                (1, "prefix", "0.0.0.0/0"),
                (2, "prefix", "255.255.255.255/32"),
                (3, "prefix", "0.0.0.0/32"),
            ],
            ["0.0.0.0", "0.0.0.1", "255.255.255.254", "255.255.255.255"],
            [3, 1, 1, 2],
        ),
        (
            [
                (1, "prefix", "::/0"),
                (2, "prefix", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"),
                (3, "prefix", "::/128"),
            ],
            [
                "::",
                "::1",
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            ],
            [3, 1, 1, 2],
        ),
        (
            [
                (1, "prefix", "2001:db8::/32"),
                (2, "prefix", "2001:db8:0:0:8000::/65"),
                (3, "prefix", "2001:db8::ff/128"),
            ],
            ["2001:db8::1", "2001:db8::8000:0:0:1", "2001:db8::ff", "2001:db8:1::", "2001:db9::"],
            [1, 2, 3, 1, None],
        ),
    ],
    ids=["ipv4-edges-of-space", "ipv6-edges-of-space", "ipv6-longer-than-64"],
)
def test_edges_of_the_address_space(
    entries: list[tuple[int, str, str]], rows: list[str], expected: list[int | None]
) -> None:
    assert routed(pl.DataFrame({"source.ip": rows}), entries) == expected


def test_ipv4_mapped_ipv6_address_goes_to_the_ipv4_owner() -> None:
    entries = [(1, "prefix", "192.0.2.0/24"), (2, "prefix", "::/0")]
    batch = pl.DataFrame({"source.ip": ["::ffff:192.0.2.5", "::ffff:198.51.100.1", "2001:db8::1"]})
    assert routed(batch, entries) == [1, None, 2]


def test_same_value_declared_twice_goes_to_the_lowest_id_and_is_listed() -> None:
    index = ConstituencyIndex.build(
        [
            (7, "prefix", "192.0.2.0/24"),
            (3, "prefix", "192.0.2.0/24"),
            (5, "prefix", "192.0.2.0/24"),
            (9, "domain", "example.org"),
            (9, "domain", "example.org"),  # the same organisation twice is no conflict
            (8, "country", "GH"),
            (4, "country", "GH"),
        ]
    )
    batch = pl.DataFrame({"source.ip": ["192.0.2.9", None], "source.geolocation.cc": [None, "GH"]})
    assert route(batch, index)[ORGANISATION].to_list() == [3, 4]
    assert index.conflicts() == [
        SharedClaim(ConstituencyKind.COUNTRY, "GH", (4, 8)),
        SharedClaim(ConstituencyKind.PREFIX, "192.0.2.0/24", (3, 5, 7)),
    ]


def test_nested_prefixes_are_not_conflicts() -> None:
    index = ConstituencyIndex.build([(1, "prefix", "10.0.0.0/8"), (2, "prefix", "10.1.0.0/16")])
    assert index.conflicts() == []


PRECEDENCE_INDEX = [
    (1, "prefix", "198.51.100.0/24"),
    (2, "asn", "64496"),
    (3, "domain", "example.org"),
    (4, "country", "GH"),
]


@pytest.mark.parametrize(
    ("row", "owner", "routed_by"),
    [
        (("198.51.100.7", 64496, "www.example.org", "GH"), 1, "prefix"),
        (("203.0.113.1", 64496, "www.example.org", "GH"), 2, "asn"),
        (("203.0.113.1", 64511, "www.example.org", "GH"), 3, "domain"),
        ((None, None, "www.example.net", "GH"), 4, "country"),
        (("not an address", None, None, "GH"), 4, "country"),
        (("203.0.113.1", 64511, "www.example.net", "FR"), None, None),
        ((None, None, None, None), None, None),
    ],
)
def test_precedence_prefix_then_asn_then_domain_then_country(
    row: tuple[Any, ...], owner: int | None, routed_by: str | None
) -> None:
    columns = ["source.ip", "source.asn", "source.fqdn", "source.geolocation.cc"]
    batch = pl.DataFrame(
        [row],
        schema=dict(zip(columns, [pl.String, pl.Int64, pl.String, pl.String], strict=True)),
        orient="row",
    )
    out = route(batch, ConstituencyIndex.build(PRECEDENCE_INDEX))
    assert out.row(0, named=True)[ORGANISATION] == owner
    assert out.row(0, named=True)[ROUTED_BY] == routed_by


def test_domain_suffix_stops_at_label_boundaries_and_longest_wins() -> None:
    entries = [(1, "domain", "example.org"), (2, "domain", "b.example.org"), (3, "domain", "gh")]
    names = [
        "example.org",
        "a.example.org",
        "b.example.org",
        "a.b.example.org",
        "badexample.org",
        "example.org.evil.net",
        "example.orgx",
        "org",
        "gov.gh",
        "a.example.org",  # repeated names get the same answer
        None,
    ]
    assert routed(pl.DataFrame({"source.fqdn": names}), entries) == [
        1,
        1,
        2,
        2,
        None,
        None,
        None,
        None,
        3,
        1,
        None,
    ]


def test_idn_routes_through_its_canonical_idna_form() -> None:
    entries = [(1, "domain", "xn--bcher-kva.example")]
    names = ["shop.xn--bcher-kva.example", "xn--bcher-kva.example", "bcher-kva.example"]
    assert routed(pl.DataFrame({"source.fqdn": names}), entries) == [1, 1, None]


def test_asn_column_as_text_routes_and_junk_falls_through() -> None:
    entries = [(2, "asn", "64496"), (4, "country", "GH")]
    batch = pl.DataFrame(
        {"source.asn": ["64496", "AS64496", None], "source.geolocation.cc": ["FR", "GH", "GH"]}
    )
    out = route(batch, ConstituencyIndex.build(entries))
    assert out[ORGANISATION].to_list() == [2, 4, 4]
    assert out[ROUTED_BY].to_list() == ["asn", "country", "country"]


def test_empty_index_routes_nothing_and_keeps_rows() -> None:
    batch = pl.DataFrame(
        {
            "source.ip": ["192.0.2.1", "2001:db8::1"],
            "source.asn": [64496, None],
            "feed.name": ["a", "b"],
        }
    )
    index = ConstituencyIndex.build([])
    out = route(batch, index)
    assert out.schema[ORGANISATION] == pl.Int64
    assert out.schema[ROUTED_BY] == pl.String
    assert out[ORGANISATION].null_count() == 2
    assert out[ROUTED_BY].null_count() == 2
    assert out.drop(ORGANISATION, ROUTED_BY).equals(batch)
    assert index.conflicts() == []


def test_missing_columns_are_skipped_and_other_columns_kept() -> None:
    index = ConstituencyIndex.build(PRECEDENCE_INDEX)
    only_country = pl.DataFrame({"source.geolocation.cc": ["GH", "FR"], "_line": [1, 2]})
    out = route(only_country, index)
    assert out.select("_line", ORGANISATION, ROUTED_BY).rows() == [
        (1, 4, "country"),
        (2, None, None),
    ]
    nothing = route(pl.DataFrame({"feed.name": ["x"]}), index)
    assert nothing.row(0) == ("x", None, None)


def test_empty_batch_gets_typed_columns() -> None:
    out = route(
        pl.DataFrame(schema={"source.ip": pl.String}), ConstituencyIndex.build(PRECEDENCE_INDEX)
    )
    assert out.height == 0
    assert out.schema[ORGANISATION] == pl.Int64
    assert out.schema[ROUTED_BY] == pl.String


def test_routing_again_replaces_the_previous_answer() -> None:
    batch = pl.DataFrame({"source.ip": ["192.0.2.1"]})
    first = route(batch, ConstituencyIndex.build([(1, "prefix", "192.0.2.0/24")]))
    again = route(first, ConstituencyIndex.build([]))
    assert again.columns == first.columns
    assert again.row(0) == ("192.0.2.1", None, None)


def test_unrouted_rows_are_counted_per_country() -> None:
    batch = pl.DataFrame(
        {
            "source.ip": [
                "192.0.2.1",
                "203.0.113.1",
                "203.0.113.2",
                "203.0.113.3",
                "203.0.113.4",
                None,
            ],
            "source.geolocation.cc": ["FR", "FR", "FR", "KE", None, "GH"],
        }
    )
    out = route(
        batch, ConstituencyIndex.build([(1, "prefix", "192.0.2.0/24"), (4, "country", "GH")])
    )
    assert unrouted_by_country(out).rows() == [("FR", 2), ("KE", 1), (None, 1)]
    assert unrouted_by_country(out).schema == pl.Schema({"cc": pl.String, "rows": pl.Int64})


def test_unrouted_count_without_country_column_is_one_null_group() -> None:
    out = route(
        pl.DataFrame({"source.ip": ["203.0.113.1", "203.0.113.2"]}), ConstituencyIndex.build([])
    )
    assert unrouted_by_country(out).rows() == [(None, 2)]


def test_unrouted_count_of_a_batch_not_routed_yet_is_refused() -> None:
    with pytest.raises(UnknownField, match="route it first") as caught:
        unrouted_by_country(pl.DataFrame({"source.geolocation.cc": ["GH"]}))
    assert caught.value.field == ORGANISATION


@pytest.mark.parametrize(
    ("kind", "value", "hint"),
    [
        ("prefix", "192.0.2.1/24", "write 192.0.2.0/24"),
        ("prefix", "192.0.2.0", "write 192.0.2.0/32 (with length)"),
        ("prefix", "192.0.2.0/33", "not an IP network"),
        ("prefix", "300.0.2.0/24", "not an IP network"),
        ("prefix", "010.0.0.0/8", "not an IP network"),
        ("prefix", "10.0.0.0/08", "write 10.0.0.0/8"),
        ("prefix", " 10.0.0.0/8", "not an IP network"),
        ("prefix", "2001:db8::1/32", "write 2001:db8::/32"),
        ("prefix", "2001:0db8::/32", "write 2001:db8::/32"),
        ("prefix", "2001:DB8::/32", "write 2001:db8::/32"),
        ("prefix", "2001:db8::/129", "not an IP network"),
        ("asn", "AS64496", "digits only"),
        ("asn", "0", "digits only"),
        ("asn", "4294967296", "digits only"),
        ("asn", "-5", "digits only"),
        ("domain", "Example.org", "lower case"),
        ("domain", "example.org.", "trailing dot"),
        ("domain", "bücher.example", "IDNA"),
        ("domain", "bad..example", "not a canonical domain"),
        ("domain", "-bad.example", "not a canonical domain"),
        ("domain", "", "not a canonical domain"),
        ("country", "gh", "two-letter upper-case"),
        ("country", "GHA", "two-letter upper-case"),
    ],
)
def test_invalid_entry_is_refused_naming_it(kind: str, value: str, hint: str) -> None:
    with pytest.raises(BadValue) as caught:
        ConstituencyIndex.build([(1, "asn", "64496"), (42, kind, value)])
    message = caught.value.message
    assert message.startswith(f"constituency entry 2 (organisation 42, {kind} {value!r}):")
    assert hint in message
    assert caught.value.field == kind
    assert caught.value.value == value


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ((1, "network", "192.0.2.0/24"), "kind"),
        (("1", "prefix", "192.0.2.0/24"), "organisation_id"),
        ((True, "prefix", "192.0.2.0/24"), "organisation_id"),
        ((1, "asn", 64496), "asn"),
        ((1, "prefix"), "organisation_id"),
    ],
)
def test_malformed_entry_is_refused(entry: Any, field: str) -> None:
    with pytest.raises(BadValue, match="constituency entry 1 ") as caught:
        ConstituencyIndex.build([entry])
    assert caught.value.field == field


def test_first_invalid_entry_is_the_one_reported() -> None:
    entries = [(1, "domain", "example.org"), (2, "country", "gh"), (3, "prefix", "192.0.2.1/24")]
    with pytest.raises(BadValue, match="constituency entry 2 "):
        ConstituencyIndex.build(entries)
