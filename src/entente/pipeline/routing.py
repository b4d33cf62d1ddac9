"""Route each pipeline row to the organisation whose constituency it concerns.

An organisation declares its constituency as IP prefixes, ASNs, domains and countries. A row
goes to the *most specific* owner: the longest prefix containing `source.ip`, else the owner
of `source.asn`, else the longest declared domain suffix of `source.fqdn`, else the owner of
`source.geolocation.cc`. Two organisations declaring the very same value is a tie; the lowest
organisation id wins, so a run is reproducible, and `ConstituencyIndex.conflicts` lists such
values for operators. See docs/routing.md.

Why the prefixes are flattened when the index is built: searching each prefix length in
turn costs one `searchsorted` over every row per length (25 lengths for /8-/32, about 2.5 s
for 2 million rows). Nested prefixes instead cut the address space into ranges, each with a
single most specific owner; the build does the per-length longest-prefix match once, over the
range boundaries (at most two per prefix), and routing a row is then one `searchsorted` into
the boundaries. For IPv4 a table over the 2^20 /20 blocks answers every row whose block holds
no boundary with a gather, so `searchsorted` only runs for the rest.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import polars as pl

from entente.core.errors import BadValue, UnknownField
from entente.pipeline.addresses import AddressColumn, parse_addresses
from entente.pipeline.batches import ORGANISATION, ROUTED_BY

SOURCE_IP = "source.ip"
SOURCE_ASN = "source.asn"
SOURCE_FQDN = "source.fqdn"
SOURCE_CC = "source.geolocation.cc"

Owners = npt.NDArray[np.int64]
"""Organisation ids aligned with the rows looked up; `_NOBODY` where none owns the row."""

_NOBODY = -1
_V4_BLOCK_BITS = 20
_V4_BLOCK_SHIFT = 32 - _V4_BLOCK_BITS
_ALL_64 = (1 << 64) - 1
_MAX_ASN = (1 << 32) - 1
_ASN = r"^[1-9][0-9]{0,9}$"
_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
_DOMAIN = rf"^{_LABEL}(\.{_LABEL})*$"
_COUNTRY = r"^[A-Z]{2}$"
_V4_PREFIX = r"^[0-9.]+/(0|[1-9][0-9]?)$"
_ENTRY_SCHEMA = {"entry": pl.Int64, ORGANISATION: pl.Int64, "kind": pl.String, "value": pl.String}


class ConstituencyKind(StrEnum):
    """What a constituency entry declares; members are in routing precedence order."""

    PREFIX = "prefix"
    ASN = "asn"
    DOMAIN = "domain"
    COUNTRY = "country"


@dataclass(frozen=True, slots=True)
class SharedClaim:
    """One value declared by several organisations; rows go to the lowest id among them."""

    kind: ConstituencyKind
    value: str
    organisation_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _V4Ranges:
    """IPv4 space cut into ranges with one owner each: range i is [starts[i], starts[i+1])."""

    starts: npt.NDArray[np.uint32]
    owners: Owners
    blocks: npt.NDArray[np.int32]
    """Per /20 block: the range covering all of it, or -1 when a range starts inside it."""


@dataclass(frozen=True, slots=True)
class _V6Ranges:
    """IPv6 ranges like `_V4Ranges`; starts as (hi, lo) halves and as 16-byte big-endian keys,
    which sort like the 128-bit numbers and serve the rare rows whose hi half alone is not
    enough to place them."""

    hi: npt.NDArray[np.uint64]
    lo: npt.NDArray[np.uint64]
    keys: npt.NDArray[np.bytes_]
    owners: Owners


@dataclass(frozen=True, slots=True)
class ConstituencyIndex:
    """Every organisation's constituency, arranged for vectorised routing; see `build`."""

    v4: _V4Ranges
    v6: _V6Ranges
    asns: npt.NDArray[np.int64]
    asn_owners: Owners
    domains: pl.DataFrame
    """`suffix` (a declared domain) and its owner."""
    countries: pl.DataFrame
    """`cc` and its owner."""
    domain_depth: int
    """The most labels of a declared domain: how many suffixes of a name are looked up."""
    shared: tuple[SharedClaim, ...]
    kinds: frozenset[ConstituencyKind]

    @classmethod
    def build(cls, entries: Iterable[tuple[int, str, str]]) -> ConstituencyIndex:
        """Index (organisation_id, kind, value) entries with canonical values; the first
        invalid entry raises `BadValue` naming it and saying what is wrong."""
        frame = _read_entries(entries)
        prefixes = _with_prefix_numbers(frame.filter(pl.col("kind") == ConstituencyKind.PREFIX))
        _refuse_first(
            pl.concat(
                [
                    prefixes.filter(~pl.col("canonical")).select(list(_ENTRY_SCHEMA)),
                    frame.filter(~_valid_value().fill_null(value=False)),
                ]
            )
        )
        # A value declared twice is one claim; its owner is the lowest id (deterministic), and
        # `conflicts` reports the other ids.
        claims = frame.group_by("kind", "value").agg(
            pl.col(ORGANISATION).min(), pl.col(ORGANISATION).unique().sort().alias("ids")
        )
        owned = prefixes.sort(ORGANISATION).unique("value", keep="first")
        v4, v6 = owned.filter(~pl.col("v6")), owned.filter(pl.col("v6"))
        asns = claims.filter(pl.col("kind") == ConstituencyKind.ASN)
        asn_numbers = asns["value"].cast(pl.Int64).to_numpy()
        order = np.argsort(asn_numbers)
        return cls(
            v4=_v4_ranges(
                v4["v4"].to_numpy(), v4["length"].to_numpy(), v4[ORGANISATION].to_numpy()
            ),
            v6=_v6_ranges(
                _V6Networks(v6["hi"].to_numpy(), v6["lo"].to_numpy(), v6["length"].to_numpy()),
                v6[ORGANISATION].to_numpy(),
            ),
            asns=asn_numbers[order],
            asn_owners=asns[ORGANISATION].to_numpy()[order],
            domains=_claims_of(claims, ConstituencyKind.DOMAIN, "suffix"),
            countries=_claims_of(claims, ConstituencyKind.COUNTRY, "cc"),
            domain_depth=_deepest(claims),
            shared=_shared_claims(claims),
            kinds=frozenset(ConstituencyKind(kind) for kind in frame["kind"].unique()),
        )

    def conflicts(self) -> list[SharedClaim]:
        """Values declared by more than one organisation, for operators to settle."""
        return list(self.shared)

    def declares(self, kind: ConstituencyKind) -> bool:
        """Whether any entry is of this kind (routing skips the kinds nobody declared)."""
        return kind in self.kinds


