"""The matching stage: every shared indicator each pipeline row matches.

Fields read, when the batch has them:

    source.ip, destination.ip           ipv4, ipv6, cidr (every containing network)
    source.fqdn, destination.fqdn       domain (the name or any parent), hostname (exact)
    source.url, destination.url         url (canonical equality)
    malware.hash.md5 / .sha1 / .sha256  md5 / sha1 / sha256

The stage adds `MATCHED_INDICATORS` and `MATCHED_EVENTS`, two aligned lists per row: the
i-th event id is the event of the i-th indicator id, sorted by indicator id, each indicator
once however many fields matched it; both are empty (never null) for a row that matched
nothing. They list every indicator whatever its markings: `recipients.restrict_to_recipients`
must run before the rows reach anyone.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]

from entente.pipeline.addresses import AddressColumn, parse_addresses
from entente.pipeline.batches import MATCHED_EVENTS, MATCHED_INDICATORS
from entente.pipeline.matching.index import IndicatorIndex
from entente.pipeline.matching.networks import EVENT, INDICATOR, ROW, empty_pairs
from entente.pipeline.matching.values import exact_pairs
from entente.sharing.indicators import IndicatorType

ADDRESS_FIELDS = ("source.ip", "destination.ip")
NAME_FIELDS = ("source.fqdn", "destination.fqdn")
URL_FIELDS = ("source.url", "destination.url")
HASH_FIELDS = {
    "malware.hash.md5": IndicatorType.MD5,
    "malware.hash.sha1": IndicatorType.SHA1,
    "malware.hash.sha256": IndicatorType.SHA256,
}

_IPV4_MAPPED_TAG = 0xFFFF  # bits 32-47 of an IPv4-mapped IPv6 address (::ffff:a.b.c.d)


def match(
    batch: pl.DataFrame, index: IndicatorIndex, parsed: Mapping[str, AddressColumn] | None = None
) -> pl.DataFrame:
    """`batch` with the ids of the indicators each row matches, and of their events.

    `parsed` may hand over address columns already parsed, keyed by field (`source.ip`).
    """
    present = set(batch.columns)
    known = parsed or {}
    found = [address_pairs(batch[f], index, known.get(f)) for f in ADDRESS_FIELDS if f in present]
    found += [index.names.pairs(batch[f]) for f in NAME_FIELDS if f in present]
    found += [index.urls.pairs(batch[f]) for f in URL_FIELDS if f in present]
    found += [
        exact_pairs(batch[f], index.hashes[kind]) for f, kind in HASH_FIELDS.items() if f in present
    ]
    return with_references(batch, pl.concat([empty_pairs(), *found]))


def address_pairs(
    values: pl.Series, index: IndicatorIndex, parsed: AddressColumn | None = None
) -> pl.DataFrame:
    """(row, indicator, event) for every ip or cidr indicator containing each row's address."""
    present = values.is_not_null()
    if not (index.ipv4.lengths.size or index.ipv6.lengths) or not present.any():
        return empty_pairs()  # parsing is the costly part: skip it when it cannot match
    rows = np.flatnonzero(present.to_numpy()).astype(np.uint32)
    mask = present.to_numpy()
    parsed = parsed.select(mask) if parsed is not None else parse_addresses(values.filter(present))
    mapped = parsed.is_v6 & (parsed.hi == 0) & ((parsed.lo >> np.uint64(32)) == _IPV4_MAPPED_TAG)
    as_v4 = parsed.is_v4 | mapped
    v4 = np.where(parsed.is_v4, parsed.v4, parsed.lo.astype(np.uint32))  # low 32 bits if mapped
    v6 = parsed.is_v6 & ~mapped
    return pl.concat(
        [
            index.ipv4.pairs(rows[as_v4], v4[as_v4]),
            index.ipv6.pairs(rows[v6], parsed.hi[v6], parsed.lo[v6]),
        ]
    )


def with_references(batch: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """`batch` with its reference columns built from (row, indicator, event) pairs."""
    pairs = pairs.unique([ROW, INDICATOR]).sort([ROW, INDICATOR])
    counts = np.bincount(pairs[ROW].to_numpy(), minlength=batch.height)
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))

    def lists(column: str) -> pl.Series:
        values = pa.array(pairs[column].to_numpy(), type=pa.int64())
        series = pl.Series(pa.LargeListArray.from_arrays(offsets, values))
        return series.cast(pl.List(pl.Int64))

    return batch.with_columns(
        lists(INDICATOR).alias(MATCHED_INDICATORS), lists(EVENT).alias(MATCHED_EVENTS)
    )
