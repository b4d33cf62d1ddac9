"""Warning lists: known-benign values (private ranges, public resolvers, top domains, cloud ranges).

An indicator that hits a warning list is probably a false positive (a 10.x address from a
sandbox, 8.8.8.8 resolved by every piece of malware, www.google.com in a phishing kit's page),
so Entente flags it on entry and in matching, as MISP does with its warninglists
(https://github.com/MISP/misp-warninglists). The lists are TOML files in
`data/warninglists/`, loaded once and held in memory; `enabled` in each file is the switch an
admin override (stored later in the database) flips.

Matching is vectorised as DESIGN.md asks: IPv4 addresses are parsed column-wise into uint32 and
looked up with `np.searchsorted` in sorted, merged range arrays; IPv6 addresses become two
uint64 halves looked up with one `np.lexsort`. Only IPv6 text is parsed per value (by
`ipaddress`), since IPv6 spelling has too many forms to parse column-wise with little code.
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, TypeAlias
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt

from entente.core.errors import BadValue
from entente.sharing.indicators.types import IndicatorType

BoolArray: TypeAlias = npt.NDArray[np.bool_]
UInt32Array: TypeAlias = npt.NDArray[np.uint32]
UInt64Array: TypeAlias = npt.NDArray[np.uint64]
IntArray: TypeAlias = npt.NDArray[np.int64]

_LOW64 = (1 << 64) - 1


class ListKind(StrEnum):
    """What a list's entries are: CIDR ranges (bare addresses allowed) or registered domains."""

    CIDR = "cidr"
    DOMAIN = "domain"


@dataclass(frozen=True)
class WarningList:
    """One list as read from its file; `sample` marks lists an operator is meant to replace."""

    name: str
    description: str
    kind: ListKind
    entries: tuple[str, ...]
    enabled: bool = True
    sample: bool = False
    version: int = 1


# --- loading -----------------------------------------------------------------------------------


@cache
def load_warning_lists() -> tuple[WarningList, ...]:
    """The shipped lists, read once per process."""
    directory = resources.files("entente.sharing").joinpath("data", "warninglists")
    return tuple(read_warning_lists(directory))


@cache
def default_warning_list_index() -> WarningListIndex:
    """An index over the enabled shipped lists, built once (building sorts every range)."""
    return WarningListIndex(load_warning_lists())


def read_warning_lists(directory: Traversable) -> list[WarningList]:
    """Every `*.toml` list in `directory`, sorted by file name; a bad file raises BadValue."""
    lists: list[WarningList] = []
    for entry in sorted(directory.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".toml"):
            lists.append(_read_list_file(entry))
    names = [warning_list.name for warning_list in lists]
    if len(set(names)) != len(names):
        raise BadValue("two warning lists share a name", field="warninglist", value=names)
    return lists


def _read_list_file(entry: Traversable) -> WarningList:
    try:
        data: dict[str, Any] = tomllib.loads(entry.read_text("utf-8"))
        kind = ListKind(data["type"])
        raw_entries = [str(value) for value in data["entries"]]
        entries = [_canonical_entry(kind, value) for value in raw_entries]
        return WarningList(
            name=str(data["name"]),
            description=str(data["description"]),
            kind=kind,
            entries=tuple(entries),
            enabled=bool(data.get("enabled", True)),
            sample=bool(data.get("sample", False)),
            version=int(data.get("version", 1)),
        )
    except (KeyError, TypeError, ValueError, tomllib.TOMLDecodeError) as exc:
        message = f"malformed warning list file: {exc}"
        raise BadValue(message, field="warninglist", value=entry.name) from exc


def _canonical_entry(kind: ListKind, value: str) -> str:
    if kind is ListKind.CIDR:
        return str(ipaddress.ip_network(value.strip(), strict=True))
    domain = _canonical_domain(value)
    if not domain or " " in domain:
        raise ValueError(f"bad domain {value!r}")
    return domain


def _canonical_domain(value: str) -> str:
    return value.strip().lower().rstrip(".")


# --- vectorised address parsing ------------------------------------------------------------------

_IPV4_WIDTH = 16  # 15 characters at most ("255.255.255.255"), plus one to catch longer values


