"""Finished exports kept on disk, so tools polling every few minutes cost one read.

An entry is keyed by everything its content depends on (`cache_key`):

- the format, its options and the canonical filter;
- the viewer's *visibility scope*: its organisation and its sharing groups, the only inputs
  of the access predicate (`core.access.visible_to`) besides the data itself. Two
  organisations never share an entry, even with identical groups: named recipients and
  local tags are per organisation. Two users of one organisation with the same groups see
  exactly the same rows, so they share one;
- the *data generation* (`data_generation`): counts and latest changes of every table an
  export reads. Any write that could change an export (an indicator added or removed, an
  event edited, published, re-marked or re-tagged, a sighting that moves decay, a STIX
  object imported) changes it, and so the key; so does an indicator expiring, through the
  count of expired indicators at the moment of the request;
- the hour, for filters that move with the clock (`ExportFilter.depends_on_the_hour`).

The key is a SHA-256 of these, and doubles as the ETag: a client's `If-None-Match` is
answered with 304 without reading a single indicator.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from entente.core.access import AccessRecipient, Viewer
from entente.interop.models import StixObject
from entente.sharing.models import Event, EventTag, Indicator, Sighting

READ_SIZE = 64 * 1024
MAX_ENTRIES = 256


def data_generation(session: Session, now: datetime) -> list[Any]:
    """Counts and latest changes of what exports read, in one round trip.

    Counts catch deletions, maxima catch additions and edits; `Event.version` sums catch a
    publication (which moves no `updated_at`), sightings catch decay changes, event tags
    catch an organisation's local tags (which move no `updated_at` either).
    """

    def scalar(*columns: Any) -> Any:
        return select(*columns).scalar_subquery()

    row = session.execute(
        select(
            scalar(func.count(Event.id)),
            scalar(func.max(Event.updated_at)),
            scalar(func.coalesce(func.sum(Event.version), 0)),
            scalar(func.count(Indicator.id)),
            scalar(func.max(Indicator.id)),
            select(func.count(Indicator.id)).where(Indicator.expires_at <= now).scalar_subquery(),
            scalar(func.count(Sighting.id)),
            scalar(func.max(Sighting.id)),
            scalar(func.count(EventTag.name)),
            scalar(func.max(EventTag.created_at)),
            scalar(func.count(AccessRecipient.object_id)),
            scalar(func.count(StixObject.id)),
            scalar(func.max(StixObject.id)),
            scalar(func.max(StixObject.imported_at)),
        )
    ).one()
    return [value.isoformat() if isinstance(value, datetime) else value for value in row]


def visibility_scope(viewer: Viewer) -> dict[str, Any]:
    """What the access predicate knows of a viewer, and nothing else (see the module doc)."""
    return {
        "organisation_id": viewer.organisation_id,
        "sharing_group_ids": sorted(viewer.sharing_group_ids) if viewer.is_member else [],
    }


def cache_key(parts: dict[str, Any]) -> str:
    """SHA-256 of the parts as canonical JSON: equal parts, equal key; anything else differs."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if isinstance(value, datetime) or hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


class ExportCache:
    """Finished exports as files named by their key, the least recently used evicted first.

    An entry is written while the export streams to its first client, into a temporary
    file renamed into place only once complete: a client that stops reading half-way, or
    an error, leaves no entry, and readers never see a partial one.
    """

    def __init__(self, directory: Path, max_entries: int = MAX_ENTRIES) -> None:
        self.directory = directory
        self.max_entries = max_entries

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.export"

    def has(self, key: str) -> bool:
        return self._path(key).is_file()

    def opened(self, key: str) -> Iterator[bytes] | None:
        """The entry's bytes in blocks, or None when it is gone; it is marked as used now.

        The file is opened here, not when the blocks are first read: an entry evicted in
        between (by another request) is then still read whole from the open file.
        """
        path = self._path(key)
        try:
            stored = path.open("rb")
        except FileNotFoundError:
            return None
        os.utime(stored.fileno())
        return _blocks_of(stored)

    def written(self, key: str, pieces: Iterable[bytes]) -> Iterator[bytes]:
        """`pieces` passed through, kept as the entry once the last one has gone out."""
        self.directory.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=self.directory, suffix=".part")
        partial = Path(name)
        try:
            with os.fdopen(handle, "wb") as sink:
                for piece in pieces:
                    sink.write(piece)
                    yield piece
            partial.replace(self._path(key))
        finally:
            partial.unlink(missing_ok=True)
        self._evict()

    def _evict(self) -> None:
        entries = sorted(self.directory.glob("*.export"), key=_mtime, reverse=True)
        for stale in entries[self.max_entries :]:
            stale.unlink(missing_ok=True)


def _blocks_of(stored: BinaryIO) -> Iterator[bytes]:
    with stored:
        while block := stored.read(READ_SIZE):
            yield block


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
