"""CIDR prefixes as numpy arrays, with what one data source says about each of them.

Both address families use `uint64` network numbers here. IPv6 keeps only the high 64 bits
of an address: routing data (BGP tables, RIR delegations) carries no prefix longer than /64,
because /64 is the smallest subnet IPv6 hands to a link (RFC 4291 section 2.5.1), so the low
half never changes the answer, and 64-bit keys keep the lookup a plain `searchsorted`.
Readers count and skip the rare longer prefixes (MaxMind databases have a few).

A country is two ASCII letters packed into a `uint16` (`ord(first) << 8 | ord(second)`),
so a whole column compares and moves as numbers; 0 means "this source says nothing".
ASN 0 means the same: RFC 7607 reserves AS 0 for "no AS", it never originates a route.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

V4_BITS = 32
V6_BITS = 64
"""Bits of an IPv6 address kept: the high half (see the module docstring)."""

NO_ASN = 0
NO_COUNTRY = 0

U64 = npt.NDArray[np.uint64]


def host_masks(bits: int) -> U64:
    """`host_masks(bits)[length]`: the host part of a /length network, as a bit mask."""
    return np.array([(1 << (bits - length)) - 1 for length in range(bits + 1)], dtype=np.uint64)


@dataclass(frozen=True, slots=True)
class Prefixes:
    """CIDR prefixes of one address family and what a source says about each one.

    `start` is the network number (IPv6: its high 64 bits), `length` the prefix length,
    `asn` the origin AS (0: nothing said) and `country` a packed country code (0: nothing).
    """

    start: U64
    length: npt.NDArray[np.uint8]
    asn: npt.NDArray[np.uint32]
    country: npt.NDArray[np.uint16]

    def __len__(self) -> int:
        return len(self.start)

    @classmethod
    def empty(cls) -> Prefixes:
        return cls(
            start=np.zeros(0, dtype=np.uint64),
            length=np.zeros(0, dtype=np.uint8),
            asn=np.zeros(0, dtype=np.uint32),
            country=np.zeros(0, dtype=np.uint16),
        )

    @classmethod
    def concat(cls, parts: Sequence[Prefixes]) -> Prefixes:
        """All parts, in order: where two give the very same prefix, the later one wins."""
        if not parts:
            return cls.empty()
        return cls(
            start=np.concatenate([part.start for part in parts]).astype(np.uint64),
            length=np.concatenate([part.length for part in parts]).astype(np.uint8),
            asn=np.concatenate([part.asn for part in parts]).astype(np.uint32),
            country=np.concatenate([part.country for part in parts]).astype(np.uint16),
        )

    def take(self, rows: npt.NDArray[np.intp] | npt.NDArray[np.bool_]) -> Prefixes:
        return Prefixes(
            start=self.start[rows],
            length=self.length[rows],
            asn=self.asn[rows],
            country=self.country[rows],
        )


def pack_countries(codes: pl.Series) -> npt.NDArray[np.uint16]:
    """Packed codes of a column of two-letter upper-case codes (null: 0).

    The caller has checked the shape; a loop runs over the distinct codes only (a few
    hundred at most), never over the rows.
    """
    distinct = [code for code in codes.unique().to_list() if code]
    packed = {code: (ord(code[0]) << 8) | ord(code[1]) for code in distinct}
    values = codes.replace_strict(packed, default=NO_COUNTRY, return_dtype=pl.UInt16)
    return values.fill_null(NO_COUNTRY).to_numpy().astype(np.uint16)


def country_text(packed: int) -> str:
    """The two letters of a packed code."""
    return chr(packed >> 8) + chr(packed & 0xFF)


def ranges_to_prefixes(
    first: U64, count: U64
) -> tuple[U64, npt.NDArray[np.uint8], npt.NDArray[np.intp]]:
    """Split IPv4 ranges (`first`, `count` addresses) into CIDR prefixes.

    RIR statistics give IPv4 blocks as an address count, which need not be a power of two
    (`1.2.4.0|768` is a /23 and a /24). Returns the prefixes' starts, lengths and, for each,
    the index of the range it came from. Each round takes the largest aligned block left at
    the front of every unfinished range, so the loop runs at most 64 times, whatever the
    number of ranges: the same split as `ipaddress.summarize_address_range`.
    """
    start = first.astype(np.uint64).copy()
    remaining = count.astype(np.uint64).copy()
    owner = np.arange(len(start), dtype=np.intp)
    starts: list[U64] = []
    lengths: list[npt.NDArray[np.uint8]] = []
    owners: list[npt.NDArray[np.intp]] = []
    while len(owner):
        # The lowest set bit of the start bounds the alignment (address 0 is aligned to all).
        aligned = np.where(start == 0, np.uint64(1 << V4_BITS), start & (~start + np.uint64(1)))
        # The highest power of two not above what is left; frexp is exact below 2**53.
        _, exponent = np.frexp(remaining.astype(np.float64))
        fits = np.left_shift(np.uint64(1), (exponent - 1).astype(np.uint64))
        block = np.minimum(aligned, fits)
        _, block_exponent = np.frexp(block.astype(np.float64))
        starts.append(start)
        lengths.append((V4_BITS - (block_exponent - 1)).astype(np.uint8))
        owners.append(owner)
        start = start + block
        remaining = remaining - block
        left = remaining > 0
        start, remaining, owner = start[left], remaining[left], owner[left]
    if not starts:
        return np.zeros(0, np.uint64), np.zeros(0, np.uint8), np.zeros(0, np.intp)
    return np.concatenate(starts), np.concatenate(lengths), np.concatenate(owners)