def parse_ipv4_column(values: Sequence[str]) -> tuple[UInt32Array, BoolArray]:
    """Dotted-quad text to uint32, column-wise; the mask says which values were valid IPv4.

    Accepts what `ipaddress.IPv4Address` accepts: four decimal octets 0-255 in ASCII digits,
    no leading zeros, no spaces. (numpy's fixed-width strings drop trailing NUL characters, so
    "1.2.3.4\\x00" reads as 1.2.3.4.)
    """
    count = len(values)
    if count == 0:
        return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.bool_)
    # Fixed-width unicode silently truncates; a 16th character therefore marks a too-long value.
    codes = np.asarray(values, dtype=f"U{_IPV4_WIDTH}").view(np.uint32).reshape(count, -1)
    # One row per character position, contiguous, so the loop below reads memory in order;
    # non-ASCII becomes DEL, which no rule accepts.
    chars = np.ascontiguousarray(np.minimum(codes, 127).astype(np.uint8).T)
    digits = chars - np.uint8(ord("0"))  # wraps around below "0", so `< 10` means a digit
    is_digit = digits < 10
    is_dot = chars == ord(".")
    is_pad = chars == 0
    valid = (
        is_pad[-1]
        & np.all(is_digit | is_dot | is_pad, axis=0)
        & np.all(is_pad[1:] >= is_pad[:-1], axis=0)  # padding only at the end
        & (is_dot.sum(axis=0) == 3)
    )
    # Each octet ends at a dot or at the first padding character.
    ends_octet = is_dot.copy()
    ends_octet[0] |= is_pad[0]
    ends_octet[1:] |= is_pad[1:] & ~is_pad[:-1]
    address = np.zeros(count, dtype=np.uint32)
    octet = np.zeros(count, dtype=np.uint16)
    length = np.zeros(count, dtype=np.uint8)
    for position in range(_IPV4_WIDTH):
        digit, end = is_digit[position], ends_octet[position]
        valid &= ~(digit & (length > 0) & (octet == 0))  # a leading zero, as in "01"
        octet = np.where(digit, octet * np.uint16(10) + digits[position], octet)
        length += digit
        # A run of more than 3 digits is refused, so an octet that wrapped never passes.
        valid &= ~(end & ((length == 0) | (length > 3) | (octet > 255)))
        address = np.where(end, (address << np.uint32(8)) | octet, address)
        octet = np.where(end, np.uint16(0), octet)
        length = np.where(end, np.uint8(0), length)
    return np.where(valid, address, np.uint32(0)).astype(np.uint32), valid


def parse_ipv6_column(values: Sequence[str]) -> tuple[UInt64Array, UInt64Array, BoolArray]:
    """IPv6 text to (high, low) uint64 halves; the mask says which values were valid IPv6."""
    high = np.zeros(len(values), dtype=np.uint64)
    low = np.zeros(len(values), dtype=np.uint64)
    valid = np.zeros(len(values), dtype=np.bool_)
    for row, text in enumerate(values):
        if ":" not in text:
            continue
        try:
            number = int(ipaddress.IPv6Address(text))
        except ValueError:
            continue
        high[row], low[row], valid[row] = number >> 64, number & _LOW64, True
    return high, low, valid


# --- range tables ------------------------------------------------------------------------------


