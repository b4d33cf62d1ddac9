"""The prepared enrichment data: flattened network tables and AS names, saved for fast loads.

Building from the public files takes seconds (parsing, splitting, flattening a million
prefixes); the prepared arrays load in well under a second, so `entente enrich update`
builds once and every pipeline worker loads the result. On disk (one directory):

- `networks.npz`: the two interval tables as plain numpy arrays (no pickled objects);
- `as_names.parquet`: `asn` (UInt32), `name` (String);
- `sources.json`: what the data was built from, when, and the layout version.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from entente.core.errors import NotFound, ParseError
from entente.pipeline.addresses import AddressColumn
from entente.pipeline.enrich.as_names import AsNames
from entente.pipeline.enrich.intervals import BlockIndex, IntervalTable, flatten
from entente.pipeline.enrich.prefixes import (
    NO_COUNTRY,
    V4_BITS,
    V6_BITS,
    Prefixes,
    country_text,
)
from entente.pipeline.enrich.sources import SourceData

LAYOUT_VERSION = 1
NETWORKS_FILE = "networks.npz"
AS_NAMES_FILE = "as_names.parquet"
SOURCES_FILE = "sources.json"
SAMPLE_DIR = Path(__file__).parent / "data" / "sample"
BLOCK_INDEX_FROM = 1 << 16
"""IPv4 intervals from which the /24 index (64 MiB) pays: a smaller table's starts stay in
the CPU caches, so its binary search is already fast (the sample and tests stay lean)."""


@dataclass(frozen=True, slots=True)
class SourceSummary:
    """What one source file contributed, for `entente enrich update` and `sources.json`."""

    name: str
    format: str
    v4_prefixes: int
    v6_prefixes: int
    as_names: int
    skipped_longer_than_64: int

    @classmethod
    def of(cls, source: SourceData) -> SourceSummary:
        return cls(
            name=source.name,
            format=source.format.value,
            v4_prefixes=len(source.v4),
            v6_prefixes=len(source.v6),
            as_names=len(source.as_names),
            skipped_longer_than_64=source.skipped_longer_than_64,
        )


@dataclass(frozen=True, slots=True)
class NetworkTable:
    """IPv4 and IPv6 interval tables, and the country codes they use, looked up as columns."""

    v4: IntervalTable
    v6: IntervalTable
    v4_blocks: BlockIndex | None
    """The /24 index, for tables large enough to need it (`BLOCK_INDEX_FROM`)."""
    country_index: npt.NDArray[np.int32]
    """Packed country code -> position in `country_names` (65,536 entries, 0 -> null)."""
    country_names: pl.Series

    @classmethod
    def of(cls, v4: IntervalTable, v6: IntervalTable) -> NetworkTable:
        seen = np.bincount(v4.country, minlength=1 << 16) + np.bincount(
            v6.country, minlength=1 << 16
        )
        seen[NO_COUNTRY] = 1
        codes = np.flatnonzero(seen)
        index = np.zeros(1 << 16, dtype=np.int32)
        index[codes] = np.arange(len(codes), dtype=np.int32)
        names = [None if code == NO_COUNTRY else country_text(int(code)) for code in codes]
        blocks = BlockIndex.of(v4) if len(v4) >= BLOCK_INDEX_FROM else None
        return cls(v4, v6, blocks, index, pl.Series("cc", names, dtype=pl.String))

    def lookup(self, addresses: AddressColumn) -> tuple[pl.Series, pl.Series]:
        """ASN (Int64) and country (String) of each address; null where nothing is known.

        IPv4 goes through the /24 index (small tables: the search) for all rows; non-IPv4
        rows look up 0 and are masked out after, cheaper than gathering the IPv4 rows
        first. IPv6 rows, rare in feeds, are gathered and searched by the high 64 bits.
        """
        is_v4 = addresses.is_v4
        found = (self.v4_blocks or self.v4).find(addresses.v4)
        asn = np.where(is_v4, self.v4.asn[found], 0).astype(np.uint32)
        country = np.where(is_v4, self.v4.country[found], NO_COUNTRY).astype(np.uint16)
        v6_rows = np.flatnonzero(addresses.is_v6)
        if len(v6_rows):
            found_v6 = self.v6.find(addresses.hi[v6_rows])
            asn[v6_rows] = self.v6.asn[found_v6]
            country[v6_rows] = self.v6.country[found_v6]
        numbers = pl.Series("asn", asn.astype(np.int64))
        asn_column = pl.select(pl.when(numbers != 0).then(numbers)).to_series().alias("asn")
        country_column = self.country_names.gather(self.country_index[country])
        return asn_column, country_column


@dataclass(frozen=True, slots=True)
class EnrichmentData:
    """Everything `enrich` needs: where each network is routed and registered, and AS names."""

    networks: NetworkTable
    as_names: AsNames
    sources: tuple[SourceSummary, ...] = ()
    built_at: str = ""

    @classmethod
    def build(cls, sources: Sequence[SourceData]) -> EnrichmentData:
        """Pool the sources (later ones win on an identical prefix or ASN) and flatten them."""
        v4 = flatten(Prefixes.concat([source.v4 for source in sources]), V4_BITS)
        v6 = flatten(Prefixes.concat([source.v6 for source in sources]), V6_BITS)
        return cls(
            networks=NetworkTable.of(v4, v6),
            as_names=AsNames.merge([source.as_names for source in sources]),
            sources=tuple(SourceSummary.of(source) for source in sources),
            built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def save(self, directory: Path) -> None:
        """Write the three files; each replaces the old one whole, so a reader never sees
        half a file."""
        directory.mkdir(parents=True, exist_ok=True)
        networks = self.networks
        with _replacing(directory / NETWORKS_FILE) as scratch, scratch.open("wb") as handle:
            np.savez(
                handle,
                v4_starts=networks.v4.starts,
                v4_asn=networks.v4.asn,
                v4_country=networks.v4.country,
                v6_starts=networks.v6.starts,
                v6_asn=networks.v6.asn,
                v6_country=networks.v6.country,
            )
        with _replacing(directory / AS_NAMES_FILE) as scratch:
            self.as_names.frame().write_parquet(scratch)
        manifest = {
            "layout_version": LAYOUT_VERSION,
            "built_at": self.built_at,
            "sources": [asdict(source) for source in self.sources],
        }
        with _replacing(directory / SOURCES_FILE) as scratch:
            scratch.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> EnrichmentData:
        """The data `save` wrote to `directory`."""
        if not (directory / NETWORKS_FILE).is_file():
            raise NotFound(f"no enrichment data in {directory}: run `entente enrich update` first")
        manifest = _read_manifest(directory / SOURCES_FILE)
        networks_path = directory / NETWORKS_FILE
        try:
            with np.load(networks_path, allow_pickle=False) as arrays:
                v4 = IntervalTable(arrays["v4_starts"], arrays["v4_asn"], arrays["v4_country"])
                v6 = IntervalTable(arrays["v6_starts"], arrays["v6_asn"], arrays["v6_country"])
            names = pl.read_parquet(directory / AS_NAMES_FILE)
            as_names = AsNames.of(names["asn"].to_numpy().astype(np.uint32), names["name"])
        except (
            OSError,
            ValueError,
            KeyError,
            zipfile.BadZipFile,
            pl.exceptions.PolarsError,
        ) as exc:
            raise ParseError(f"damaged enrichment data: {exc}", file=str(directory)) from exc
        listed = manifest.get("sources", [])
        sources = (
            tuple(SourceSummary(**source) for source in listed) if isinstance(listed, list) else ()
        )
        return cls(NetworkTable.of(v4, v6), as_names, sources, str(manifest.get("built_at", "")))


def _read_manifest(path: Path) -> dict[str, object]:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ParseError(f"damaged enrichment data: {exc}", file=str(path)) from exc
    if not isinstance(manifest, dict) or manifest.get("layout_version") != LAYOUT_VERSION:
        raise ParseError(
            f"enrichment data of another layout (this version reads {LAYOUT_VERSION}): "
            "run `entente enrich update` again",
            file=str(path),
        )
    return manifest


@contextmanager
def _replacing(target: Path) -> Iterator[Path]:
    """A scratch path next to `target` that replaces it (atomically) if the block succeeds."""
    scratch = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        yield scratch
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise
    os.replace(scratch, target)


def sample_files() -> list[Path]:
    """The small sample shipped with Entente (real formats, a few hundred prefixes), for the
    demo and tests; its README says which entries are real and which are made up."""
    return sorted(path for path in SAMPLE_DIR.iterdir() if path.name != "README.md")