def route(
    batch: pl.DataFrame, index: ConstituencyIndex, parsed: AddressColumn | None = None
) -> pl.DataFrame:
    """`batch` plus `_organisation_id` (Int64) and `_routed_by` (String), both null for rows
    no constituency covers; columns the batch lacks are skipped.

    `parsed` may hand over the batch's `source.ip` already parsed (`parse_addresses`): the
    parse costs more than the lookup, and the pipeline parses each batch's addresses once.
    """
    owners = np.full(batch.height, _NOBODY, dtype=np.int64)
    routed_by = np.zeros(batch.height, dtype=np.uint8)
    pending = np.arange(batch.height)
    for code, (kind, column, lookup) in enumerate(_STEPS, start=1):
        if column not in batch.columns or not index.declares(kind) or not pending.size:
            continue
        values = batch.get_column(column)
        if kind is ConstituencyKind.PREFIX and parsed is not None:
            # Prefixes are the first step, so every row is still pending here.
            found = _route_addresses(parsed, index)
        else:
            found = lookup(
                values if pending.size == batch.height else values.gather(pending), index
            )
        hit = found != _NOBODY
        owners[pending[hit]] = found[hit]
        routed_by[pending[hit]] = code
        pending = pending[~hit]
    owner_column = pl.Series(ORGANISATION, owners, dtype=pl.Int64)
    labels = [None, *(kind.value for kind, _, _ in _STEPS)]
    how = pl.Series(ROUTED_BY, labels, dtype=pl.String).gather(routed_by)
    return batch.with_columns(
        pl.when(owner_column != _NOBODY).then(owner_column).alias(ORGANISATION), how
    )


