"""STIX bundles as streams: written object by object, read object by object.

Neither side holds a bundle in memory. The writer takes an iterator of objects (a dict, a
stored object's JSON text, or an event's container whose `object_refs` are themselves
streamed) and yields text; the reader gives the objects of a file one at a time with
`ijson` (C backend), after checking the bundle's own header.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import ijson  # type: ignore[import-untyped]

from entente.core.errors import BadValue, ParseError


@dataclass(frozen=True, slots=True)
class RawStix:
    """A stored object's JSON text, written out as it is."""

    stix_id: str
    type: str
    text: str


@dataclass(frozen=True, slots=True)
class Container:
    """An event's report or grouping: `head` without `object_refs`, then `refs` streamed."""

    head: dict[str, Any]
    refs: Iterable[str]


StixOut = dict[str, Any] | RawStix | Container


def out_id(item: StixOut) -> str:
    if isinstance(item, RawStix):
        return item.stix_id
    return str(item.head["id"] if isinstance(item, Container) else item["id"])


def out_type(item: StixOut) -> str:
    if isinstance(item, RawStix):
        return item.type
    return str(item.head["type"] if isinstance(item, Container) else item["type"])


def _dumps(content: Any) -> str:
    return json.dumps(content, separators=(",", ":"), ensure_ascii=False)


def _container_text(container: Container) -> Iterator[str]:
    head = _dumps(container.head)
    yield head[:-1] + ',"object_refs":['
    for position, ref in enumerate(container.refs):
        yield ("," if position else "") + _dumps(ref)
    yield "]}"


def bundle_text(objects: Iterable[StixOut], bundle_id: str | None = None) -> Iterator[str]:
    """The bundle as text pieces, one object per line; memory stays flat however long."""
    # Bundles are not versioned and carry nothing of their own: a random UUIDv4 (section 8).
    bundle_id = bundle_id or f"bundle--{uuid.uuid4()}"
    yield f'{{"type":"bundle","id":"{bundle_id}","objects":['
    separator = "\n"
    for item in objects:
        yield separator
        separator = ",\n"
        if isinstance(item, RawStix):
            yield item.text
        elif isinstance(item, Container):
            yield from _container_text(item)
        else:
            yield _dumps(item)
    yield "\n]}\n"


# ---- reading ---------------------------------------------------------------------------------


class _Counting:
    """A binary file that reports how many bytes were read so far (for a progress bar)."""

    def __init__(self, source: IO[bytes], progress: Callable[[int], None] | None) -> None:
        self._source = source
        self._progress = progress
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._source.read(size)
        self.position += len(chunk)
        if self._progress is not None:
            self._progress(self.position)
        return chunk


_HEADER_KEYS = frozenset({"type", "id", "spec_version"})
_SCALARS = frozenset({"string", "number", "boolean", "null"})


def read_objects(
    source: IO[bytes], name: str, progress: Callable[[int], None] | None = None
) -> Iterator[Any]:
    """The objects of a bundle file, one at a time; the source must be seekable.

    A file that is not JSON raises `ParseError` naming the byte it fails at (objects before
    that point have been yielded already); one that is not a STIX 2.1 bundle raises
    `BadValue` naming the bundle property at fault.
    """
    header = _header(source, name)
    if header.get("type") not in (None, "bundle"):
        raise BadValue(
            f"not a STIX bundle: its type is {header['type']!r}", field="type", value=header["type"]
        )
    if "spec_version" in header:
        # STIX 2.0 bundles carried a spec_version; 2.1 bundles have none (section 8).
        raise BadValue(
            f"a bundle of STIX {header['spec_version']}; Entente reads STIX 2.1",
            field="spec_version",
            value=header["spec_version"],
        )
    source.seek(0)
    counting = _Counting(source, progress)
    try:
        yield from ijson.items(counting, "objects.item", use_float=True)
    except ijson.JSONError as exc:
        raise _json_error(exc, name, counting.position) from None


def _header(source: IO[bytes], name: str) -> dict[str, Any]:
    """The bundle's top-level scalars (type, id, spec_version), read up to its objects.

    Producers write them first; when `type` comes after the objects the scan goes on to
    the end (with no object built), so a bundle is recognised whatever its key order.
    """
    header: dict[str, Any] = {}
    counting = _Counting(source, None)
    events = ijson.parse(counting)
    try:
        first = next(events, None)
        if first is None or first[:2] != ("", "start_map"):
            raise BadValue("not a STIX bundle: the file is not a JSON object", field="type")
        for prefix, event, value in events:
            if prefix in _HEADER_KEYS and event in _SCALARS:
                header[prefix] = value
            elif prefix == "" and event == "map_key" and value == "objects" and "type" in header:
                break
    except ijson.JSONError as exc:
        raise _json_error(exc, name, counting.position) from None
    if "type" not in header:
        raise BadValue("not a STIX bundle: it has no type 'bundle'", field="type")
    return header


def _json_error(exc: Exception, name: str, position: int) -> ParseError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ParseError(f"not valid JSON (within the first {position} bytes): {reason}", file=name)
