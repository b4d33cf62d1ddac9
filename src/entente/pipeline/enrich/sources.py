"""What every reader of a data file returns, and the line reading they share.

Files are read whole and split into a polars column of lines, so each format's checks run
as column expressions; the first bad line raises a `ParseError` naming the file and line
(a prepared table built from half a file would answer wrongly without anyone noticing).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from entente.core.errors import FetchError, ParseError
from entente.pipeline.addresses import parse_addresses
from entente.pipeline.enrich.as_names import AsNames
from entente.pipeline.enrich.prefixes import U64, V4_BITS, V6_BITS, Prefixes, host_masks

GZIP_MAGIC = b"\x1f\x8b"
LINE = "line"
TEXT = "text"


class SourceFormat(StrEnum):
    """The public data formats Entente reads (docs/enrichment.md describes each)."""

    MMDB = "mmdb"
    PFX2AS = "pfx2as"
    DELEGATED = "delegated"
    AS_NAMES = "asnames"
    AS_ORG = "as-org"


@dataclass(frozen=True, slots=True)
class SourceData:
    """What one file says: prefixes per family, AS names, and what was left out."""

    name: str
    format: SourceFormat
    v4: Prefixes
    v6: Prefixes
    as_names: AsNames = field(default_factory=AsNames.empty)
    skipped_longer_than_64: int = 0
    """IPv6 prefixes longer than /64, which the tables cannot hold (see `prefixes`)."""


def read_bytes(path: Path) -> bytes:
    """The file's content, un-gzipped when it is gzip (CAIDA and RIR files often are)."""
    try:
        content = path.read_bytes()
        return gzip.decompress(content) if content.startswith(GZIP_MAGIC) else content
    except FileNotFoundError as exc:
        raise FetchError(f"{path}: no such file") from exc
    except (OSError, EOFError) as exc:
        raise FetchError(f"{path}: cannot read: {exc}") from exc


def read_lines(path: Path) -> pl.DataFrame:
    """The non-blank lines of a text file with their 1-based numbers (`line`, `text`).

    Undecodable bytes become U+FFFD instead of failing: AS and organisation names in the
    public files are mostly UTF-8, with a few legacy Latin-1 names among them.
    """
    text = read_bytes(path).decode("utf-8", errors="replace")
    lines = pl.Series(TEXT, text.split("\n"), dtype=pl.String).str.strip_chars_end("\r")
    frame = pl.DataFrame({LINE: np.arange(1, len(lines) + 1, dtype=np.int64), TEXT: lines})
    return frame.filter(pl.col(TEXT).str.strip_chars() != "")


def raise_at_first(rows: pl.DataFrame, bad: pl.Series, path: Path, message: str) -> None:
    """Raise a `ParseError` at the first row where `bad` holds, quoting that line."""
    hits = rows.filter(bad)
    if hits.height:
        line, text = hits.row(0)[:2]
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise ParseError(f"{message}: {shown!r}", file=str(path), line=int(line))


@dataclass(frozen=True, slots=True)
class Networks:
    """CIDR networks read from a text column, split by family; `rows` index the input."""

    v4_rows: npt.NDArray[np.intp]
    v4_start: U64
    v4_length: npt.NDArray[np.uint8]
    v6_rows: npt.NDArray[np.intp]
    v6_start: U64
    v6_length: npt.NDArray[np.uint8]
    skipped_longer_than_64: int


def parse_networks(rows: pl.DataFrame, address: str, length: str, path: Path) -> Networks:
    """Check and split the networks in columns `address` (text) and `length` (integer).

    A network must be an address of its family with no host bits set: a file that says
    `1.2.3.4/24` is damaged, and guessing what it meant would enrich with wrong data.
    """
    parsed = parse_addresses(rows[address])
    lengths = rows[length].to_numpy().astype(np.int64)
    raise_at_first(rows, pl.Series(~parsed.valid), path, "not an IPv4 or IPv6 network address")
    too_long = (parsed.is_v4 & (lengths > V4_BITS)) | (parsed.is_v6 & (lengths > 128))
    raise_at_first(rows, pl.Series(too_long | (lengths < 0)), path, "prefix length out of range")
    v4_rows = np.flatnonzero(parsed.is_v4)
    v4_start = parsed.v4[v4_rows].astype(np.uint64)
    v4_length = lengths[v4_rows].astype(np.uint8)
    v4_loose = np.zeros(len(lengths), dtype=np.bool_)
    v4_loose[v4_rows] = (v4_start & host_masks(V4_BITS)[v4_length]) != 0
    raise_at_first(rows, pl.Series(v4_loose), path, "host bits set in network")
    kept_v6 = parsed.is_v6 & (lengths <= V6_BITS)
    v6_rows = np.flatnonzero(kept_v6)
    v6_start = parsed.hi[v6_rows]
    v6_length = lengths[v6_rows].astype(np.uint8)
    v6_loose = np.zeros(len(lengths), dtype=np.bool_)
    v6_loose[v6_rows] = ((v6_start & host_masks(V6_BITS)[v6_length]) != 0) | (
        parsed.lo[v6_rows] != 0
    )
    raise_at_first(rows, pl.Series(v6_loose), path, "host bits set in network")
    return Networks(
        v4_rows=v4_rows,
        v4_start=v4_start,
        v4_length=v4_length,
        v6_rows=v6_rows,
        v6_start=v6_start,
        v6_length=v6_length,
        skipped_longer_than_64=int((parsed.is_v6 & (lengths > V6_BITS)).sum()),
    )
