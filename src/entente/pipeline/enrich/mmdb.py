"""Reader of MaxMind DB files (`.mmdb`): GeoLite2/GeoIP2 ASN, ISP, Country and City, and the
same layout from other vendors.

The file is walked network by network with `maxminddb` (a Python loop over its networks, at
update time only: the library offers no columnar export, and lookups later run on the
flattened arrays). Fields read, whichever the database type has:

- ASN: `autonomous_system_number` (MaxMind), or `asn` as `15169` or `"AS15169"` (IPinfo);
- AS name: `autonomous_system_organization` (MaxMind), or `as_name` (IPinfo);
- country: `country.iso_code` (where the address is used), else `registered_country.iso_code`
  (where its block is registered: MaxMind leaves `country` out for some anycast and
  satellite networks), else `country_code` (IPinfo).
"""

from __future__ import annotations

import gzip
import io
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

import maxminddb
import numpy as np
import polars as pl
from maxminddb.errors import InvalidDatabaseError
from maxminddb.types import Record

from entente.core.errors import FetchError, ParseError
from entente.pipeline.enrich.as_names import ASN, MAX_ASN, NAME, AsNames
from entente.pipeline.enrich.prefixes import NO_ASN, NO_COUNTRY, V6_BITS, Prefixes
from entente.pipeline.enrich.sources import GZIP_MAGIC, SourceData, SourceFormat

METADATA_MARKER = b"\xab\xcd\xefMaxMind.com"
"""Opens the metadata section, within the last 128 KiB of every MaxMind DB file (spec 2.0)."""
METADATA_WINDOW = 128 * 1024


def looks_like_mmdb(content: bytes) -> bool:
    """Whether these bytes (a whole file) are a MaxMind DB."""
    return METADATA_MARKER in content[-METADATA_WINDOW:]


def read_mmdb(path: Path) -> SourceData:
    """ASNs, AS names and countries of every network in a MaxMind DB file.

    Accepts the `.mmdb` itself, a gzip of it, or the `.tar.gz` MaxMind's download serves.
    """
    with _database_file(path) as database:
        try:
            with maxminddb.open_database(str(database)) as reader:
                found = _walk(reader)
        except (InvalidDatabaseError, ValueError, TypeError, OSError) as exc:
            raise ParseError(f"not a readable MaxMind DB: {exc}", file=str(path)) from exc
    return SourceData(
        name=str(path),
        format=SourceFormat.MMDB,
        v4=found.v4.prefixes(),
        v6=found.v6.prefixes(),
        as_names=AsNames.from_frame(
            pl.DataFrame(
                {ASN: found.name_asns, NAME: found.names}, schema={ASN: pl.Int64, NAME: pl.String}
            )
        ),
        skipped_longer_than_64=found.skipped,
    )


@dataclass
class _Columns:
    start: list[int] = field(default_factory=list)
    length: list[int] = field(default_factory=list)
    asn: list[int] = field(default_factory=list)
    country: list[int] = field(default_factory=list)

    def prefixes(self) -> Prefixes:
        return Prefixes(
            start=np.array(self.start, dtype=np.uint64),
            length=np.array(self.length, dtype=np.uint8),
            asn=np.array(self.asn, dtype=np.uint32),
            country=np.array(self.country, dtype=np.uint16),
        )


@dataclass
class _Found:
    v4: _Columns = field(default_factory=_Columns)
    v6: _Columns = field(default_factory=_Columns)
    name_asns: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    skipped: int = 0


def _walk(reader: maxminddb.Reader) -> _Found:
    found = _Found()
    for network, record in reader:
        if not isinstance(record, dict):
            continue
        asn, country = _asn(record), _country(record)
        name = record.get("autonomous_system_organization", record.get("as_name"))
        if asn != NO_ASN and isinstance(name, str) and name:
            found.name_asns.append(asn)
            found.names.append(name)
        if asn == NO_ASN and country == NO_COUNTRY:
            continue
        if network.prefixlen > V6_BITS:
            found.skipped += 1
            continue
        columns = found.v4 if isinstance(network, IPv4Network) else found.v6
        columns.start.append(_start(network))
        columns.length.append(network.prefixlen)
        columns.asn.append(asn)
        columns.country.append(country)
    return found


def _start(network: IPv4Network | IPv6Network) -> int:
    number = int(network.network_address)
    return number if isinstance(network, IPv4Network) else number >> V6_BITS


def _asn(record: dict[str, Record]) -> int:
    value = record.get("autonomous_system_number", record.get("asn"))
    if isinstance(value, str) and value.upper().removeprefix("AS").isdigit():
        value = int(value.upper().removeprefix("AS"))
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ASN:
        return value
    return NO_ASN


def _country(record: dict[str, Record]) -> int:
    for key in ("country", "registered_country"):
        place = record.get(key)
        if isinstance(place, dict):
            code = place.get("iso_code")
            if isinstance(code, str) and len(code) == 2 and code.isascii() and code.isalpha():
                return (ord(code[0].upper()) << 8) | ord(code[1].upper())
    code = record.get("country_code")
    if isinstance(code, str) and len(code) == 2 and code.isascii() and code.isalpha():
        return (ord(code[0].upper()) << 8) | ord(code[1].upper())
    return NO_COUNTRY


@contextmanager
def _database_file(path: Path) -> Iterator[Path]:
    """A path to the plain `.mmdb`, unpacked to a temporary file when `path` is packed."""
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
        packed = head.startswith(GZIP_MAGIC) or _is_tar(head)
    except FileNotFoundError as exc:
        raise FetchError(f"{path}: no such file") from exc
    except OSError as exc:
        raise FetchError(f"{path}: cannot read: {exc}") from exc
    if not packed:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="entente-mmdb-") as scratch:
        plain = Path(scratch) / "database.mmdb"
        plain.write_bytes(_unpack(path))
        yield plain


def _unpack(path: Path) -> bytes:
    content = path.read_bytes()
    if content.startswith(GZIP_MAGIC):
        content = gzip.decompress(content)
    if not _is_tar(content):
        return content
    with tarfile.open(fileobj=io.BytesIO(content)) as archive:
        for member in archive.getmembers():
            extracted = archive.extractfile(member) if member.name.endswith(".mmdb") else None
            if extracted is not None:
                return extracted.read()
    raise ParseError("archive holds no .mmdb file", file=str(path))


def _is_tar(content: bytes) -> bool:
    # POSIX tar puts "ustar" at offset 257 of the first header block.
    return content[257:262] == b"ustar"