def _merged(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping, non-adjacent ranges, so one lookup finds the only candidate."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


class _IPv4Ranges:
    """One list's IPv4 ranges as sorted uint32 start/end arrays."""

    def __init__(self, ranges: Iterable[tuple[int, int]]) -> None:
        merged = _merged(ranges)
        self.starts = np.array([start for start, _ in merged], dtype=np.uint32)
        self.ends = np.array([end for _, end in merged], dtype=np.uint32)

    def containing(self, addresses: UInt32Array) -> IntArray:
        """Index of the range holding each address, or -1."""
        index = np.searchsorted(self.starts, addresses, side="right").astype(np.int64) - 1
        if len(self.starts) == 0:
            return index
        inside = (index >= 0) & (addresses <= self.ends[np.maximum(index, 0)])
        return np.where(inside, index, -1)


class _IPv6Ranges:
    """One list's IPv6 ranges as sorted (high, low) uint64 start/end arrays."""

    def __init__(self, ranges: Iterable[tuple[int, int]]) -> None:
        merged = _merged(ranges)
        self.start_high = np.array([start >> 64 for start, _ in merged], dtype=np.uint64)
        self.start_low = np.array([start & _LOW64 for start, _ in merged], dtype=np.uint64)
        self.end_high = np.array([end >> 64 for _, end in merged], dtype=np.uint64)
        self.end_low = np.array([end & _LOW64 for _, end in merged], dtype=np.uint64)

    def containing(self, high: UInt64Array, low: UInt64Array) -> IntArray:
        """Index of the range holding each address, or -1.

        numpy cannot binary-search a 128-bit key, so starts and queries are sorted together
        (`lexsort` on high, low, then starts before queries on ties) and a running maximum of
        the start indices gives, for each query, the last start at or below it.
        """
        ranges, queries = len(self.start_high), len(high)
        keys_high = np.concatenate([self.start_high, high])
        keys_low = np.concatenate([self.start_low, low])
        is_query = np.concatenate([np.zeros(ranges, np.int8), np.ones(queries, np.int8)])
        order = np.lexsort((is_query, keys_low, keys_high))
        marker = np.concatenate([np.arange(ranges), np.full(queries, -1)])[order]
        last_start = np.maximum.accumulate(marker) if len(marker) else marker
        index = np.full(queries, -1, dtype=np.int64)
        query_positions = np.flatnonzero(order >= ranges)
        index[order[query_positions] - ranges] = last_start[query_positions]
        if ranges == 0:
            return index
        safe = np.maximum(index, 0)
        end_high, end_low = self.end_high[safe], self.end_low[safe]
        below_end = (high < end_high) | ((high == end_high) & (low <= end_low))
        return np.where((index >= 0) & below_end, index, -1)


# --- the index ---------------------------------------------------------------------------------

_DOMAIN_TYPES = frozenset({IndicatorType.DOMAIN, IndicatorType.HOSTNAME})
_ADDRESS_TYPES = frozenset({IndicatorType.IPV4, IndicatorType.IPV6})


class WarningListIndex:
    """The enabled lists, indexed once, answering "which lists does each value hit?" in bulk.

    Disabled lists are left out at build time: an admin override rebuilds the index from lists
    whose `enabled` it has changed (`dataclasses.replace`).
    """

    def __init__(self, lists: Iterable[WarningList]) -> None:
        self.lists = tuple(warning_list for warning_list in lists if warning_list.enabled)
        self._cidr_lists = [item for item in self.lists if item.kind is ListKind.CIDR]
        self._domain_lists = [item for item in self.lists if item.kind is ListKind.DOMAIN]
        networks = [
            [ipaddress.ip_network(entry) for entry in item.entries] for item in self._cidr_lists
        ]
        self._ipv4 = [_IPv4Ranges(_bounds(nets, version=4)) for nets in networks]
        self._ipv6 = [_IPv6Ranges(_bounds(nets, version=6)) for nets in networks]
        self._domains: dict[str, tuple[str, ...]] = {}
        for item in self._domain_lists:
            for domain in item.entries:
                self._domains[domain] = (*self._domains.get(domain, ()), item.name)

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the lists this index answers for, in file order."""
        return tuple(item.name for item in self.lists)

    @property
    def cidr_list_names(self) -> tuple[str, ...]:
        """Column names of `ip_hit_matrix`."""
        return tuple(item.name for item in self._cidr_lists)

    def ip_hit_matrix(self, values: Sequence[str]) -> BoolArray:
        """A (values x CIDR lists) boolean matrix; unparseable values hit nothing."""
        addresses, is_ipv4 = parse_ipv4_column(values)
        hits = np.zeros((len(values), len(self._cidr_lists)), dtype=np.bool_)
        for column, ranges in enumerate(self._ipv4):
            hits[:, column] = is_ipv4 & (ranges.containing(addresses) >= 0)
        rest = np.flatnonzero(~is_ipv4)
        if len(rest) and self._ipv6:
            high, low, is_ipv6 = parse_ipv6_column([values[row] for row in rest.tolist()])
            for column, ranges6 in enumerate(self._ipv6):
                hits[rest, column] = is_ipv6 & (ranges6.containing(high, low) >= 0)
        return hits

    def match_ips(self, values: Sequence[str]) -> list[list[str]]:
        """For each value, the names of the CIDR lists containing it (IPv4 or IPv6)."""
        hits = self.ip_hit_matrix(values)
        # One small integer per row (bit i = list i) turns 1M rows into a handful of patterns.
        weights = (1 << np.arange(hits.shape[1], dtype=np.int64)).astype(np.int64)
        codes = hits.astype(np.int64) @ weights
        names = self.cidr_list_names
        patterns = {
            int(code): [names[bit] for bit in range(len(names)) if int(code) >> bit & 1]
            for code in np.unique(codes).tolist()
        }
        return [patterns[code].copy() for code in codes.tolist()]

    def match_domains(self, values: Sequence[str]) -> list[list[str]]:
        """For each value, the domain lists holding it or a parent (a.b.google.com: google.com)."""
        return [self._domain_hits(value) for value in values]

    def _domain_hits(self, value: str) -> list[str]:
        name = _canonical_domain(value)
        found: list[str] = []
        while name:
            # A dict probe per label: a name has few labels and the dict is hashed once.
            for list_name in self._domains.get(name, ()):
                if list_name not in found:
                    found.append(list_name)
            _, _, name = name.partition(".")
        return found

    def match_many(self, types: Sequence[IndicatorType], values: Sequence[str]) -> list[list[str]]:
        """Lists hit by each (type, canonical value).

        Addresses, including the hosts of URLs that are addresses, are matched in one numpy
        pass: a call to `match_ips` per value cost more than the rest of a 10,000-row batch.
        """
        hits: list[list[str]] = [[] for _ in values]
        address_rows: list[int] = []
        addresses: list[str] = []
        for row, (kind, value) in enumerate(zip(types, values, strict=True)):
            if kind in _ADDRESS_TYPES:
                address_rows.append(row)
                addresses.append(value)
            elif kind is IndicatorType.URL:
                host = urlsplit(value).hostname or ""
                if _is_address(host):
                    address_rows.append(row)
                    addresses.append(host)
                else:
                    hits[row] = self._domain_hits(host)
            else:
                hits[row] = self.match(kind, value)
        for row, names in zip(address_rows, self.match_ips(addresses), strict=True):
            hits[row] = names
        return hits

    def match(self, indicator_type: IndicatorType | str, value: str) -> list[str]:
        """Lists hit by one indicator value of a given type; types no list covers hit nothing."""
        try:
            kind = IndicatorType(indicator_type)
        except ValueError as exc:
            raise BadValue("unknown indicator type", field="type", value=indicator_type) from exc
        if kind in _ADDRESS_TYPES:
            return self._match_address(value)
        if kind is IndicatorType.CIDR:
            return self._match_network(value)
        if kind in _DOMAIN_TYPES:
            return self._domain_hits(value)
        if kind is IndicatorType.URL:
            host = urlsplit(value).hostname or ""
            return self._match_host(host)
        if kind is IndicatorType.EMAIL_SRC:
            return self._domain_hits(value.rpartition("@")[2])
        return []

    def _match_address(self, value: str) -> list[str]:
        try:
            ipaddress.ip_address(value)
        except ValueError as exc:
            raise BadValue("not an IP address", field="value", value=value) from exc
        return self.match_ips([value])[0]

    def _match_host(self, host: str) -> list[str]:
        return self.match_ips([host])[0] if _is_address(host) else self._domain_hits(host)

    def _match_network(self, value: str) -> list[str]:
        """Lists that contain the whole network, not just part of it."""
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError as exc:
            raise BadValue("not a CIDR network", field="value", value=value) from exc
        first, last = int(network.network_address), int(network.broadcast_address)
        found: list[str] = []
        for column, item in enumerate(self._cidr_lists):
            if network.version == 4:
                pair = np.array([first, last], dtype=np.uint32)
                index = self._ipv4[column].containing(pair)
            else:
                high = np.array([first >> 64, last >> 64], dtype=np.uint64)
                low = np.array([first & _LOW64, last & _LOW64], dtype=np.uint64)
                index = self._ipv6[column].containing(high, low)
            # Merged ranges never touch, so both ends in one range means the network is inside.
            if index[0] >= 0 and index[0] == index[1]:
                found.append(item.name)
        return found


def _bounds(
    networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network], *, version: int
) -> list[tuple[int, int]]:
    return [
        (int(net.network_address), int(net.broadcast_address))
        for net in networks
        if net.version == version
    ]


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