def unrouted_by_country(batch: pl.DataFrame) -> pl.DataFrame:
    """Rows no constituency covers, counted per `source.geolocation.cc` (`cc`, `rows`; null cc
    last): unrouted rows are kept, and this says which countries have no partner yet."""
    if ORGANISATION not in batch.columns:
        raise UnknownField(
            f"the batch has no {ORGANISATION} column: route it first", field=ORGANISATION
        )
    cc = pl.col(SOURCE_CC) if SOURCE_CC in batch.columns else pl.lit(None, dtype=pl.String)
    return (
        batch.lazy()
        .filter(pl.col(ORGANISATION).is_null())
        .group_by(cc.cast(pl.String).alias("cc"))
        .agg(pl.len().cast(pl.Int64).alias("rows"))
        .sort(["rows", "cc"], descending=[True, False], nulls_last=True)
        .collect()
    )


# --- routing steps: each maps a column's values to owners -----------------------------------


def _route_prefixes(values: pl.Series, index: ConstituencyIndex) -> Owners:
    return _route_addresses(parse_addresses(values), index)


def _route_addresses(addresses: AddressColumn, index: ConstituencyIndex) -> Owners:
    # Why: ::ffff:a.b.c.d is the IPv4 host a.b.c.d (RFC 4291 2.5.5.2), so IPv4 prefixes own it.
    mapped = addresses.is_v6 & (addresses.hi == 0) & ((addresses.lo >> np.uint64(32)) == 0xFFFF)
    v4 = addresses.is_v4 | mapped
    v4_values = np.where(mapped, addresses.lo & np.uint64(0xFFFFFFFF), addresses.v4)
    owners = np.full(len(addresses.version), _NOBODY, dtype=np.int64)
    owners[v4] = _v4_owners(v4_values[v4].astype(np.uint32), index.v4)
    v6 = addresses.is_v6 & ~mapped
    owners[v6] = _v6_owners(addresses.hi[v6], addresses.lo[v6], index.v6)
    return owners


def _route_asns(values: pl.Series, index: ConstituencyIndex) -> Owners:
    asns = values.cast(pl.Int64, strict=False).fill_null(_NOBODY).to_numpy()
    return _exact_owners(index.asns, index.asn_owners, asns)


def _route_domains(values: pl.Series, index: ConstituencyIndex) -> Owners:
    # Why distinct names: feeds repeat the same names many times, and each name needs a
    # candidate suffix per label depth; the best owner per name is joined back to the rows.
    rows = pl.DataFrame({"name": values.cast(pl.String)}).with_row_index("row")
    names = rows.select(pl.col("name").drop_nulls().unique()).with_columns(
        pl.col("name").str.split(".").alias("labels")
    )
    candidates = pl.concat(
        names.filter(pl.col("labels").list.len() >= depth).select(
            "name", pl.col("labels").list.slice(-depth).list.join(".").alias("suffix")
        )
        for depth in range(1, index.domain_depth + 1)
    )
    best = (
        candidates.join(index.domains, on="suffix")
        .group_by("name")
        .agg(pl.col(ORGANISATION).sort_by("depth").last())
    )
    return _scatter(rows.join(best, on="name"), len(values))


def _route_countries(values: pl.Series, index: ConstituencyIndex) -> Owners:
    rows = pl.DataFrame({"cc": values.cast(pl.String)}).with_row_index("row")
    return _scatter(rows.join(index.countries, on="cc"), len(values))


_STEPS: tuple[
    tuple[ConstituencyKind, str, Callable[[pl.Series, ConstituencyIndex], Owners]], ...
] = (
    (ConstituencyKind.PREFIX, SOURCE_IP, _route_prefixes),
    (ConstituencyKind.ASN, SOURCE_ASN, _route_asns),
    (ConstituencyKind.DOMAIN, SOURCE_FQDN, _route_domains),
    (ConstituencyKind.COUNTRY, SOURCE_CC, _route_countries),
)


def _scatter(found: pl.DataFrame, size: int) -> Owners:
    owners = np.full(size, _NOBODY, dtype=np.int64)
    owners[found["row"].to_numpy()] = found[ORGANISATION].to_numpy()
    return owners


