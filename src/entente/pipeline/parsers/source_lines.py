"""A feed file read as clean lines, a chunk at a time: what every parser reads through.

Why a layer below pyarrow's CSV reader: pyarrow reads bytes, and a feed file is bytes that
often break its assumptions. This layer hands on only lines pyarrow can split one by one,
and remembers where each came from, so a kept row knows its source line and a bad one goes
to quarantine with a reason instead of stopping the file:

- Encoding: UTF-8 is read as is; a UTF-8 byte-order mark at the start is dropped; a chunk
  that is not valid UTF-8 is read as latin-1 and re-encoded as UTF-8. The choice is made per
  chunk (a few MiB), so a latin-1 file never fails, and a UTF-8 file with one stray latin-1
  byte has just that chunk transcoded (its other non-ASCII characters then read as latin-1
  pairs: the rows stay, the odd text shows in the values). UTF-16/32 files are refused
  (`ParseError`): read as latin-1 they would turn into NUL-riddled noise.
- Line ends: `\\n` or `\\r\\n`. A lone `\\r` would end a row in pyarrow but not a line
  here, so a line with one is quarantined.
- Blank lines (only spaces or tabs) and comment lines (the layout's prefixes at the start
  of the line) are not data: they are skipped and counted, never quarantined.
- Quoting: pyarrow lets a quoted value run over line ends, so one stray `"` could swallow
  the rest of a block or fail the file. A line that would end inside an open quote is
  quarantined ("not closed") instead; so multi-line quoted values are not supported: each
  of their lines is quarantined with its own line number, and `_line` stays exact.
- Length: a line longer than `max_line_bytes` is quarantined with its first characters and
  skipped without ever being held whole, so a 2 GB line costs one chunk of memory.
- A last line without a line end is read as a line (and reported as cut short if its
  fields do not add up; see `csv_reading`).

All checks run over whole chunks (numpy for line ends, polars string kernels for the rest);
Python only loops over the few bad lines to build their quarantine rows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from io import BufferedReader
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from entente.core.errors import FetchError, ParseError
from entente.pipeline.batches import FIELD, FILE, LINE, QUARANTINE_SCHEMA, RAW, REASON
from entente.pipeline.parsers.line_checks import LineChecks

CHUNK_BYTES = 32 << 20
"""How much of the file is read and checked at a time: about 100,000 Shadowserver rows, a
pipeline batch. Each batch costs a store file, an alert update and a few queries whatever its
size, so small blocks made those costs most of an ingest (4 MiB blocks: 14,000 rows)."""
MAX_LINE_BYTES = 1 << 20
"""The longest line read; Shadowserver's widest rows (certificates, banners) stay far below."""
PREVIEW_CHARS = 300
"""How much of an overlong line quarantine keeps as its `_raw`."""
LEADING_COMMENTS_KEPT = 200

_UTF8_BOM = b"\xef\xbb\xbf"
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


class HeaderStyle(StrEnum):
    """Where a file names its columns."""

    FIRST_LINE = "first line"
    """The first line that is neither blank nor a comment (Shadowserver, generic CSV)."""
    COMMENTED = "last comment"
    """A comment line before the data (abuse.ch: `# id,dateadded,url,...`)."""
    NONE = "none"
    """No header: the parser declares the columns (lists, Spamhaus)."""


@dataclass(frozen=True, slots=True)
class TextLayout:
    """How a file's lines are cut and checked before its fields are split."""

    delimiter: str = ","
    quote: str | None = '"'
    """The quote character, or None where quotes are ordinary text."""
    comment_prefixes: tuple[str, ...] = ()
    header: HeaderStyle = HeaderStyle.FIRST_LINE
    replacements: tuple[tuple[bytes, bytes], ...] = ()
    """Byte sequences rewritten before splitting (ThreatFox's `", "` between fields)."""
    max_line_bytes: int = MAX_LINE_BYTES
    chunk_bytes: int = CHUNK_BYTES


@dataclass(slots=True)
class LineChunk:
    """The kept lines of one chunk: their bytes (UTF-8, each ending in a line end), the same
    lines as strings (with the line end), and the source line number of each."""

    data: bytes | bytearray | memoryview
    lines: pl.Series
    numbers: npt.NDArray[np.int64]


@dataclass(slots=True)
class _Reading:
    """Where the raw reading stands; kept apart from the checks so each stays short."""

    pending: bytes = b""
    line: int = 0
    started: bool = False
    eof: bool = False
    skipping: bool = False
    ended_without_newline: bool = False
    rejected: list[pl.DataFrame] = field(default_factory=list)
    overlong: list[tuple[int, str]] = field(default_factory=list)


