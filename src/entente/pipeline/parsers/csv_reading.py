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

Each chunk of checked lines (`SourceLines`, about 32 MiB) is parsed by pyarrow's
multi-threaded reader, on every core. Why not its streaming reader over the whole file, as
this module first did: that reader parses its blocks one after the other, at a third of the
speed. A threaded read does not say which line a bad row was on (`InvalidRow.number` is
None), so a chunk holding a row with the wrong number of fields (rare) is read again on one
thread, which does.
"""

from __future__ import annotations

import csv
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
from entente.pipeline.parsers.source_lines import HeaderStyle, LineChunk, SourceLines, TextLayout

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
        """The file's rows a chunk at a time; quarantined lines ride with the batch read
        when they were found (a last batch with no rows carries any left over)."""
        if self.is_empty:
            return
        for chunk in self._lines.chunks():
            rows, lines, invalid = self._read_chunk(chunk)
            rejected = self._lines.take_rejected()
            yield CsvBatch(rows, lines, pl.concat([rejected, invalid]).sort(LINE))
        leftover = self._lines.take_rejected()
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

    def _read_chunk(
        self, chunk: LineChunk
    ) -> tuple[pl.DataFrame, npt.NDArray[np.int64], pl.DataFrame]:
        """The chunk's rows, the source line of each, and its rows with a wrong field count."""
        invalid: list[Any] = []
        table = self._parse(chunk.data, invalid, threads=True)
        if invalid:  # read again on one thread, to learn which lines they were
            invalid.clear()
            table = self._parse(chunk.data, invalid, threads=False)
        rows = pl.from_arrow(table)
        assert isinstance(rows, pl.DataFrame)
        if not invalid:
            return rows, chunk.numbers, pl.DataFrame(schema=QUARANTINE_SCHEMA)
        # `number` counts the lines passed to pyarrow, from 1: the chunk's kept lines.
        positions = np.array([row.number for row in invalid], dtype=np.int64) - 1
        kept = np.ones(len(chunk.numbers), dtype=np.bool_)
        kept[positions] = False
        lines = chunk.numbers[positions]
        reasons = [self._reason(row, int(line)) for row, line in zip(invalid, lines, strict=True)]
        quarantined = pl.DataFrame(
            {
                FILE: [self.file] * len(lines),
                LINE: lines,
                RAW: [row.text for row in invalid],
                FIELD: [None] * len(lines),
                REASON: reasons,
            },
            schema=QUARANTINE_SCHEMA,
        )
        return rows, chunk.numbers[kept], quarantined

    def _parse(
        self, data: bytes | bytearray | memoryview, invalid: list[Any], threads: bool
    ) -> pa.Table:
        text = self._lines.layout

        def put_aside(row: Any) -> str:
            # Called by pyarrow once per bad row only (rare), so a Python call is fine.
            invalid.append(row)
            return "skip"

        try:
            return pacsv.read_csv(
                pa.py_buffer(data),
                read_options=pacsv.ReadOptions(
                    column_names=list(self.columns),
                    # The parallel unit: a few per chunk, and room for the longest line.
                    block_size=2 * text.max_line_bytes + 2,
                    use_threads=threads,
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=text.delimiter,
                    quote_char=text.quote if text.quote is not None else False,
                    double_quote=True,
                    escape_char=False,
                    newlines_in_values=False,
                    ignore_empty_lines=True,
                    invalid_row_handler=put_aside,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in self.columns},
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                    null_values=[""],
                ),
            )
        except pa.ArrowException as exc:
            raise ParseError(f"cannot be read as CSV: {exc}", file=self.file) from exc

    def _reason(self, row: Any, line: int) -> str:
        reason = self._count_reason(row.expected_columns, row.actual_columns)
        if self._lines.ended_without_newline and line == self._lines.last_line:
            return f"the last line is cut short (no line end): {reason}"
        return reason

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