def _exact_owners(
    table: npt.NDArray[np.generic], owners: Owners, keys: npt.NDArray[np.generic]
) -> Owners:
    """The owner of each key found in the sorted `table`, `_NOBODY` where it is absent."""
    if not table.size:
        return np.full(len(keys), _NOBODY, dtype=np.int64)
    at = np.minimum(np.searchsorted(table, keys), table.size - 1)
    found: Owners = np.where(table[at] == keys, owners[at], _NOBODY)
    return found


def _v4_owners(addresses: npt.NDArray[np.uint32], ranges: _V4Ranges) -> Owners:
    at = ranges.blocks[addresses >> np.uint32(_V4_BLOCK_SHIFT)].astype(np.intp)
    mixed = np.flatnonzero(at < 0)
    at[mixed] = np.searchsorted(ranges.starts, addresses[mixed], side="right") - 1
    found: Owners = ranges.owners[at]
    return found


def _v6_owners(hi: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64], ranges: _V6Ranges) -> Owners:
    at = np.searchsorted(ranges.hi, hi, side="right") - 1
    # The last start with hi <= the address's is the range unless that start shares the hi
    # half and lies above it (a prefix longer than /64 starts there): then compare all bits.
    beyond = np.flatnonzero((ranges.hi[at] == hi) & (ranges.lo[at] > lo))
    at[beyond] = np.searchsorted(ranges.keys, _keys(hi[beyond], lo[beyond]), side="right") - 1
    return ranges.owners[at]


# --- building the index ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _V6Networks:
    hi: npt.NDArray[np.uint64]
    lo: npt.NDArray[np.uint64]
    lengths: npt.NDArray[np.int64]


def _read_entries(entries: Iterable[tuple[int, str, str]]) -> pl.DataFrame:
    # A loop over the index's entries (not over pipeline rows): each is checked for shape so
    # a wrong type is reported with the entry, not as a polars error about a column.
    rows: list[tuple[int, int, str, str]] = []
    kinds = {kind.value for kind in ConstituencyKind}
    for number, entry in enumerate(entries, start=1):
        shaped = isinstance(entry, tuple) and len(entry) == 3
        organisation, kind, value = entry if shaped else (None, None, None)
        if not (isinstance(organisation, int) and not isinstance(organisation, bool)):
            raise BadValue(
                f"constituency entry {number} {entry!r}: expected (organisation id, kind, value)",
                field="organisation_id",
                value=entry,
            )
        if kind not in kinds:
            raise BadValue(
                f"constituency entry {number} {entry!r}: kind must be one of {sorted(kinds)}",
                field="kind",
                value=kind,
            )
        if not isinstance(value, str):
            raise BadValue(
                f"constituency entry {number} {entry!r}: the value must be text",
                field=str(kind),
                value=value,
            )
        rows.append((number, organisation, str(kind), value))
    return pl.DataFrame(rows, schema=_ENTRY_SCHEMA, orient="row")


def _valid_value() -> pl.Expr:
    """Whether an ASN, domain or country entry is canonical text; prefixes are checked by
    `_with_prefix_numbers`. A non-canonical spelling would silently never match a row."""
    value, kind = pl.col("value"), pl.col("kind")
    return (
        pl.when(kind == ConstituencyKind.ASN)
        .then(value.str.contains(_ASN) & (value.cast(pl.Int64, strict=False) <= _MAX_ASN))
        .when(kind == ConstituencyKind.DOMAIN)
        .then(value.str.contains(_DOMAIN) & (value.str.len_bytes() <= 253))
        .when(kind == ConstituencyKind.COUNTRY)
        .then(value.str.contains(_COUNTRY))
        .otherwise(pl.lit(value=True))
    )


def _refuse_first(bad: pl.DataFrame) -> None:
    if not bad.height:
        return
    number, organisation, kind, text = bad.sort("entry").row(0)
    raise BadValue(
        f"constituency entry {number} (organisation {organisation}, {kind} {text!r}):"
        f" {_problem(ConstituencyKind(kind), text)}",
        field=kind,
        value=text,
    )