class SourceLines:
    """A file's lines, checked chunk by chunk.

    Use as a context manager. `next_chunk()` gives the kept lines of the next chunk, as
    bytes for pyarrow and as strings for line-based parsers, with the file line of each.
    """

    def __init__(self, path: Path, layout: TextLayout) -> None:
        self.path = path
        self.layout = layout
        self.header: tuple[int, str] | None = None
        self.leading_comments: list[str] = []
        self.transcoded = False
        self._state = _Reading()
        self._queued: LineChunk | None = None
        self._seen_data = False
        # A parser may take quarantined lines on another thread than the one reading.
        self._lock = threading.Lock()
        self._checks = LineChecks(layout)
        try:
            self._file: BufferedReader = path.open("rb")
        except OSError as exc:
            raise FetchError(f"cannot open {path}: {exc.strerror or exc}") from exc

    def __enter__(self) -> SourceLines:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    # --- line-based parsers' side --------------------------------------------------------

    def prime(self) -> None:
        """Read until the first data line (or the end), so the header and leading
        comments are known before any data is handed on."""
        if self._queued is None:
            self._queued = self.next_chunk()

    @property
    def has_data(self) -> bool:
        """After `prime()`: whether the file has a data line."""
        return self._queued is not None

    @property
    def has_rejected(self) -> bool:
        """Whether quarantined lines wait to be taken."""
        with self._lock:
            return bool(self._state.rejected)

    def next_chunk(self) -> LineChunk | None:
        """The next chunk's kept lines; None at the end of the file."""
        queued, self._queued = self._queued, None
        if queued is not None:
            return queued
        while True:
            chunk = self._next_checked()
            if chunk is None or len(chunk.numbers):
                return chunk

    def chunks(self) -> Iterator[LineChunk]:
        while (chunk := self.next_chunk()) is not None:
            yield chunk

    def line_batches(self) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
        """For line formats: each chunk's kept lines as a frame (`_raw` = the line without
        its end, `_file`, `_line`) with the lines quarantined while reading it; a last
        pair with no lines carries any quarantine left over."""
        for chunk in self.chunks():
            frame = pl.DataFrame(
                {
                    RAW: chunk.lines.str.strip_suffix("\n"),
                    FILE: pl.repeat(str(self.path), len(chunk.numbers), eager=True),
                    LINE: pl.Series(chunk.numbers, dtype=pl.Int64),
                }
            )
            yield frame, self.take_rejected()
        leftover = self.take_rejected()
        if leftover.height:
            yield pl.DataFrame(schema={RAW: pl.String, FILE: pl.String, LINE: pl.Int64}), leftover

    def take_rejected(self) -> pl.DataFrame:
        """Lines quarantined since the last call (QUARANTINE_SCHEMA)."""
        with self._lock:
            rejected, self._state.rejected = self._state.rejected, []
        if not rejected:
            return pl.DataFrame(schema=QUARANTINE_SCHEMA)
        return pl.concat(rejected)

    @property
    def last_line(self) -> int:
        """The number of lines read so far (all of them, at the end of the file)."""
        return self._state.line

    @property
    def ended_without_newline(self) -> bool:
        return self._state.ended_without_newline

    # --- reading and checking ----------------------------------------------------------

    def _next_checked(self) -> LineChunk | None:
        raw = self._next_raw()
        if raw is None:
            return None
        data, first_line = raw
        chunk = self._check(data, first_line)
        self._settle_overlong()
        return chunk

    def _next_raw(self) -> tuple[bytearray, int] | None:
        """Complete raw lines and the number of the first; skips overlong lines."""
        state, limit = self._state, self.layout.max_line_bytes
        while True:
            if state.eof:
                return self._final_line()
            buffer = self._read_after(state.pending)
            if buffer is None:
                state.eof = True
                continue
            if state.skipping:
                end = buffer.find(b"\n")
                if end < 0:
                    continue
                del buffer[: end + 1]
                state.skipping = False
                state.line += 1
            cut = buffer.rfind(b"\n")
            state.pending = bytes(buffer[cut + 1 :])
            del buffer[cut + 1 :]
            if len(state.pending) > limit:
                self._skip_overlong(state.pending, state.line + buffer.count(b"\n") + 1)
            if buffer:
                return buffer, state.line + 1
            self._settle_overlong()  # no line before it is left to check

    def _read_after(self, pending: bytes) -> bytearray | None:
        """`pending` followed by the next chunk of the file, or None at its end."""
        buffer = bytearray(len(pending) + self.layout.chunk_bytes)
        buffer[: len(pending)] = pending
        read = self._file.readinto(memoryview(buffer)[len(pending) :])
        if not read:
            return None
        del buffer[len(pending) + read :]
        if not self._state.started:
            self._state.started = True
            if buffer.startswith(_WIDE_BOMS):
                raise ParseError(
                    "the file is UTF-16 or UTF-32; convert it to UTF-8",
                    file=str(self.path),
                    line=1,
                )
            if buffer.startswith(_UTF8_BOM):
                del buffer[: len(_UTF8_BOM)]
        return buffer

    def _final_line(self) -> tuple[bytearray, int] | None:
        state = self._state
        if state.skipping:
            state.skipping = False
            state.line += 1
            state.ended_without_newline = True
        if not state.pending:
            return None
        data, state.pending = bytearray(state.pending + b"\n"), b""
        state.ended_without_newline = True
        return data, state.line + 1

    def _skip_overlong(self, start: bytes, line: int) -> None:
        """Start skipping an overlong line; it is quarantined once the lines before it are
        checked (if none of them was the header, it is the header: a `ParseError`)."""
        preview = start[: PREVIEW_CHARS * 4].decode("utf-8", "replace")[:PREVIEW_CHARS]
        self._state.overlong.append((line, preview))
        self._state.pending = b""
        self._state.skipping = True

    def _settle_overlong(self) -> None:
        overlong, self._state.overlong = self._state.overlong, []
        limit = self.layout.max_line_bytes
        for line, preview in overlong:
            if self.layout.header is HeaderStyle.FIRST_LINE and self.header is None:
                raise ParseError(
                    f"the header line is longer than {limit} bytes", file=str(self.path), line=line
                )
            reason = f"line is longer than {limit} bytes"
            self._reject(np.array([line], dtype=np.int64), pl.Series([preview + "..."]), reason)

    def _check(self, data: bytearray, first_line: int) -> LineChunk:
        data = self._decode(data)
        for old, new in self.layout.replacements:
            data = data.replace(old, new)
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        flags, lines, lengths = self._checks.run(data)
        self._state.line = first_line - 1 + len(lines)
        skipped = flags["blank"] | flags["comment"]
        if self.layout.header is HeaderStyle.FIRST_LINE and self.header is None:
            skipped = self._take_header(flags, lines, skipped, first_line)
        if not self._seen_data:
            self._keep_leading_comments(lines, flags["comment"], skipped)
        bad = ~skipped & (flags["long"] | flags["cr"] | flags["open_quote"])
        for name, reason in self._checks.reasons():
            rows = (bad & flags[name]).to_numpy()
            bad = bad & ~flags[name]
            if rows.any():
                found = lines.filter(rows)
                if name == "long":
                    found = found.str.slice(0, PREVIEW_CHARS) + "..."
                self._reject(first_line + np.flatnonzero(rows), found, reason)
        keep = ~(skipped | flags["long"] | flags["cr"] | flags["open_quote"]).to_numpy()
        if keep.any():
            self._seen_data = True
        numbers = first_line + np.flatnonzero(keep).astype(np.int64)
        if keep.all():
            return LineChunk(data, lines, numbers)
        dropped = np.flatnonzero(~keep)
        if dropped[-1] == len(dropped) - 1:
            # Only leading lines go (the header, comments before it: the usual first chunk),
            # so the kept bytes are the rest of the chunk as it is, not a masked copy.
            first_kept = len(dropped)
            start = int(lengths[:first_kept].sum())
            return LineChunk(memoryview(data)[start:], lines.slice(first_kept), numbers)
        array = np.frombuffer(data, dtype=np.uint8)
        kept_bytes = array[np.repeat(keep, lengths)].tobytes()
        return LineChunk(kept_bytes, lines.filter(pl.Series(keep)), numbers)

    def _decode(self, data: bytearray) -> bytearray:
        if data.isascii():
            return data
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            self.transcoded = True
            return bytearray(data.decode("latin-1").encode("utf-8"))
        return data

    def _take_header(
        self, flags: pl.DataFrame, lines: pl.Series, skipped: pl.Series, first_line: int
    ) -> pl.Series:
        candidates = np.flatnonzero(~skipped.to_numpy())
        if not len(candidates):
            return skipped
        index = int(candidates[0])
        line = first_line + index
        for name, reason in self._checks.reasons():
            if flags[name][index]:
                raise ParseError(f"header: {reason}", file=str(self.path), line=line)
        self.header = (line, lines[index].rstrip("\n"))
        taken = np.zeros(len(lines), dtype=bool)
        taken[index] = True
        return skipped | pl.Series(taken)

    def _keep_leading_comments(
        self, lines: pl.Series, comment: pl.Series, skipped: pl.Series
    ) -> None:
        data_rows = np.flatnonzero(~skipped.to_numpy())
        end = int(data_rows[0]) if len(data_rows) else len(lines)
        room = LEADING_COMMENTS_KEPT - len(self.leading_comments)
        if room > 0:
            found = lines.slice(0, end).filter(comment.slice(0, end)).head(room)
            self.leading_comments.extend(text.rstrip("\r\n") for text in found)

    def _reject(self, numbers: npt.NDArray[np.int64], lines: pl.Series, reason: str) -> None:
        reasons = pl.Series([reason] * len(numbers), dtype=pl.String)
        if self._state.ended_without_newline:
            cut = pl.Series(numbers == self._state.line)
            reasons = reasons.zip_with(~cut, "the last line is cut short (no line end): " + reasons)
        rows = pl.DataFrame(
            {
                FILE: pl.Series([str(self.path)] * len(numbers), dtype=pl.String),
                LINE: pl.Series(numbers, dtype=pl.Int64),
                RAW: lines.str.strip_suffix("\n"),
                FIELD: pl.Series([None] * len(numbers), dtype=pl.String),
                REASON: reasons,
            },
            schema=QUARANTINE_SCHEMA,
        )
        with self._lock:
            self._state.rejected.append(rows)
