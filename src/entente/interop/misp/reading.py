"""MISP events streamed out of a file, a request body or a feed directory, one at a time.

A `/events/restSearch` dump or a feed may hold thousands of events and millions of
attributes: `ijson` reads them event by event, so memory holds one event, never the file.
Three shapes are read: `{"Event": {...}}` (one event, as MISP's event view and a feed's
`<uuid>.json`), `{"response": [{"Event": ...}, ...]}` (restSearch) and a bare list of
`{"Event": ...}`. A feed directory is its `manifest.json` (the event UUIDs) and one
`<uuid>.json` per event; its `hashes.csv` is only a lookup aid for MISP and is not read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import ijson  # type: ignore[import-untyped]

from entente.core.errors import BadValue, FetchError, ParseError

MANIFEST = "manifest.json"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

# Called with (done, total) as a source is read: bytes of a file, events of a feed.
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One MISP event as read (`content` is its `Event` object), and where it came from."""

    source: str
    content: Any


def events_in_stream(stream: IO[bytes], name: str) -> Iterator[RawEvent]:
    """The events of one JSON document (any of the three shapes), read as a stream."""
    prefix = _shape(stream, name)
    stream.seek(0)
    items = ijson.items(stream, prefix, use_float=True)
    position = 0
    try:
        for position, item in enumerate(items):
            where = name if prefix == "Event" else f"{name}, event {position + 1}"
            content = item if prefix == "Event" else _unwrapped(item)
            yield RawEvent(where, content)
    except ijson.JSONError as exc:
        raise ParseError(f"not valid JSON after event {position}: {exc}", file=name) from exc


def _shape(stream: IO[bytes], name: str) -> str:
    """The ijson prefix of the events: `Event`, `response.item` or `item`."""
    try:
        events = ijson.parse(stream)
        _, first, _ = next(events)
        if first == "start_array":
            return "item"
        if first == "start_map":
            _, kind, key = next(events)
            if kind == "map_key" and key in {"Event", "response"}:
                return "Event" if key == "Event" else "response.item"
    except (ijson.JSONError, StopIteration) as exc:
        raise ParseError(f"not valid JSON: {exc}", file=name) from exc
    raise BadValue(
        f'{name}: not MISP event JSON: expected {{"Event": ...}}, {{"response": [...]}} '
        "or a list of events",
        field="Event",
        value=name,
    )


def _unwrapped(item: Any) -> Any:
    return item.get("Event") if isinstance(item, dict) else None


def events_in_file(path: Path, progress: Progress | None = None) -> Iterator[RawEvent]:
    """The events of a JSON file, reporting bytes read to `progress`."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise FetchError(f"cannot read {str(path)!r}: {exc.strerror}", field="file") from exc
    total = path.stat().st_size
    with handle:
        for raw in events_in_stream(handle, path.name):
            if progress is not None:
                progress(min(handle.tell(), total), total)
            yield raw
    if progress is not None:
        progress(total, total)


def feed_uuids(directory: Path) -> list[str]:
    """The event UUIDs a feed's manifest lists (keys only: its values repeat the events)."""
    manifest = directory / MANIFEST
    try:
        with manifest.open("rb") as handle:
            return [key for key, _ in ijson.kvitems(handle, "", use_float=True)]
    except OSError as exc:
        raise FetchError(
            f"{str(directory)!r} is not a MISP feed: cannot read {MANIFEST}: {exc.strerror}",
            field="file",
            value=str(directory),
        ) from exc
    except ijson.JSONError as exc:
        raise ParseError(f"not valid JSON: {exc}", file=str(directory / MANIFEST)) from exc


def events_in_feed(directory: Path, progress: Progress | None = None) -> Iterator[RawEvent]:
    """Each event a feed directory's manifest lists, from its `<uuid>.json`."""
    uuids = feed_uuids(directory)
    for done, key in enumerate(uuids, start=1):
        if not _UUID.fullmatch(key):
            # A manifest key names a file: never let it name one outside the directory.
            yield RawEvent(f"{MANIFEST}, key {key[:60]!r}", None)
            continue
        path = directory / f"{key}.json"
        if not path.is_file():
            yield RawEvent(f"{path.name} (listed in {MANIFEST}, missing)", None)
        else:
            with path.open("rb") as handle:
                yield from events_in_stream(handle, path.name)
        if progress is not None:
            progress(done, len(uuids))


def events_at(path: Path, progress: Progress | None = None) -> Iterator[RawEvent]:
    """The events of a feed directory or of a JSON file, whichever `path` is."""
    if path.is_dir():
        return events_in_feed(path, progress)
    return events_in_file(path, progress)
