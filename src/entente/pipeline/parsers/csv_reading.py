"""CSV files into batches of text columns: pyarrow's streaming reader over `SourceLines`.

The file is never loaded whole: pyarrow pulls a block at a time (`block_bytes`), each block
becomes one batch, and memory stays at a few blocks whatever the file's size.

Header: the column names come from the first line (`HeaderStyle.FIRST_LINE`), from the
last comment line before the data that splits into names (`COMMENTED`, abuse.ch), or from
the parser (`NONE`). Names are trimmed; an empty name becomes `column_<n>`; a name given
twice is a `ParseError` (line and column named). A file with no header and no data (empty,
or only blank and comment lines) gives no batches: an empty report is a normal thing for a
feed to send. A file with a header but no data gives no batches either, after the header
is checked. Missing required columns: `ParseError(file, line=<header line>, column=...)`.

Rows: every value is read as text (empty means null); typing is the normaliser's job. A
row whose field count differs from the header's (a truncated last line, a stray delimiter)
is quarantined with its raw line and the counts; the rest of its batch goes on.

Why `use_threads=False`: pyarrow's streaming reader parses blocks one after the other
either way, and with threads it no longer says which line a bad row was on
(`InvalidRow.number` is None). Reading is overlapped with the polars stages instead.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.csv as pacsv  # type: ignore[import-untyped]

from entente.core.errors import ParseError
from entente.pipeline.batches import FIELD, FILE, LINE, QUARANTINE_SCHEMA, RAW, REASON
from entente.pipeline.parsers.source_lines import HeaderStyle, SourceLines, TextLayout

SNIFFED_DELIMITERS = (",", ";", "\t", "|")
_SNIFF_BYTES = 64 << 10


@dataclass(frozen=True, slots=True)
class CsvLayout:
    """How a CSV feed is laid out: its text layout plus the columns it must or may have."""

    text: TextLayout
    columns: tuple[str, ...] = ()
    """The declared column names: used by `HeaderStyle.NONE`, and by `COMMENTED` when no
    comment line names the columns."""
    required: tuple[str, ...] = ()
    sniff_delimiter: tuple[str, ...] = ()
    """Delimiters to choose from by the header line; empty: use `text.delimiter`."""


@dataclass(frozen=True, slots=True)
class CsvBatch:
    """One block of a CSV file: its rows (one text column per file column), the source line
    of each row, and the lines quarantined while reading it."""

    rows: pl.DataFrame
    lines: npt.NDArray[np.int64]
    quarantined: pl.DataFrame


class CsvReader:
    """A CSV file opened for batch reading; the header is read and checked on opening.

    Use as a context manager; `columns` and `header_line` are known before `batches()`.
    """

    def __init__(self, path: Path, layout: CsvLayout) -> None:
        self.path = path
        self.layout = layout
        text = layout.text
        if layout.sniff_delimiter:
            text = replace(text, delimiter=sniff_delimiter(path, text, layout.sniff_delimiter))
        self._lines = SourceLines(path, text)
        try:
            self._lines.prime()
            self.header_line, self.columns = self._read_header()
        except BaseException:
            self._lines.close()
            raise
        # pyarrow may parse ahead on another thread, calling `_on_invalid_row` there.
        self._bad_lock = threading.Lock()
        self._bad_rows: list[tuple[int, str, str]] = []
        self._bad_numbers: list[int] = []
        self._bad_behind = 0

    def __enter__(self) -> CsvReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._lines.close()

    @property
    def file(self) -> str:
        return str(self.path)

    @property
    def is_empty(self) -> bool:
        """Nothing to read: no header line, or (without one) no data line."""
        return not self.columns

    def require(self, columns: Iterable[str]) -> None:
        """Raise `ParseError` naming the first missing column (and listing all)."""
        missing = [name for name in columns if name not in self.columns]
        if missing and not self.is_empty:
            raise ParseError(
                f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                f"(the header has: {', '.join(self.columns)})",
                file=self.file,
                line=self.header_line or 1,
                column=missing[0],
            )

    def batches(self) -> Iterator[CsvBatch]:
        """The file's rows a block at a time; quarantined lines ride with the batch read
        when they were found (a last batch with no rows carries any left over)."""
        if self.is_empty:
            return
        reader = self._open_reader()
        kept = 0
        while True:
            batch = self._next_batch(reader)
            if batch is None:
                break
            rows = pl.from_arrow(batch)
            assert isinstance(rows, pl.DataFrame)
            lines = self._kept_lines(kept, rows.height)
            kept += rows.height
            yield CsvBatch(rows, lines, self._take_quarantine())
        leftover = self._take_quarantine()
        if leftover.height:
            empty = pl.DataFrame(schema={name: pl.String for name in self.columns})
            yield CsvBatch(empty, np.empty(0, dtype=np.int64), leftover)

    # --- header ------------------------------------------------------------------------

    def _read_header(self) -> tuple[int | None, tuple[str, ...]]:
        text = self._lines.layout
        if text.header is HeaderStyle.FIRST_LINE:
            if self._lines.header is None:
                return None, ()
            line, header = self._lines.header
            return line, self._split_header(header, line)
        if not self._lines.has_data and not self._lines.has_rejected:
            return None, ()
        if text.header is HeaderStyle.COMMENTED:
            found = self._commented_header()
            if found:
                return None, found
        return None, self._unique(self.layout.columns, None)

    def _commented_header(self) -> tuple[str, ...]:
        """The last leading comment line that names all required columns."""
        text = self._lines.layout
        for comment in reversed(self._lines.leading_comments):
            body = comment
            for prefix in text.comment_prefixes:
                body = body.removeprefix(prefix)
            if text.delimiter not in body:
                continue
            names = self._split_header(body, None)
            if all(name in names for name in self.layout.required):
                return names
        return ()

    def _split_header(self, header: str, line: int | None) -> tuple[str, ...]:
        text = self._lines.layout
        dialect: dict[str, Any] = {"delimiter": text.delimiter, "skipinitialspace": True}
        if text.quote is None:
            dialect["quoting"] = csv.QUOTE_NONE
        else:
            dialect["quotechar"] = text.quote
        try:
            names = next(csv.reader([header], **dialect), [])
        except csv.Error as exc:
            raise ParseError(f"cannot read the header: {exc}", file=self.file, line=line) from exc
        cleaned = [name.strip() or f"column_{index}" for index, name in enumerate(names, start=1)]
        return self._unique(cleaned, line)

    def _unique(self, names: Iterable[str], line: int | None) -> tuple[str, ...]:
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise ParseError(
                    "the header names a column twice", file=self.file, line=line, column=name
                )
            seen.add(name)
        return tuple(names)

    # --- rows ----------------------------------------------------------------------------

    def _open_reader(self) -> Any:
        text = self._lines.layout
        block = max(text.chunk_bytes, 2 * text.max_line_bytes + 2)
        try:
            return pacsv.open_csv(
                pa.PythonFile(self._lines, mode="r"),
                read_options=pacsv.ReadOptions(
                    column_names=list(self.columns), block_size=block, use_threads=False
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=text.delimiter,
                    quote_char=text.quote if text.quote is not None else False,
                    double_quote=True,
                    escape_char=False,
                    newlines_in_values=False,
                    ignore_empty_lines=True,
                    invalid_row_handler=self._on_invalid_row,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in self.columns},
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                    null_values=[""],
                ),
            )
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                return None
            raise self._parse_error(exc) from exc
        except pa.ArrowException as exc:
            raise self._parse_error(exc) from exc

    def _next_batch(self, reader: Any) -> pa.RecordBatch | None:
        if reader is None:
            return None
        try:
            return reader.read_next_batch()
        except StopIteration:
            return None
        except pa.ArrowException as exc:
            raise self._parse_error(exc) from exc

    def _parse_error(self, exc: Exception) -> ParseError:
        return ParseError(f"cannot be read as CSV: {exc}", file=self.file)

    def _on_invalid_row(self, row: Any) -> str:
        # Called by pyarrow once per bad row only (rare), so a Python call per row is fine.
        line = int(self._lines.source_lines(np.array([row.number], dtype=np.int64))[0])
        reason = self._count_reason(row.expected_columns, row.actual_columns)
        if self._lines.ended_without_newline and line == self._lines.last_line:
            reason = f"the last line is cut short (no line end): {reason}"
        with self._bad_lock:
            self._bad_rows.append((line, row.text, reason))
            self._bad_numbers.append(row.number)
        return "skip"

    def _kept_lines(self, kept_before: int, count: int) -> npt.NDArray[np.int64]:
        """Source lines of the next `count` kept rows.

        pyarrow numbers the lines it was passed (1-based) and skips the invalid ones; the
        t-th kept row is passed line t + (invalid lines before it). `before[k]` is how many
        kept rows precede the k-th invalid line, so a searchsorted counts them at once.
        """
        if not count:
            return np.empty(0, dtype=np.int64)
        ordinals = np.arange(kept_before + 1, kept_before + count + 1, dtype=np.int64)
        with self._bad_lock:
            invalid = np.sort(np.array(self._bad_numbers, dtype=np.int64))
        ranks = np.arange(self._bad_behind + 1, self._bad_behind + len(invalid) + 1)
        before = invalid - ranks
        passed = ordinals + self._bad_behind + np.searchsorted(before, ordinals, side="left")
        lines = self._lines.source_lines(passed)
        last = int(passed[-1])
        behind = int(np.searchsorted(invalid, last))
        with self._bad_lock:
            # Only the few bad rows are looped over; parsing may have run ahead of `last`.
            self._bad_numbers = [number for number in self._bad_numbers if number > last]
        self._bad_behind += behind
        self._lines.forget_before(last + 1)
        return lines

    def _take_quarantine(self) -> pl.DataFrame:
        rejected = self._lines.take_rejected()
        with self._bad_lock:
            taken, self._bad_rows = self._bad_rows, []
        if not taken:
            return rejected
        lines, raws, reasons = zip(*taken, strict=True)
        invalid = pl.DataFrame(
            {
                FILE: [self.file] * len(lines),
                LINE: list(lines),
                RAW: list(raws),
                FIELD: [None] * len(lines),
                REASON: list(reasons),
            },
            schema=QUARANTINE_SCHEMA,
        )
        return pl.concat([rejected, invalid]).sort(LINE)

    @staticmethod
    def _count_reason(expected: int, actual: int) -> str:
        return f"{actual} field{'s' if actual != 1 else ''} where the header has {expected}"


def sniff_delimiter(path: Path, text: TextLayout, candidates: tuple[str, ...]) -> str:
    """The candidate splitting the first data line into the most fields (ties: the first).

    Reads only the file's first 64 KiB; quoted text is ignored, so a comma inside a quoted
    name does not count.
    """
    try:
        with path.open("rb") as handle:
            start = handle.read(_SNIFF_BYTES)
    except OSError:
        return text.delimiter
    for line in start.removeprefix(b"\xef\xbb\xbf").decode("latin-1").splitlines():
        if not line.strip() or (text.comment_prefixes and line.startswith(text.comment_prefixes)):
            continue
        if text.quote is not None:
            line = "".join(line.split(text.quote)[::2])
        counts = [line.count(candidate) for candidate in candidates]
        return candidates[counts.index(max(counts))] if max(counts) else text.delimiter
    return text.delimiter
