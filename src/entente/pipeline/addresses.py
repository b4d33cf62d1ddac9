"""IP address strings to numbers, a whole column at a time.

IPv4 becomes a `uint32`, IPv6 two `uint64` halves (`hi`, `lo`), so lookups over sorted
arrays (`numpy.searchsorted`) can route and enrich millions of rows without a Python loop.
IPv4 is parsed by polars string kernels; IPv6, rarer in feeds, goes through `ipaddress`
for just those rows. Octets with leading zeros (`010.1.1.1`) are refused, as by
`ipaddress`: some tools read them as octal, so their meaning is ambiguous.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

_IPV4 = r"^(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$"
_LOW_64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class AddressColumn:
    """Parsed addresses, aligned with the input: `version` is 4, 6 or 0 (null or invalid).

    `v4` holds the IPv4 value (0 where the row is not IPv4); `hi`/`lo` the IPv6 halves
    (0 where not IPv6).
    """

    version: npt.NDArray[np.uint8]
    v4: npt.NDArray[np.uint32]
    hi: npt.NDArray[np.uint64]
    lo: npt.NDArray[np.uint64]

    @property
    def is_v4(self) -> npt.NDArray[np.bool_]:
        return np.equal(self.version, 4)

    @property
    def is_v6(self) -> npt.NDArray[np.bool_]:
        return np.equal(self.version, 6)

    @property
    def valid(self) -> npt.NDArray[np.bool_]:
        return np.not_equal(self.version, 0)

    def select(self, rows: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> AddressColumn:
        """The addresses of some rows (a mask or positions), aligned as the rows are."""
        return AddressColumn(self.version[rows], self.v4[rows], self.hi[rows], self.lo[rows])


def parse_addresses(values: pl.Series) -> AddressColumn:
    """Parse a string column of IPv4/IPv6 addresses; anything else gets version 0."""
    text = values.cast(pl.String).str.strip_chars()
    octets = (
        pl.DataFrame({"text": text})
        .lazy()
        .select(
            pl.col("text").str.contains(_IPV4).fill_null(False).alias("shape"),
            pl.col("text").str.split_exact(".", 3).struct.rename_fields(list("abcd")).alias("o"),
        )
        .unnest("o")
        .select(
            pl.col("shape"),
            *(pl.col(name).cast(pl.UInt32, strict=False).fill_null(0) for name in "abcd"),
        )
        .collect()
    )
    is_v4 = octets["shape"].to_numpy()
    for name in "abcd":
        is_v4 &= octets[name].to_numpy() <= 255
    a, b, c, d = (octets[name].to_numpy().astype(np.uint32) for name in "abcd")
    v4_values = np.where(is_v4, (a << 24) | (b << 16) | (c << 8) | d, 0).astype(np.uint32)
    version = np.where(is_v4, 4, 0).astype(np.uint8)
    hi = np.zeros(len(text), dtype=np.uint64)
    lo = np.zeros(len(text), dtype=np.uint64)
    maybe_v6 = text.str.contains(":", literal=True).fill_null(False).to_numpy()
    for index in np.flatnonzero(maybe_v6):
        address = _ipv6(text[int(index)])
        if address is not None:
            version[index] = 6
            hi[index] = address >> 64
            lo[index] = address & _LOW_64
    return AddressColumn(version=version, v4=v4_values, hi=hi, lo=lo)


def _ipv6(text: str) -> int | None:
    try:
        return int(ipaddress.IPv6Address(text))
    except ValueError:
        return None


def format_v4(values: npt.NDArray[np.uint32]) -> pl.Series:
    """Dotted-quad strings of IPv4 numbers (the inverse of `parse_addresses` for IPv4)."""
    numbers = values.astype(np.uint32)
    octets = [pl.Series(((numbers >> shift) & 255).astype(np.uint8)) for shift in (24, 16, 8, 0)]
    dotted = pl.concat_str([octet.cast(pl.String) for octet in octets], separator=".")
    return pl.select(dotted.alias("address")).to_series()
