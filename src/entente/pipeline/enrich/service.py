"""What `entente enrich` does, without printing: which files to read, reading them, checking
addresses. The CLI only adds progress bars and tables."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import httpx
import polars as pl

from entente.core.errors import BadValue, FetchError
from entente.pipeline.addresses import parse_addresses
from entente.pipeline.enrich.data import EnrichmentData, sample_files
from entente.pipeline.enrich.downloads import (
    PUBLIC_SOURCES,
    PublicSource,
    download,
    download_source,
    is_url,
)
from entente.pipeline.enrich.formats import read_source
from entente.pipeline.enrich.sources import SourceData, SourceFormat
from entente.pipeline.enrich.stage import enrich

DOWNLOADS = "downloads"

Item = str | PublicSource
"""One thing `update` reads: a local file, a URL, or one of the public sources."""


def update_items(locations: Sequence[str], sample: Sequence[Path] = ()) -> list[Item]:
    """The items to read, in order: `sample` files, then `locations` (a folder stands for
    the files in it). With neither, the public sources (`downloads.PUBLIC_SOURCES`)."""
    items: list[Item] = [str(path) for path in sample]
    for location in locations:
        folder = Path(location)
        if not is_url(location) and folder.is_dir():
            items.extend(str(path) for path in sorted(folder.iterdir()) if _is_data_file(path))
        else:
            items.append(location)
    return items if items or locations else list(PUBLIC_SOURCES)


def _is_data_file(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.suffix != ".md"


def needs_network(items: Sequence[Item]) -> bool:
    return any(isinstance(item, PublicSource) or is_url(item) for item in items)


def item_label(item: Item) -> str:
    return item.name if isinstance(item, PublicSource) else item


def read_item(
    item: Item,
    source_format: SourceFormat | None,
    data_dir: Path,
    client: httpx.Client | None,
) -> SourceData:
    """Read one item, downloading it first into `data_dir/downloads` when it is remote.

    `source_format` applies to local files and URLs; a public source knows its own.
    """
    if isinstance(item, PublicSource):
        return read_source(
            download_source(item, data_dir / DOWNLOADS, _online(client)), item.format
        )
    if is_url(item):
        return read_source(download(item, data_dir / DOWNLOADS, _online(client)), source_format)
    return read_source(Path(item), source_format)


def _online(client: httpx.Client | None) -> httpx.Client:
    if client is None:
        raise FetchError("a download was needed but no HTTP client was given")
    return client


def sample_data() -> EnrichmentData:
    """Enrichment data built from the sample shipped with Entente (demo and tests)."""
    return EnrichmentData.build([read_source(path) for path in sample_files()])


LOOKUP_COLUMNS = {"source.asn": "asn", "source.as_name": "as_name", "source.geolocation.cc": "cc"}


def lookup_addresses(data: EnrichmentData, addresses: Sequence[str]) -> pl.DataFrame:
    """`ip`, `asn`, `as_name`, `cc` for each address, as the pipeline would fill them."""
    column = pl.Series("source.ip", list(addresses), dtype=pl.String)
    invalid = [
        text for text, ok in zip(addresses, parse_addresses(column).valid, strict=True) if not ok
    ]
    if invalid:
        raise BadValue(f"not an IP address: {invalid[0]!r}", field="IP", value=invalid[0])
    enriched = enrich(pl.DataFrame({"source.ip": column}), data)
    return enriched.select(
        pl.col("source.ip").alias("ip"),
        *(pl.col(field).alias(name) for field, name in LOOKUP_COLUMNS.items()),
    )