def _with_prefix_numbers(prefixes: pl.DataFrame) -> pl.DataFrame:
    """Prefix entries with their numbers (`v6`, `length`, `v4`, `hi`, `lo`) and `canonical`:
    the value is a network in its canonical spelling, with no host bits set."""
    values = prefixes["value"]
    parts = values.str.split_exact("/", 1).struct
    is_v6 = values.str.contains(":", literal=True).to_numpy()
    v6_rows = np.flatnonzero(is_v6)
    addresses = parse_addresses(parts.field("field_0").scatter(v6_rows, None))
    lengths = (
        parts.field("field_1").cast(pl.Int64, strict=False).fill_null(-1).to_numpy(writable=True)
    )
    host_bits = addresses.v4 & ~_v4_mask(np.clip(lengths, 0, 32))
    shaped = values.str.contains(_V4_PREFIX).to_numpy() & addresses.is_v4 & (lengths <= 32)
    canonical = shaped & (host_bits == 0)
    hi, lo = addresses.hi, addresses.lo
    # IPv6 entries are few: `ipaddress` parses each once and gives its canonical spelling.
    for position in v6_rows:
        network = _canonical_ipv6(str(values[int(position)]))
        if network is not None:
            number = int(network.network_address)
            canonical[position], lengths[position] = True, network.prefixlen
            hi[position], lo[position] = number >> 64, number & _ALL_64
    return prefixes.with_columns(
        pl.Series("canonical", canonical),
        pl.Series("v6", is_v6),
        pl.Series("length", lengths),
        pl.Series("v4", addresses.v4),
        pl.Series("hi", hi),
        pl.Series("lo", lo),
    )


def _canonical_ipv6(text: str) -> ipaddress.IPv6Network | None:
    try:
        network = ipaddress.IPv6Network(text)
    except ValueError:
        return None
    return network if str(network) == text else None


def _problem(kind: ConstituencyKind, text: str) -> str:
    if kind == ConstituencyKind.PREFIX:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            return "not an IP network in CIDR notation (192.0.2.0/24, 2001:db8::/32)"
        return (
            f"not canonical: write {network}" if "/" in text else f"write {network} (with length)"
        )
    if kind == ConstituencyKind.ASN:
        return "an AS number is written as digits only, 1 to 4294967295 (64496, not AS64496)"
    if kind == ConstituencyKind.DOMAIN:
        return "not a canonical domain: lower case, IDNA (xn--) form, no trailing dot"
    return "a country is a two-letter upper-case ISO 3166 code (GH)"


def _claims_of(claims: pl.DataFrame, kind: ConstituencyKind, name: str) -> pl.DataFrame:
    chosen = claims.filter(pl.col("kind") == kind).select(pl.col("value").alias(name), ORGANISATION)
    if kind == ConstituencyKind.DOMAIN:
        chosen = chosen.with_columns(
            (pl.col(name).str.count_matches(".", literal=True) + 1).alias("depth")
        )
    return chosen


def _deepest(claims: pl.DataFrame) -> int:
    domains = claims.filter(pl.col("kind") == ConstituencyKind.DOMAIN)["value"]
    return max((value.count(".") + 1 for value in domains), default=0)


def _shared_claims(claims: pl.DataFrame) -> tuple[SharedClaim, ...]:
    shared = claims.filter(pl.col("ids").list.len() > 1).sort("kind", "value")
    return tuple(
        SharedClaim(ConstituencyKind(kind), value, tuple(ids))
        for kind, value, ids in shared.select("kind", "value", "ids").iter_rows()
    )


