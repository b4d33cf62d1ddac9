"""Nested prefixes flattened once into non-overlapping intervals, so a lookup is a search.

Routing data nests: a /16 of a provider holds /24s its customers announce, and an RIR block
holds smaller ones. The most specific prefix (the longest) that holds an address is the one
that routes it (longest-prefix match, RFC 1812 section 5.2.4.3), so that one wins. Instead
of matching at lookup time, `flatten` cuts the address space at every prefix boundary and
gives each piece the value of its most specific prefix, once, when the data is built.
Lookup is then one `numpy.searchsorted` over the pieces' starts per address family (large
IPv4 tables add a direct /24 index in front of it, `BlockIndex`).

The ASN and the country are resolved separately (a pfx2as file says only the ASN, an RIR
file only the country) and then laid on the same pieces, so one search answers both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from entente.pipeline.enrich.prefixes import NO_ASN, NO_COUNTRY, U64, Prefixes, host_masks


@dataclass(frozen=True, slots=True)
class IntervalTable:
    """Sorted, non-overlapping intervals covering one address family from its first address.

    Interval `i` runs from `starts[i]` to `starts[i + 1] - 1` (the last one to the end of the
    space); `asn` 0 and `country` 0 mean nothing is known there. `starts` is `uint32` for
    IPv4 and `uint64` (high half of the address) for IPv6; `starts[0]` is always 0.
    """

    starts: npt.NDArray[np.uint32] | npt.NDArray[np.uint64]
    asn: npt.NDArray[np.uint32]
    country: npt.NDArray[np.uint16]

    def __len__(self) -> int:
        return len(self.starts)

    def find(self, keys: npt.NDArray[np.uint32] | npt.NDArray[np.uint64]) -> npt.NDArray[np.intp]:
        """The interval holding each key: one binary search per key, no Python loop."""
        found: npt.NDArray[np.intp] = np.searchsorted(self.starts, keys, side="right") - 1
        return found


BLOCK_SHIFT = 8
"""IPv4 blocks of the direct index are /24s: the longest prefix most networks route."""
SPLIT = -1


@dataclass(frozen=True, slots=True)
class BlockIndex:
    """For each IPv4 /24, the interval holding all of it, or `SPLIT` where an interval
    starts inside it.

    Why: a binary search over a million intervals misses the CPU caches at most of its 20
    steps, and was most of the stage's time; one read from this 64 MiB array is a single
    (parallel) memory access. BGP tables hold few prefixes longer than /24 (most networks
    filter them), so the rows that fall in a split /24 and still need a search are few.
    Built from the table at load time (about 0.1 s), never saved.
    """

    table: IntervalTable
    blocks: npt.NDArray[np.int32]

    @classmethod
    def of(cls, table: IntervalTable) -> BlockIndex:
        starts = table.starts.astype(np.uint32)
        block_of_start = starts >> BLOCK_SHIFT
        size = 1 << (32 - BLOCK_SHIFT)
        in_blocks_so_far = np.cumsum(np.bincount(block_of_start, minlength=size), dtype=np.int32)
        # The interval holding a block's first address is the last one starting at or
        # before it: (starts in earlier blocks) - 1, plus one if one starts exactly there.
        blocks = np.empty(size, dtype=np.int32)
        blocks[0] = -1
        blocks[1:] = in_blocks_so_far[:-1] - 1
        on_boundary = (starts & np.uint32((1 << BLOCK_SHIFT) - 1)) == 0
        blocks[block_of_start[on_boundary]] += 1
        blocks[block_of_start[~on_boundary]] = SPLIT
        return cls(table=table, blocks=blocks)

    def find(self, keys: npt.NDArray[np.uint32]) -> npt.NDArray[np.intp]:
        """The interval holding each IPv4 key (same answer as `IntervalTable.find`)."""
        found: npt.NDArray[np.intp] = self.blocks[keys >> BLOCK_SHIFT].astype(np.intp)
        split = np.flatnonzero(found == SPLIT)
        if len(split):
            found[split] = self.table.find(keys[split])
        return found


def flatten(prefixes: Prefixes, bits: int) -> IntervalTable:
    """The interval table of `prefixes` (network numbers of `bits` bits): most specific wins.

    Where two entries give the very same prefix, the later one wins (sources are read in
    the order the operator lists them). Adjacent intervals with equal values are merged.
    """
    if not len(prefixes):
        starts = np.zeros(1, dtype=np.uint64)
        return _table(starts, np.zeros(1, np.uint32), np.zeros(1, np.uint16), bits)
    top = np.uint64((1 << bits) - 1)
    last = prefixes.start | host_masks(bits)[prefixes.length]
    ends_inside = last != top
    cuts = np.concatenate(
        [np.zeros(1, np.uint64), prefixes.start, last[ends_inside] + np.uint64(1)]
    )
    starts = _distinct(cuts)
    asn_winner = _paint(starts, prefixes, last, prefixes.asn != NO_ASN)
    country_winner = _paint(starts, prefixes, last, prefixes.country != NO_COUNTRY)
    # Intervals no prefix covers (winner -1) read entry 0 and are then set to "nothing".
    asn = np.where(asn_winner >= 0, prefixes.asn[np.maximum(asn_winner, 0)], NO_ASN)
    country = np.where(
        country_winner >= 0, prefixes.country[np.maximum(country_winner, 0)], NO_COUNTRY
    )
    changes = np.ones(len(starts), dtype=np.bool_)
    changes[1:] = (asn[1:] != asn[:-1]) | (country[1:] != country[:-1])
    return _table(starts[changes], asn[changes], country[changes], bits)


def _distinct(values: U64) -> U64:
    """Sorted distinct values (sort and drop repeats: faster here than `np.unique`)."""
    ordered = np.sort(values)
    keep = np.ones(len(ordered), dtype=np.bool_)
    keep[1:] = ordered[1:] != ordered[:-1]
    return ordered[keep]


def _table(
    starts: U64, asn: npt.NDArray[np.uint32], country: npt.NDArray[np.uint16], bits: int
) -> IntervalTable:
    return IntervalTable(
        starts=starts.astype(np.uint32) if bits <= 32 else starts.astype(np.uint64),
        asn=asn.astype(np.uint32),
        country=country.astype(np.uint16),
    )


def _paint(
    starts: U64, prefixes: Prefixes, last: U64, selected: npt.NDArray[np.bool_]
) -> npt.NDArray[np.int64]:
    """For each interval, the index of the most specific selected prefix holding it, or -1.

    Prefixes are laid level by level, shortest first, so a longer one overwrites the
    shorter one it sits in. CIDR prefixes of one length never overlap unless they are
    equal, and equal ones are reduced to the last, so within a level each interval is
    covered at most once and a running sum of +id at a prefix's first interval and -id
    after its last marks exactly its intervals. The loop runs over lengths (at most 65),
    never over prefixes.
    """
    winner = np.full(len(starts), -1, dtype=np.int64)
    chosen = _last_of_duplicates(prefixes, np.flatnonzero(selected))
    if not len(chosen):
        return winner
    for length in np.unique(prefixes.length[chosen]):
        level = chosen[prefixes.length[chosen] == length]
        first = np.searchsorted(starts, prefixes.start[level])
        level_last = last[level]
        past = np.searchsorted(starts, level_last, side="right")
        marks = np.zeros(len(starts) + 1, dtype=np.int64)
        marks[first] = level + 1
        unmarks = np.zeros(len(starts) + 1, dtype=np.int64)
        unmarks[past] = level + 1
        inside = np.cumsum(marks - unmarks)[:-1]
        covered = inside > 0
        winner[covered] = inside[covered] - 1
    return winner


def _last_of_duplicates(prefixes: Prefixes, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """`rows` less every prefix that a later row repeats exactly (same start and length)."""
    backwards = rows[::-1]
    # lexsort is stable, so within a group of equal prefixes the latest row comes first.
    order = backwards[np.lexsort((prefixes.length[backwards], prefixes.start[backwards]))]
    repeated = np.zeros(len(order), dtype=np.bool_)
    repeated[1:] = (prefixes.start[order][1:] == prefixes.start[order][:-1]) & (
        prefixes.length[order][1:] == prefixes.length[order][:-1]
    )
    return order[~repeated]
