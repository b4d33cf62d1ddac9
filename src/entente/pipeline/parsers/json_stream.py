"""JSON feed files read as a stream (ijson), and their rows gathered into batches.

What the JSON parsers (`stix`, `misp_feed`) share:

- `json_items(path, prefix)` yields the values under `prefix` (`"objects.item"`) one at a
  time through ijson's C backend, so a bundle of a million objects is never held whole. A
  UTF-8 byte-order mark is skipped; a UTF-16/32 file is refused; a blank file (nothing or
  only white space) is `is_blank`, which callers treat as "no data", as for CSV.
- A syntax error (cut-short file, stray character, bytes that are not UTF-8, a second
  value after the first) is a `ParseError` naming the file, line and column. ijson's
  messages carry no position, so on that (rare) path the file is read again with ijson's
  push interface, a block at a time and the failing block byte by byte, to find the byte
  the decoder refused; a cut-short file reports the position of its end.
- `Rows` gathers one block of rows (mappings from field to text) and quarantined items,
  and hands them on as a `StageOutput` with a fixed column set: every batch of one file
  has the same columns whatever its objects held.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import ijson  # type: ignore[import-untyped]
import polars as pl

from entente.core.errors import FetchError, ParseError
from entente.pipeline.batches import FIELD, FILE, LINE, QUARANTINE_SCHEMA, RAW, REASON, StageOutput
from entente.vocabulary.fields import field as vocabulary_field

_UTF8_BOM = b"\xef\xbb\xbf"
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
_LOCATE_BLOCK = 64 << 10
RAW_CHARS = 4000
"""How much of a quarantined item's JSON `_raw` keeps (a huge object is cut, marked `...`)."""


def open_json(path: Path) -> IO[bytes]:
    """The file opened for ijson, positioned after a UTF-8 byte-order mark."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise FetchError(f"cannot open {path}: {exc.strerror or exc}") from exc
    start = handle.read(4)
    if start.startswith(_WIDE_BOMS):
        handle.close()
        raise ParseError(
            "the file is UTF-16 or UTF-32; convert it to UTF-8", file=str(path), line=1
        )
    handle.seek(len(_UTF8_BOM) if start.startswith(_UTF8_BOM) else 0)
    return handle


def is_blank(path: Path) -> bool:
    """Whether the file holds nothing but white space (after a byte-order mark)."""
    with open_json(path) as handle:
        while block := handle.read(_LOCATE_BLOCK):
            if block.strip(b" \t\r\n"):
                return False
    return True


def json_items(path: Path, prefix: str) -> Iterator[Any]:
    """Every value under `prefix`, in file order; a syntax error is a `ParseError` (line,
    column). Reads the whole file, so a syntax error after the last item is found too."""
    with open_json(path) as handle:
        try:
            yield from ijson.items(handle, prefix)
        except ijson.JSONError as exc:
            raise syntax_error(path, exc) from None


def json_events(path: Path) -> Iterator[tuple[str, str, Any]]:
    """ijson's (prefix, event, value) events of the whole file; errors as `json_items`."""
    with open_json(path) as handle:
        try:
            yield from ijson.parse(handle)
        except ijson.JSONError as exc:
            raise syntax_error(path, exc) from None


def syntax_error(path: Path, exc: Exception) -> ParseError:
    """The decoder's complaint as a `ParseError` at the byte it refused."""
    argument = exc.args[0] if exc.args else exc
    said = argument.decode("utf-8", "replace") if isinstance(argument, bytes) else str(argument)
    message = said.strip().splitlines()[0] if said.strip() else "not valid JSON"
    line, column = _position(path, _error_offset(path))
    return ParseError(f"not valid JSON: {message}", file=str(path), line=line, column=str(column))


def _error_offset(path: Path) -> int:
    """The offset (after any byte-order mark) of the first byte the decoder refuses, or the
    length of the content when only its end is refused (a cut-short file)."""
    failing = _failing_block(path)
    offset = 0
    with open_json(path) as handle:
        if failing is None:
            while block := handle.read(_LOCATE_BLOCK):
                offset += len(block)
            return offset
        events = ijson.sendable_list()
        parser = ijson.basic_parse_coro(events)
        for _ in range(failing):
            block = handle.read(_LOCATE_BLOCK)
            parser.send(block)
            events.clear()
            offset += len(block)
        block = handle.read(_LOCATE_BLOCK)
        for index in range(len(block)):
            try:
                parser.send(block[index : index + 1])
            except ijson.JSONError:
                return offset + index
            events.clear()
    return offset + len(block)


