"""Where the public enrichment files live, and downloading them.

All of these are free to fetch without an account. MaxMind's GeoLite2 databases need a
licence key and are not fetched here: operators download them with MaxMind's `geoipupdate`
and pass the `.mmdb` files with `--from` (docs/enrichment.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from entente import __version__
from entente.core.errors import FetchError
from entente.pipeline.enrich.sources import SourceFormat

TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True, slots=True)
class PublicSource:
    """A public file. With `creation_log`, `url` is the folder the newest file is in and the
    log (CAIDA's `pfx2as-creation.log`, one `seq<TAB>time<TAB>path` line per file) names it."""

    name: str
    format: SourceFormat
    url: str
    creation_log: str | None = None


_RIR_STATS = {
    "afrinic": "https://ftp.afrinic.net/pub/stats/afrinic/delegated-afrinic-extended-latest",
    "apnic": "https://ftp.apnic.net/stats/apnic/delegated-apnic-extended-latest",
    "arin": "https://ftp.arin.net/pub/stats/arin/delegated-arin-extended-latest",
    "lacnic": "https://ftp.lacnic.net/pub/stats/lacnic/delegated-lacnic-extended-latest",
    "ripencc": "https://ftp.ripe.net/pub/stats/ripencc/delegated-ripencc-extended-latest",
}
_CAIDA = "https://publicdata.caida.org/datasets/routing"

PUBLIC_SOURCES: tuple[PublicSource, ...] = (
    # Countries first, origins after: on an identical prefix the later source wins, and
    # the two never disagree (one says the country, the other the AS).
    *(
        PublicSource(f"{registry} delegated-extended", SourceFormat.DELEGATED, url)
        for registry, url in _RIR_STATS.items()
    ),
    PublicSource(
        "RouteViews IPv4 prefix-to-AS",
        SourceFormat.PFX2AS,
        f"{_CAIDA}/routeviews-prefix2as/",
        creation_log=f"{_CAIDA}/routeviews-prefix2as/pfx2as-creation.log",
    ),
    PublicSource(
        "RouteViews IPv6 prefix-to-AS",
        SourceFormat.PFX2AS,
        f"{_CAIDA}/routeviews6-prefix2as/",
        creation_log=f"{_CAIDA}/routeviews6-prefix2as/pfx2as-creation.log",
    ),
    PublicSource(
        "RIPE NCC AS names", SourceFormat.AS_NAMES, "https://ftp.ripe.net/ripe/asnames/asn.txt"
    ),
)


def http_client() -> httpx.Client:
    return httpx.Client(
        timeout=TIMEOUT_SECONDS,
        follow_redirects=True,
        headers={"User-Agent": f"entente/{__version__} (enrichment data update)"},
    )


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def download_source(source: PublicSource, directory: Path, client: httpx.Client) -> Path:
    """Download one public file into `directory`; returns its path there."""
    url = source.url
    if source.creation_log is not None:
        url = source.url + _newest_in_log(client, source.creation_log)
    return download(url, directory, client)


def download(url: str, directory: Path, client: httpx.Client) -> Path:
    """Download `url` into `directory` (named after the URL's last path segment).

    The file is written beside its target and renamed when complete, so an interrupted
    download never leaves a truncated file that a later run would read.
    """
    directory.mkdir(parents=True, exist_ok=True)
    name = Path(urlsplit(url).path).name or "download"
    target = directory / name
    partial = directory / f".{name}.partial"
    try:
        with _fetching(url), client.stream("GET", url) as response:
            response.raise_for_status()
            with partial.open("wb") as handle:
                for chunk in response.iter_bytes():
                    handle.write(chunk)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _newest_in_log(client: httpx.Client, log_url: str) -> str:
    with _fetching(log_url):
        response = client.get(log_url)
        response.raise_for_status()
    entries = [line.split() for line in response.text.splitlines() if line.strip()]
    paths = [fields[2] for fields in entries if len(fields) >= 3 and not fields[0].startswith("#")]
    if not paths:
        raise FetchError(f"{log_url}: names no file (expected `seq time path` lines)")
    return paths[-1]


@contextmanager
def _fetching(url: str) -> Iterator[None]:
    """Turn httpx's errors into a `FetchError` that says what to do without network."""
    try:
        yield
    except httpx.HTTPStatusError as exc:
        raise FetchError(f"could not download {url}: HTTP {exc.response.status_code}") from exc
    except httpx.HTTPError as exc:
        raise FetchError(
            f"could not download {url}: {exc or type(exc).__name__}. Without network "
            "access, fetch the files on another machine and pass them with --from"
        ) from exc
    except OSError as exc:
        raise FetchError(f"could not save {url}: {exc}") from exc
