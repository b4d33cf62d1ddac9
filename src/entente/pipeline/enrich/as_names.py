"""AS number to AS name, looked up for a whole column with one `searchsorted`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

ASN = "asn"
NAME = "name"
MAX_ASN = (1 << 32) - 1
"""ASNs are 32-bit numbers (RFC 6793)."""


DENSE_LIMIT = 1 << 20
"""ASNs below this (all but a few private and future ones) find their name by direct index."""


@dataclass(frozen=True, slots=True)
class AsNames:
    """Sorted, unique ASNs and their names (`names[i]` is the name of `asns[i]`).

    `dense[asn]` is the position of each ASN below `DENSE_LIMIT` (or `len(asns)`: no
    name): a 4 MiB array read once per row, several times faster over millions of rows
    than a binary search; larger ASNs are searched.
    """

    asns: npt.NDArray[np.uint32]
    names: pl.Series
    dense: npt.NDArray[np.int32]

    def __len__(self) -> int:
        return len(self.asns)

    @classmethod
    def of(cls, asns: npt.NDArray[np.uint32], names: pl.Series) -> AsNames:
        """From sorted unique `asns` and their `names`."""
        dense = np.full(DENSE_LIMIT, len(asns), dtype=np.int32)
        small = asns < DENSE_LIMIT
        dense[asns[small]] = np.flatnonzero(small)
        dense[0] = len(asns)
        return cls(asns=asns, names=names.alias(NAME), dense=dense)

    @classmethod
    def empty(cls) -> AsNames:
        return cls.of(np.zeros(0, dtype=np.uint32), pl.Series(NAME, [], dtype=pl.String))

    @classmethod
    def from_frame(cls, frame: pl.DataFrame) -> AsNames:
        """From `asn` (integer) and `name` columns; a later row for the same ASN wins.

        Empty names are dropped, so they never hide a name another source gives.
        """
        named = (
            frame.select(
                pl.col(ASN).cast(pl.UInt32), pl.col(NAME).cast(pl.String).str.strip_chars()
            )
            .filter(pl.col(ASN).is_not_null() & (pl.col(NAME).fill_null("") != ""))
            .unique(subset=ASN, keep="last", maintain_order=True)
            .sort(ASN)
        )
        return cls.of(named[ASN].to_numpy().astype(np.uint32), named[NAME])

    @classmethod
    def merge(cls, parts: Sequence[AsNames]) -> AsNames:
        """All parts' names; where two name the same ASN, the later part wins."""
        frames = [part.frame() for part in parts if len(part)]
        if not frames:
            return cls.empty()
        return cls.from_frame(pl.concat(frames))

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame({ASN: self.asns, NAME: self.names})

    def name_of(self, asns: pl.Series) -> pl.Series:
        """The name of each ASN in the column (null where the ASN is null or unknown)."""
        keys = asns.cast(pl.UInt32, strict=False).fill_null(0).to_numpy().astype(np.uint32)
        index = self.dense[np.minimum(keys, DENSE_LIMIT - 1)]
        large = np.flatnonzero(keys >= DENSE_LIMIT)
        if len(large) and len(self.asns):
            position = np.minimum(np.searchsorted(self.asns, keys[large]), len(self.asns) - 1)
            found = self.asns[position] == keys[large]
            index[large] = np.where(found, position, len(self.asns))
        elif len(large):
            index[large] = len(self.asns)
        padded = pl.concat([self.names, pl.Series(NAME, [None], dtype=pl.String)])
        return padded.gather(index)