def _failing_block(path: Path) -> int | None:
    """The index of the first block the decoder refuses; None when it refuses only the end
    (a cut-short file)."""
    with open_json(path) as handle:
        events = ijson.sendable_list()
        parser = ijson.basic_parse_coro(events)
        number = 0
        while block := handle.read(_LOCATE_BLOCK):
            try:
                parser.send(block)
            except ijson.JSONError:
                return number
            events.clear()
            number += 1
        try:
            parser.close()
        except ijson.JSONError:
            return None
    return None


def _position(path: Path, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of the byte at `offset`."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    line, column, read = 1, 0, 0
    with open_json(path) as handle:
        while read < offset and (block := handle.read(min(_LOCATE_BLOCK, offset - read))):
            read += len(block)
            chunk = decoder.decode(block)
            newlines = chunk.count("\n")
            if newlines:
                line += newlines
                column = len(chunk) - chunk.rfind("\n") - 1
            else:
                column += len(chunk)
    return line, column + 1


def raw_text(where: str, item: object) -> str:
    """A quarantined item as `_raw`: where it was, then its JSON (cut to `RAW_CHARS`).

    Prefixed, so `_raw` is never a JSON object: re-processing reads such a `_raw` as mapped
    values, while an item the parser refused needs its file parsed again.
    """
    encoded = json.dumps(item, ensure_ascii=False, separators=(",", ":"), default=str)
    if len(encoded) > RAW_CHARS:
        encoded = encoded[:RAW_CHARS] + "..."
    return f"{where} {encoded}"


def joined(values: object) -> str | None:
    """A list of texts as one comma-separated text (None when there are none)."""
    if isinstance(values, str):
        return values or None
    if not isinstance(values, list):
        return None
    texts = [str(value) for value in values if isinstance(value, str | int | float | Decimal)]
    return ",".join(texts) or None


def text(value: object) -> str | None:
    """A JSON scalar as text; objects, lists and null are None."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        return str(value)
    return None


class Rows:
    """One block of rows and quarantined items of a file, handed on as a `StageOutput`.

    `columns` are the batch's field columns in order (checked against the vocabulary);
    a row gives values for some of them, the others are null (a key that is not a column
    would be ignored: the parsers' tests check their tables against their columns).
    `constants` fill a field where the row gave no value.
    """

    def __init__(
        self, file: Path, columns: Iterable[str], constants: Mapping[str, str] | None = None
    ) -> None:
        self.file = str(file)
        self.constants = dict(constants or {})
        names = list(dict.fromkeys([*columns, *self.constants]))
        for name in names:
            vocabulary_field(name)
        self.schema = {**{name: pl.String for name in names}, FILE: pl.String, LINE: pl.Int64}
        self._kept: list[dict[str, object]] = []
        self._rejected: dict[str, list[object]] = {LINE: [], RAW: [], FIELD: [], REASON: []}

    def __len__(self) -> int:
        return len(self._kept) + len(self._rejected[LINE])

    def add(self, line: int, values: Mapping[str, str | None]) -> None:
        """A kept row from the item at `line`."""
        self._kept.append({**values, LINE: line})

    def reject(self, line: int, raw: str, reason: str, field: str | None = None) -> None:
        """A quarantined item at `line`, with `_raw` and the reason."""
        for name, value in ((LINE, line), (RAW, raw), (FIELD, field), (REASON, reason)):
            self._rejected[name].append(value)

    def take(self) -> StageOutput:
        """The block so far as a `StageOutput`; the block starts again empty."""
        kept = pl.DataFrame(self._kept, schema=self.schema).with_columns(
            pl.lit(self.file, dtype=pl.String).alias(FILE)
        )
        if self.constants:
            kept = kept.with_columns(
                pl.coalesce(pl.col(name), pl.lit(value, dtype=pl.String)).alias(name)
                for name, value in self.constants.items()
            )
        rejected = {FILE: [self.file] * len(self._rejected[LINE]), **self._rejected}
        quarantined = pl.DataFrame(rejected, schema=QUARANTINE_SCHEMA)
        self._kept = []
        self._rejected = {name: [] for name in self._rejected}
        return StageOutput(kept, quarantined)
