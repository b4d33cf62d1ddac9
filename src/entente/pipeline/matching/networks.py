"""IP networks of indicators, and every one of them that contains a batch's addresses.

An exact address indicator is a /32 (or /128) network, so ipv4, ipv6 and cidr indicators
share one structure. Networks nest (a /8 around a /16 around an address) and a row must get
*every* network containing it, not only the longest. IPv4 runs in three steps, each on the
few rows the previous one let through:

1. a bitmap of the /24 blocks that any network touches (2^24 bits, 2 MiB) drops most rows
   with one gather: most addresses in a feed are in no shared network (built only for
   `BITMAP_MIN_RANGES` disjoint ranges or more);
2. the rest are searched (`searchsorted`) in the union of all networks (sorted disjoint
   ranges), which keeps exactly the rows inside at least one network;
3. each of those is masked to every prefix length present (at most 33) and searched among
   the networks of that length. This is longest-prefix routing's per-length lookup without
   stopping at the longest match, so nested networks all come back.

IPv6 rows are rare in feeds, so they take step 3 alone, as a join on (prefix length, two
uint64 halves of the network address).
Storage maps IPv4 into ::ffff:0:0/96 (`sharing.indicators.addresses`): ranges inside it are
IPv4 networks here, and an IPv4-mapped IPv6 row is matched as the IPv4 address it carries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

ROW = "row"
INDICATOR = "indicator_id"
EVENT = "event_id"
PAIR_SCHEMA = {ROW: pl.UInt32, INDICATOR: pl.Int64, EVENT: pl.Int64}
"""A (row, indicator, event) match: what every matcher of the stage returns."""

_BLOCK_SHIFT = 8  # a block is a /24
_BLOCKS = 1 << 24
_NARROW_BLOCKS = 256  # networks of up to 256 blocks (a /16) are marked block by block
BITMAP_MIN_RANGES = 4096
"""Below this many disjoint ranges the /24 bitmap is not built: searching the union
directly costs about as much as the bitmap's gather."""
_LOW_32 = 0xFFFF_FFFF
_LOW_64 = (1 << 64) - 1


def empty_pairs() -> pl.DataFrame:
    return pl.DataFrame(schema=PAIR_SCHEMA)


@dataclass(frozen=True, slots=True)
class IPv4Networks:
    """IPv4 networks (exact addresses as /32) with the three lookup structures above."""

    lengths: npt.NDArray[np.uint8]  # the prefix lengths present, ascending
    starts: npt.NDArray[np.int64]  # networks of lengths[i] are at starts[i]:starts[i + 1]
    lows: npt.NDArray[np.uint32]  # network addresses, sorted by (prefix length, address)
    indicator_ids: npt.NDArray[np.int64]  # aligned with `lows`
    event_ids: npt.NDArray[np.int64]
    union_low: npt.NDArray[np.uint32]  # the union of all networks: sorted, disjoint ranges
    union_high: npt.NDArray[np.uint32]
    blocks: npt.NDArray[np.uint8]  # bit b set: some network touches /24 block b (or empty)

    @classmethod
    def build(cls, ranges: pl.DataFrame) -> IPv4Networks:
        """From `low`, `high` (UInt32, inclusive), `indicator_id` and `event_id` columns."""
        low = ranges["low"].to_numpy().astype(np.uint32)
        high = ranges["high"].to_numpy().astype(np.uint32)
        # A CIDR range's low XOR high is its host mask: the prefix is 32 minus its bits.
        prefix = (32 - np.bitwise_count(low ^ high)).astype(np.uint8)
        order = np.lexsort((low, prefix))
        lengths, starts = np.unique(prefix[order], return_index=True)
        union_low, union_high = _union(low, high)
        return cls(
            lengths=lengths,
            starts=np.append(starts, len(order)).astype(np.int64),
            lows=low[order],
            indicator_ids=ranges[INDICATOR].to_numpy().astype(np.int64)[order],
            event_ids=ranges[EVENT].to_numpy().astype(np.int64)[order],
            union_low=union_low,
            union_high=union_high,
            blocks=_touched_blocks(union_low, union_high),
        )

    def pairs(
        self, rows: npt.NDArray[np.uint32], addresses: npt.NDArray[np.uint32]
    ) -> pl.DataFrame:
        """(row, indicator, event) for every network containing each row's address."""
        if not len(self.union_low) or not len(rows):
            return empty_pairs()
        if self.blocks.size:
            block = addresses >> _BLOCK_SHIFT
            touched = ((self.blocks[block >> 3] >> (block & 7)) & 1) == 1
            rows, addresses = rows[touched], addresses[touched]
        slot = np.searchsorted(self.union_low, addresses, side="right") - 1
        inside = (slot >= 0) & (addresses <= self.union_high[np.maximum(slot, 0)])
        # Sorted addresses stay sorted once masked, which makes every search below cheap.
        order = np.argsort(addresses[inside], kind="stable")
        rows, addresses = rows[inside][order], addresses[inside][order]
        found_rows, found = [], []
        for index, length in enumerate(self.lengths):  # at most 33 lengths, never per row
            start, end = self.starts[index], self.starts[index + 1]
            mask = np.uint32((_LOW_32 << (32 - int(length))) & _LOW_32)
            matched_rows, positions = _equal_ranges(self.lows[start:end], addresses & mask, rows)
            found_rows.append(matched_rows)
            found.append(positions + start)
        positions = np.concatenate(found)
        return pl.DataFrame(
            {
                ROW: np.concatenate(found_rows),
                INDICATOR: self.indicator_ids[positions],
                EVENT: self.event_ids[positions],
            },
            schema=PAIR_SCHEMA,
        )