def _v4_mask(lengths: npt.NDArray[np.integer] | int) -> npt.NDArray[np.uint32]:
    shift = 32 - np.asarray(lengths, dtype=np.uint64)
    return ((np.uint64(0xFFFFFFFF) << shift) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def _v4_ranges(
    networks: npt.NDArray[np.uint32], lengths: npt.NDArray[np.int64], owners: Owners
) -> _V4Ranges:
    ends = networks.astype(np.int64) + (np.int64(1) << (32 - lengths))
    points = np.unique(np.concatenate([[0], networks, ends[ends <= _ALL_64 >> 32]]))
    points = points.astype(np.uint32)
    found = np.full(points.size, _NOBODY, dtype=np.int64)
    pending = np.arange(points.size)
    for length in np.unique(lengths)[::-1]:
        at = lengths == length
        order = np.argsort(networks[at])
        keys = points[pending] & _v4_mask(int(length))
        hit = _exact_owners(networks[at][order], owners[at][order], keys)
        found[pending] = hit
        pending = pending[hit == _NOBODY]
    keep = np.concatenate([[True], found[1:] != found[:-1]])
    starts = points[keep]
    return _V4Ranges(starts=starts, owners=found[keep], blocks=_v4_blocks(starts))


def _v4_blocks(starts: npt.NDArray[np.uint32]) -> npt.NDArray[np.int32]:
    size = 1 << _V4_BLOCK_BITS
    block = starts >> np.uint32(_V4_BLOCK_SHIFT)
    covered = np.cumsum(np.bincount(block, minlength=size)) - 1
    inside = np.bincount(
        block[(starts & np.uint32((1 << _V4_BLOCK_SHIFT) - 1)) != 0], minlength=size
    )
    # A block where no range starts inside is wholly within the last range starting at or
    # before its end; starts always include 0, so `covered` is never negative.
    return np.where(inside == 0, covered, -1).astype(np.int32)


def _v6_ranges(networks: _V6Networks, owners: Owners) -> _V6Ranges:
    hi, lo, lengths = networks.hi, networks.lo, networks.lengths
    end_hi, end_lo, inside = _v6_ends(networks)
    # The zero start is uint64 too: mixing int64 into uint64 would promote to float64.
    zero = np.zeros(1, dtype=np.uint64)
    points_hi = np.concatenate([zero, hi, end_hi[inside]])
    points_lo = np.concatenate([zero, lo, end_lo[inside]])
    order = np.lexsort((points_lo, points_hi))
    points_hi, points_lo = points_hi[order], points_lo[order]
    new = (points_hi[1:] != points_hi[:-1]) | (points_lo[1:] != points_lo[:-1])
    points_hi, points_lo = (
        points_hi[np.concatenate([[True], new])],
        points_lo[np.concatenate([[True], new])],
    )
    found = np.full(points_hi.size, _NOBODY, dtype=np.int64)
    pending = np.arange(points_hi.size)
    table: npt.NDArray[np.generic]
    keys: npt.NDArray[np.generic]
    for length in np.unique(lengths)[::-1]:
        at = lengths == length
        if length <= 64:  # networks this short have lo == 0: the hi half alone decides
            table, keys = hi[at], points_hi[pending] & _half_mask(int(length))
        else:
            lo_keys = points_lo[pending] & _half_mask(int(length) - 64)
            table, keys = _keys(hi[at], lo[at]), _keys(points_hi[pending], lo_keys)
        order = np.argsort(table)
        hit = _exact_owners(table[order], owners[at][order], keys)
        found[pending] = hit
        pending = pending[hit == _NOBODY]
    keep = np.concatenate([[True], found[1:] != found[:-1]])
    starts_hi, starts_lo = points_hi[keep], points_lo[keep]
    return _V6Ranges(
        hi=starts_hi, lo=starts_lo, keys=_keys(starts_hi, starts_lo), owners=found[keep]
    )


def _v6_ends(
    networks: _V6Networks,
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], npt.NDArray[np.bool_]]:
    """The first address after each network as (hi, lo), and whether it exists (< 2^128)."""
    hi, lo, lengths = networks.hi, networks.lo, networks.lengths
    short = lengths <= 64
    one = np.uint64(1)
    step_hi = np.where(short, one << np.clip(64 - lengths, 0, 63).astype(np.uint64), 0)
    step_lo = np.where(short, 0, one << np.clip(128 - lengths, 0, 63).astype(np.uint64))
    end_lo = lo + step_lo.astype(np.uint64)  # wraps around; the carry goes to hi
    end_hi = hi + step_hi.astype(np.uint64) + (end_lo < lo).astype(np.uint64)
    # A sum that wrapped past 2^128 is not above the start: that network ends the space.
    inside = (lengths > 0) & ((end_hi > hi) | ((end_hi == hi) & (end_lo > lo)))
    return end_hi, end_lo, inside


def _half_mask(length: int) -> np.uint64:
    return np.uint64((_ALL_64 << (64 - length)) & _ALL_64)


def _keys(hi: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64]) -> npt.NDArray[np.bytes_]:
    """16-byte big-endian keys: numpy compares them byte by byte, i.e. as 128-bit numbers."""
    pairs = np.empty((hi.size, 2), dtype=">u8")
    pairs[:, 0] = hi
    pairs[:, 1] = lo
    return pairs.view("S16").ravel()
