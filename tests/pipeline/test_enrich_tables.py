"""Flattened network tables: most specific prefix wins, checked against a brute-force
reference over `ipaddress`, for IPv4 (with the /24 index) and IPv6; saving and loading."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from entente.core.errors import NotFound, ParseError
from entente.pipeline.addresses import parse_addresses
from entente.pipeline.enrich import EnrichmentData, SourceData, SourceFormat
from entente.pipeline.enrich.as_names import AsNames
from entente.pipeline.enrich.data import NETWORKS_FILE, SOURCES_FILE
from entente.pipeline.enrich.intervals import SPLIT
from entente.pipeline.enrich.prefixes import Prefixes, country_text, ranges_to_prefixes
from entente.pipeline.enrich.service import sample_data

COUNTRIES = ["GH", "NG", "KE", "BR", "SG", "FI"]


def packed(code: str) -> int:
    return (ord(code[0]) << 8) | ord(code[1])


@dataclass(frozen=True)
class Entry:
    """One prefix a source states, in ipaddress terms (the reference's view)."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    asn: int
    cc: str


def source_of(entries: list[Entry], name: str = "test") -> SourceData:
    def prefixes(version: int) -> Prefixes:
        chosen = [entry for entry in entries if entry.network.version == version]
        shift = 0 if version == 4 else 64
        return Prefixes(
            start=np.array([int(e.network.network_address) >> shift for e in chosen], np.uint64),
            length=np.array([e.network.prefixlen for e in chosen], np.uint8),
            asn=np.array([e.asn for e in chosen], np.uint32),
            country=np.array([packed(e.cc) if e.cc else 0 for e in chosen], np.uint16),
        )

    return SourceData(name, SourceFormat.PFX2AS, prefixes(4), prefixes(6))


def reference(entries: list[Entry], address: str) -> tuple[int | None, str | None]:
    """Longest-prefix match done the slow, obvious way: for each attribute, the longest
    prefix stating it that holds the address; among equal prefixes the last stated."""
    ip = ipaddress.ip_address(address)
    best: dict[str, tuple[int, int | str]] = {}
    for entry in entries:
        if ip.version != entry.network.version or ip not in entry.network:
            continue
        for key, value in (("asn", entry.asn), ("cc", entry.cc)):
            if value and entry.network.prefixlen >= best.get(key, (-1, 0))[0]:
                best[key] = (entry.network.prefixlen, value)
    asn = best.get("asn")
    cc = best.get("cc")
    return (int(asn[1]) if asn else None, str(cc[1]) if cc else None)


def looked_up(data: EnrichmentData, addresses: list[str]) -> list[tuple[int | None, str | None]]:
    asn, cc = data.networks.lookup(parse_addresses(pl.Series(addresses)))
    return list(zip(asn.to_list(), cc.to_list(), strict=True))


# ---- most specific wins ----------------------------------------------------------------


def test_nested_prefixes_most_specific_wins_each_attribute_separately() -> None:
    entries = [
        Entry(ipaddress.ip_network("10.0.0.0/8"), 64500, "GH"),
        Entry(ipaddress.ip_network("10.1.0.0/16"), 64501, ""),  # says the AS only
        Entry(ipaddress.ip_network("10.1.2.0/24"), 0, "KE"),  # says the country only
        Entry(ipaddress.ip_network("10.1.2.128/25"), 64502, "NG"),
    ]
    data = EnrichmentData.build([source_of(entries)])
    addresses = ["10.9.9.9", "10.1.9.9", "10.1.2.1", "10.1.2.200", "11.0.0.0", "9.255.255.255"]
    assert looked_up(data, addresses) == [
        (64500, "GH"),
        (64501, "GH"),
        (64501, "KE"),
        (64502, "NG"),
        (None, None),
        (None, None),
    ]


def test_identical_prefix_in_a_later_source_wins() -> None:
    first = source_of([Entry(ipaddress.ip_network("192.0.2.0/24"), 64500, "GH")], "first")
    second = source_of([Entry(ipaddress.ip_network("192.0.2.0/24"), 64501, "")], "second")
    data = EnrichmentData.build([first, second])
    # The later source's ASN wins; it says no country, so the earlier one's stays.
    assert looked_up(data, ["192.0.2.1"]) == [(64501, "GH")]


def test_whole_space_and_host_routes_at_both_ends() -> None:
    entries = [
        Entry(ipaddress.ip_network("0.0.0.0/0"), 64500, "GH"),
        Entry(ipaddress.ip_network("0.0.0.0/32"), 64501, ""),
        Entry(ipaddress.ip_network("255.255.255.255/32"), 64502, ""),
        Entry(ipaddress.ip_network("::/0"), 64510, "FI"),
        Entry(ipaddress.ip_network("ffff:ffff:ffff:ffff::/64"), 64511, ""),
    ]
    data = EnrichmentData.build([source_of(entries)])
    assert looked_up(
        data,
        [
            "0.0.0.0",
            "0.0.0.1",
            "255.255.255.254",
            "255.255.255.255",
            "::1",
            "ffff:ffff:ffff:ffff::1",
        ],
    ) == [
        (64501, "GH"),
        (64500, "GH"),
        (64500, "GH"),
        (64502, "GH"),
        (64510, "FI"),
        (64511, "FI"),
    ]


def test_empty_data_finds_nothing() -> None:
    data = EnrichmentData.build([])
    assert looked_up(data, ["192.0.2.1", "2001:db8::1", "not an ip"]) == [(None, None)] * 3


def test_adjacent_equal_intervals_are_merged() -> None:
    entries = [
        Entry(ipaddress.ip_network("192.0.2.0/25"), 64500, "GH"),
        Entry(ipaddress.ip_network("192.0.2.128/25"), 64500, "GH"),
    ]
    table = EnrichmentData.build([source_of(entries)]).networks.v4
    # Before, the /24 and after: three intervals, not four.
    assert len(table) == 3


# ---- property: lookup equals the brute-force reference ----------------------------------


def v4_entries(base: int) -> st.SearchStrategy[Entry]:
    """Prefixes near `base`, so that many of them nest."""

    def entry(offset: int, length: int, asn: int, cc: str) -> Entry:
        number = (base ^ offset) & ~((1 << (32 - length)) - 1) & 0xFFFFFFFF
        return Entry(ipaddress.IPv4Network((number, length)), asn, cc)

    return st.builds(
        entry,
        st.integers(0, 1 << 18),
        st.integers(0, 32),
        st.sampled_from([0, 64500, 64501, 64502, 4200000000]),
        st.sampled_from(["", *COUNTRIES]),
    )


def v6_entries(base: int) -> st.SearchStrategy[Entry]:
    def entry(offset: int, length: int, asn: int, cc: str) -> Entry:
        high = (base ^ offset) & ~((1 << (64 - length)) - 1) & 0xFFFFFFFFFFFFFFFF
        return Entry(ipaddress.IPv6Network((high << 64, length)), asn, cc)

    return st.builds(
        entry,
        st.integers(0, 1 << 40),
        st.integers(0, 64),
        st.sampled_from([0, 64500, 64501]),
        st.sampled_from(["", *COUNTRIES]),
    )


@st.composite
def nested_case(draw: st.DrawFn) -> tuple[list[list[Entry]], list[str]]:
    base4 = draw(st.integers(0, (1 << 32) - 1))
    base6 = draw(st.integers(0, (1 << 64) - 1))
    entry = st.one_of(v4_entries(base4), v6_entries(base6))
    sources = draw(st.lists(st.lists(entry, max_size=12), min_size=1, max_size=3))
    near4 = st.integers(0, 1 << 19).map(lambda offset: str(ipaddress.IPv4Address(base4 ^ offset)))
    near6 = st.integers(0, 1 << 42).map(
        lambda offset: str(ipaddress.IPv6Address(((base6 ^ offset) << 64) | 1))
    )
    anywhere = st.ip_addresses().map(str)
    addresses = draw(st.lists(st.one_of(near4, near6, anywhere), min_size=1, max_size=30))
    # The edges of every prefix, where an off-by-one would show.
    for entry_ in (e for source in sources for e in source):
        addresses += [str(entry_.network.network_address), str(entry_.network.broadcast_address)]
        below = int(entry_.network.network_address) - 1
        if below >= 0:
            addresses.append(
                str(
                    ipaddress.ip_address(below)
                    if entry_.network.version == 4
                    else ipaddress.IPv6Address(below)
                )
            )
    return sources, addresses


@given(nested_case())
def test_lookup_equals_brute_force_reference(case: tuple[list[list[Entry]], list[str]]) -> None:
    sources, addresses = case
    data = EnrichmentData.build([source_of(entries) for entries in sources])
    everything = [entry for entries in sources for entry in entries]
    assert looked_up(data, addresses) == [reference(everything, a) for a in addresses]


@given(st.integers(0, (1 << 32) - 1), st.integers(1, 1 << 20))
def test_ranges_split_like_ipaddress_summarize(first: int, count: int) -> None:
    count = min(count, (1 << 32) - first)
    starts, lengths, owners = ranges_to_prefixes(
        np.array([first], np.uint64), np.array([count], np.uint64)
    )
    got = [ipaddress.IPv4Network((int(s), int(n))) for s, n in zip(starts, lengths, strict=True)]
    low, high = ipaddress.IPv4Address(first), ipaddress.IPv4Address(first + count - 1)
    assert sorted(got) == list(ipaddress.summarize_address_range(low, high))
    assert set(owners.tolist()) == {0}


def random_prefixes(count: int, seed: int) -> Prefixes:
    """Many prefixes of every length, a quarter of them longer than /24 (which split /24s)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(8, 33, count).astype(np.uint8)
    starts = rng.integers(0, 1 << 32, count, dtype=np.uint64)
    starts &= ~((np.uint64(1) << (32 - lengths).astype(np.uint64)) - np.uint64(1))
    return Prefixes(
        start=starts,
        length=lengths,
        asn=rng.integers(1, 400_000, count).astype(np.uint32),
        country=rng.choice([packed(code) for code in COUNTRIES], count).astype(np.uint16),
    )


def test_block_index_agrees_with_search_on_a_large_table() -> None:
    prefixes = random_prefixes(120_000, seed=11)
    source = SourceData("random", SourceFormat.PFX2AS, prefixes, Prefixes.empty())
    networks = EnrichmentData.build([source]).networks
    assert networks.v4_blocks is not None, "a table this large gets the /24 index"
    blocks = networks.v4_blocks.blocks
    assert (blocks == SPLIT).any() and (blocks != SPLIT).any()
    last = prefixes.start | ((np.uint64(1) << (32 - prefixes.length).astype(np.uint64)) - 1)
    rng = np.random.default_rng(12)
    keys = np.concatenate(
        [
            rng.integers(0, 1 << 32, 300_000, dtype=np.uint64),
            prefixes.start,
            last,
            np.maximum(prefixes.start, 1) - 1,
            np.minimum(last, (1 << 32) - 2) + 1,
        ]
    ).astype(np.uint32)
    assert np.array_equal(networks.v4_blocks.find(keys), networks.v4.find(keys))


def test_small_tables_search_without_the_index() -> None:
    assert sample_data().networks.v4_blocks is None


# ---- saved data ------------------------------------------------------------------------


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    data = sample_data()
    data.save(tmp_path / "prepared")
    loaded = EnrichmentData.load(tmp_path / "prepared")
    for family in ("v4", "v6"):
        mine, theirs = getattr(data.networks, family), getattr(loaded.networks, family)
        assert np.array_equal(mine.starts, theirs.starts)
        assert mine.starts.dtype == theirs.starts.dtype
        assert np.array_equal(mine.asn, theirs.asn)
        assert np.array_equal(mine.country, theirs.country)
    assert loaded.as_names.frame().equals(data.as_names.frame())
    assert loaded.sources == data.sources
    addresses = ["8.8.8.8", "192.0.2.77", "2001:db8:3::1", "10.0.0.1"]
    assert looked_up(loaded, addresses) == looked_up(data, addresses)
    assert not list((tmp_path / "prepared").glob(".*tmp"))


def test_loading_without_data_says_to_update(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="entente enrich update"):
        EnrichmentData.load(tmp_path)


def test_loading_damaged_or_foreign_data_is_a_parse_error(tmp_path: Path) -> None:
    sample_data().save(tmp_path)
    (tmp_path / SOURCES_FILE).write_text('{"layout_version": 99}')
    with pytest.raises(ParseError, match="another layout"):
        EnrichmentData.load(tmp_path)
    sample_data().save(tmp_path)
    (tmp_path / NETWORKS_FILE).write_bytes(b"not a zip")
    with pytest.raises(ParseError, match="damaged enrichment data"):
        EnrichmentData.load(tmp_path)


# ---- AS names --------------------------------------------------------------------------


def test_as_names_lookup_small_large_unknown_and_null() -> None:
    names = AsNames.from_frame(
        pl.DataFrame(
            {"asn": [15169, 4200000000, 64500, 15169], "name": ["OLD", "PRIVATE", "", "GOOGLE"]}
        )
    )
    asns = pl.Series([15169, 4200000000, 4200000001, 64500, None, 0, 7], dtype=pl.Int64)
    assert names.name_of(asns).to_list() == ["GOOGLE", "PRIVATE", None, None, None, None, None]


def test_as_names_merge_later_part_wins() -> None:
    first = AsNames.from_frame(pl.DataFrame({"asn": [1, 2], "name": ["ONE", "TWO"]}))
    second = AsNames.from_frame(pl.DataFrame({"asn": [2, 3], "name": ["DEUX", "TROIS"]}))
    merged = AsNames.merge([first, second])
    assert merged.name_of(pl.Series([1, 2, 3])).to_list() == ["ONE", "DEUX", "TROIS"]


def test_country_codes_round_trip() -> None:
    assert [country_text(packed(code)) for code in COUNTRIES] == COUNTRIES