def _equal_ranges(
    sorted_values: npt.NDArray[np.uint32],
    keys: npt.NDArray[np.uint32],
    rows: npt.NDArray[np.uint32],
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    """(row, position) for every position of `sorted_values` equal to each row's key: one
    network may be listed by several indicators, so a key can have many positions."""
    left = np.searchsorted(sorted_values, keys, side="left")
    counts = np.searchsorted(sorted_values, keys, side="right") - left
    total = int(counts.sum())
    firsts = np.repeat(left - (np.cumsum(counts) - counts), counts)
    return np.repeat(rows, counts), (firsts + np.arange(total)).astype(np.int64)


@dataclass(frozen=True, slots=True)
class IPv6Networks:
    """IPv6 networks (exact addresses as /128), as (prefix, hi, lo) of the network address."""

    networks: pl.DataFrame  # prefix UInt8, hi UInt64, lo UInt64, indicator_id, event_id
    lengths: list[int]

    @classmethod
    def build(cls, ranges: pl.DataFrame) -> IPv6Networks:
        """From `low_hi`, `low_lo`, `high_hi`, `high_lo` (UInt64) and the id columns."""
        halves = [ranges[name].to_numpy().astype(np.uint64) for name in _RANGE_HALVES]
        low_hi, low_lo, high_hi, high_lo = halves
        host_bits = np.bitwise_count(low_hi ^ high_hi) + np.bitwise_count(low_lo ^ high_lo)
        prefix = (128 - host_bits.astype(np.int64)).astype(np.uint8)
        networks = pl.DataFrame(
            {
                "prefix": prefix,
                "hi": low_hi,
                "lo": low_lo,
                INDICATOR: ranges[INDICATOR].cast(pl.Int64),
                EVENT: ranges[EVENT].cast(pl.Int64),
            }
        )
        return cls(networks=networks, lengths=sorted(int(n) for n in np.unique(prefix)))

    def pairs(
        self,
        rows: npt.NDArray[np.uint32],
        hi: npt.NDArray[np.uint64],
        lo: npt.NDArray[np.uint64],
    ) -> pl.DataFrame:
        """(row, indicator, event) for every network containing each row's address."""
        if not self.lengths or not len(rows):
            return empty_pairs()
        probes = []
        for length in self.lengths:  # a loop over prefix lengths present, not over rows
            mask = ((1 << 128) - 1) ^ ((1 << (128 - length)) - 1)
            probes.append(
                pl.DataFrame(
                    {
                        ROW: rows,
                        "prefix": np.full(len(rows), length, dtype=np.uint8),
                        "hi": hi & np.uint64(mask >> 64),
                        "lo": lo & np.uint64(mask & _LOW_64),
                    }
                )
            )
        joined = pl.concat(probes).join(self.networks, on=["prefix", "hi", "lo"])
        return joined.select(list(PAIR_SCHEMA))


_RANGE_HALVES = ("low_hi", "low_lo", "high_hi", "high_lo")


def _union(
    low: npt.NDArray[np.uint32], high: npt.NDArray[np.uint32]
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """The union of [low, high] ranges as sorted disjoint ranges."""
    if not len(low):
        return np.empty(0, np.uint32), np.empty(0, np.uint32)
    order = np.lexsort((~high, low))  # by low, the wider range first
    low, high = low[order], high[order]
    reach = np.maximum.accumulate(high)
    starts = np.ones(len(low), dtype=np.bool_)
    starts[1:] = low[1:] > reach[:-1]
    first = np.flatnonzero(starts)
    return low[first], np.maximum.reduceat(high, first).astype(np.uint32)


def _touched_blocks(
    union_low: npt.NDArray[np.uint32], union_high: npt.NDArray[np.uint32]
) -> npt.NDArray[np.uint8]:
    """Bitmap (little-endian bit order) of the /24 blocks the ranges touch; empty when there
    are too few ranges for it to pay (the union search alone is then as cheap)."""
    if len(union_low) < BITMAP_MIN_RANGES:
        return np.zeros(0, dtype=np.uint8)
    touched = np.zeros(_BLOCKS, dtype=np.bool_)  # 16 MiB while building, 2 MiB once packed
    first = (union_low >> _BLOCK_SHIFT).astype(np.int64)
    last = (union_high >> _BLOCK_SHIFT).astype(np.int64)
    narrow = last - first < _NARROW_BLOCKS
    counts = (last - first + 1)[narrow]
    offsets = np.cumsum(counts) - counts
    touched[np.repeat(first[narrow] - offsets, counts) + np.arange(int(counts.sum()))] = True
    for start, end in zip(first[~narrow].tolist(), last[~narrow].tolist(), strict=True):
        touched[start : end + 1] = True  # a loop over the few networks wider than a /16
    return np.packbits(touched, bitorder="little")
