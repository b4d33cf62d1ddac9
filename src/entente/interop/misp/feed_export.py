"""A MISP feed of the events one viewer may see: what a MISP instance subscribes to.

The layout is MISP's own feed format (as written by MISP's `PyMISP` feed generator and read
by a MISP "Feed" of format "MISP Feed"): `manifest.json` maps each event UUID to its summary
(info, date, levels, timestamp, Orgc, Tag), `<uuid>.json` holds each event as
`{"Event": {...}}`, and `hashes.csv` lists `md5(value),event uuid` per attribute, which MISP
uses for its feed cache and overlap checks. A feed offers published events only.

Re-writing a feed into the same directory removes the `<uuid>.json` of events no longer in
it: an event tightened since the last export must not stay readable by the subscribers.
Files are written under temporary names and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from entente.core.access import Viewer
from entente.core.errors import BadValue
from entente.interop.misp.exports import published_events, visible_heads, visible_parts
from entente.interop.misp.reading import MANIFEST, Progress
from entente.interop.misp.to_misp import EventParts, event_object, manifest_entry

HASHES = "hashes.csv"
_EVENT_FILE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.json")


@dataclass(frozen=True, slots=True)
class FeedWritten:
    events: int
    attributes: int
    removed: int


def feed_manifest(session: Session, viewer: Viewer) -> dict[str, Any]:
    """manifest.json of the feed the viewer may read."""
    return {
        parts.event.uuid: manifest_entry(parts)
        for parts in visible_heads(session, published_events(viewer))
    }


def attribute_hash(value: str) -> str:
    """MISP's hashes.csv key of a value: its MD5 in hex."""
    return hashlib.md5(value.encode(), usedforsecurity=False).hexdigest()


def write_feed(
    session: Session, viewer: Viewer, directory: Path, progress: Progress | None = None
) -> FeedWritten:
    """Write the viewer's feed into `directory` (created if needed)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadValue(f"cannot create {str(directory)!r}: {exc.strerror}", field="DIR") from exc
    manifest: dict[str, Any] = {}
    attributes = 0
    total = session.scalar(select(func.count()).select_from(published_events(viewer).subquery()))
    hashes_part = directory / f"{HASHES}.part"
    with hashes_part.open("w", encoding="utf-8", newline="") as sink:
        rows = csv.writer(sink, lineterminator="\n")
        for parts in visible_parts(session, viewer, published_events(viewer)):
            _write_json(directory / f"{parts.event.uuid}.json", {"Event": event_object(parts)})
            manifest[parts.event.uuid] = manifest_entry(parts)
            attributes += _write_hashes(rows, parts)
            if progress is not None:
                progress(len(manifest), total or 0)
    hashes_part.replace(directory / HASHES)
    removed = _remove_stale(directory, set(manifest))
    _write_json(directory / MANIFEST, manifest)
    return FeedWritten(events=len(manifest), attributes=attributes, removed=removed)


def _write_hashes(rows: Any, parts: EventParts) -> int:
    for indicator in parts.indicators:
        rows.writerow((attribute_hash(indicator.value), parts.event.uuid))
    return len(parts.indicators)


def _write_json(path: Path, content: dict[str, Any]) -> None:
    partial = path.with_name(path.name + ".part")
    with partial.open("w", encoding="utf-8") as sink:
        json.dump(content, sink, ensure_ascii=False)
    partial.replace(path)


def _remove_stale(directory: Path, kept: set[str]) -> int:
    removed = 0
    for path in directory.iterdir():
        if _EVENT_FILE.fullmatch(path.name) and path.name[:-5] not in kept:
            path.unlink()
            removed += 1
    return removed
