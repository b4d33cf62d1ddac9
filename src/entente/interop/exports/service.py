"""An export from request to bytes: check it, key it, serve it from the cache or render it.

`prepare_export` does everything that can fail or that decides the answer (bad options,
the cache key, whether a cached copy exists) before a single byte is sent: a streamed
response has sent its status by the time its body runs. The body then streams either the
cached file or the rendering, kept in the cache as it goes (`cache.ExportCache.written`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from entente.core.access import Viewer
from entente.core.clock import utcnow
from entente.core.config import Settings
from entente.core.errors import BadValue
from entente.interop.exports.cache import (
    ExportCache,
    cache_key,
    data_generation,
    visibility_scope,
)
from entente.interop.exports.csv_table import csv_table
from entente.interop.exports.rpz import DEFAULT_ZONE, RpzPolicy, check_zone, rpz_zone
from entente.interop.exports.selection import ExportFilter, Selection
from entente.interop.exports.snort import SnortVersion, snort_rules
from entente.interop.exports.suricata import suricata_rules
from entente.interop.exports.text_list import text_list
from entente.interop.exports.yara import yara_rules

# MISP's NIDS exports start at 4,000,000; Entente's default sits above them, so both feeds
# can run in one engine.
DEFAULT_SID_BASE = 5_000_000
# Sids are 32-bit; this leaves room for `rule_text.SLOTS` rules of 200 million indicators.
MAX_SID_BASE = 2_000_000_000
# Pieces are gathered into blocks of about this size before they are sent or written.
BLOCK = 64 * 1024


class ExportFormat(StrEnum):
    """The formats, with their media type and file name."""

    CSV = "csv"
    TEXT = "text"
    RPZ = "rpz"
    SURICATA = "suricata"
    SNORT = "snort"
    YARA = "yara"

    @property
    def media_type(self) -> str:
        # text/dns is the registered type of a DNS master file (RFC 4027).
        types = {"csv": "text/csv", "rpz": "text/dns"}
        return types.get(self.value, "text/plain") + "; charset=utf-8"

    @property
    def filename(self) -> str:
        names = {
            "csv": "entente-indicators.csv",
            "text": "entente-indicators.txt",
            "rpz": "entente-rpz.zone",
            "suricata": "entente-suricata.rules",
            "snort": "entente-snort.rules",
            "yara": "entente.yar",
        }
        return names[self.value]


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """How a format writes: the rules' first sid and Snort version, the RPZ zone and policy."""

    sid_base: int = DEFAULT_SID_BASE
    snort_version: SnortVersion = SnortVersion.V2
    rpz_zone: str = DEFAULT_ZONE
    rpz_policy: RpzPolicy = RpzPolicy.NXDOMAIN


@dataclass(frozen=True, slots=True)
class ExportRequest:
    format: ExportFormat
    filters: ExportFilter = field(default_factory=ExportFilter)
    options: ExportOptions = field(default_factory=ExportOptions)


@dataclass(frozen=True)
class PreparedExport:
    """A checked export: its key (also its ETag), and where its body comes from."""

    selection: Selection
    request: ExportRequest
    settings: Settings
    key: str
    cached: bool

    @property
    def etag(self) -> str:
        return f'"{self.key}"'

    def body(self) -> Iterator[bytes]:
        """The cached copy, or the rendering, kept in the cache once it has all gone out."""
        cache = export_cache(self.settings)
        stored = cache.opened(self.key) if self.cached else None
        if stored is not None:
            return stored
        pieces = render(self.selection, self.request, self.settings)
        return cache.written(self.key, _blocks(pieces))


def export_cache(settings: Settings) -> ExportCache:
    return ExportCache(settings.data_dir / "exports")


def prepare_export(
    session: Session,
    settings: Settings,
    viewer: Viewer,
    request: ExportRequest,
    now: datetime | None = None,
) -> PreparedExport:
    """Check the request, key it, and say whether its cached copy is there.

    Raises `BadValue` naming the option at fault before anything is read.
    """
    request = ExportRequest(request.format, request.filters.canonical(), checked(request.options))
    now = now or utcnow()
    selection = Selection(session, viewer, request.filters, now)
    parts = {
        "format": request.format.value,
        "filters": request.filters,
        "options": _relevant_options(request),
        "scope": visibility_scope(viewer),
        "generation": data_generation(session, now),
        "hour": selection.hour if request.filters.depends_on_the_hour else None,
        "base_url": settings.base_url,
    }
    key = cache_key(parts)
    return PreparedExport(selection, request, settings, key, export_cache(settings).has(key))


def checked(options: ExportOptions) -> ExportOptions:
    """The options, the zone name normalised; `BadValue` naming the option at fault."""
    if not 1 <= options.sid_base <= MAX_SID_BASE:
        raise BadValue(
            f"sid_base must be between 1 and {MAX_SID_BASE:,}",
            field="sid_base",
            value=options.sid_base,
        )
    return ExportOptions(
        options.sid_base, options.snort_version, check_zone(options.rpz_zone), options.rpz_policy
    )


def _relevant_options(request: ExportRequest) -> dict[str, str | int]:
    """Only the options the format reads: a CSV with another sid base is the same CSV."""
    options = request.options
    if request.format is ExportFormat.RPZ:
        return {"zone": options.rpz_zone, "policy": options.rpz_policy.value}
    if request.format is ExportFormat.SURICATA:
        return {"sid_base": options.sid_base}
    if request.format is ExportFormat.SNORT:
        return {"sid_base": options.sid_base, "version": options.snort_version.value}
    return {}


def render(selection: Selection, request: ExportRequest, settings: Settings) -> Iterator[str]:
    """The export's text, in pieces, as the format writes it."""
    options = request.options
    match request.format:
        case ExportFormat.CSV:
            return csv_table(selection)
        case ExportFormat.TEXT:
            return text_list(selection)
        case ExportFormat.RPZ:
            return rpz_zone(selection, options.rpz_zone, options.rpz_policy)
        case ExportFormat.SURICATA:
            return suricata_rules(selection, options.sid_base, settings.base_url)
        case ExportFormat.SNORT:
            return snort_rules(
                selection, options.sid_base, settings.base_url, options.snort_version
            )
        case ExportFormat.YARA:
            return yara_rules(selection)


def _blocks(pieces: Iterable[str]) -> Iterator[bytes]:
    """Text pieces as UTF-8 blocks of about `BLOCK` bytes: fewer writes, fewer sends."""
    pending: list[bytes] = []
    size = 0
    for piece in pieces:
        data = piece.encode()
        pending.append(data)
        size += len(data)
        if size >= BLOCK:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)
