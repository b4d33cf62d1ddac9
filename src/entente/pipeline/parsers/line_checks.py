"""The per-line checks `SourceLines` runs over each chunk, as polars string kernels.

Each check is one expression over a chunk's lines (each line a zero-copy view into the
chunk's bytes, keeping its line end): blank, comment, too long, lone carriage return, and
"would leave pyarrow inside a quoted value" (see `_quote_patterns`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]

if TYPE_CHECKING:
    from entente.pipeline.parsers.source_lines import TextLayout

_NEWLINE = 10
_SPACE = 32
_TAB = 9


class LineChecks:
    """The per-line checks of a layout, each a polars expression over a chunk's lines."""

    def __init__(self, layout: TextLayout) -> None:
        self._layout = layout
        self._suspect: str | None = None
        self._closed: str | None = None
        if layout.quote is not None:
            self._suspect, self._closed = _quote_patterns(layout.delimiter, layout.quote)

    def reasons(self) -> tuple[tuple[str, str], ...]:
        limit = self._layout.max_line_bytes
        return (
            ("long", f"line is longer than {limit} bytes"),
            ("cr", "carriage return inside the line (only \\n and \\r\\n end lines)"),
            ("open_quote", "a quoted value is not closed before the end of the line"),
        )

    def run(self, data: bytes | bytearray) -> tuple[pl.DataFrame, pl.Series, npt.NDArray[np.int64]]:
        """Flags per line, the lines (with their line ends) and their byte lengths."""
        array = np.frombuffer(data, dtype=np.uint8)
        ends = np.flatnonzero(array == _NEWLINE)
        offsets = np.empty(len(ends) + 1, dtype=np.int64)
        offsets[0] = 0
        offsets[1:] = ends + 1
        # Zero-copy: the lines are views into `data`, each keeping its "\n".
        lines = pl.Series(
            "line",
            pa.Array.from_buffers(
                pa.large_string(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
            ),
        )
        lengths = np.diff(offsets)
        nothing = pl.Series(np.zeros(len(ends), dtype=np.bool_))
        comment = nothing
        for prefix in self._layout.comment_prefixes:
            comment = comment | lines.str.starts_with(prefix)
        cr = lines.str.contains("\r", literal=True) if b"\r" in data else nothing
        flags = pl.DataFrame(
            {
                "blank": _blank(array, offsets, lines),
                "comment": comment,
                "long": lengths > self._layout.max_line_bytes + 1,
                "cr": cr,
                "open_quote": self._open_quote(lines),
            }
        )
        return flags, lines, lengths

    def _open_quote(self, lines: pl.Series) -> pl.Series:
        """Lines pyarrow would leave inside a quoted value at their end.

        Why two steps: the exact pattern is slow, so a fast one first finds the few lines
        that may be open, and only those get the exact test (see `_quote_patterns`).
        """
        if self._suspect is None or self._closed is None:
            return pl.Series(np.zeros(len(lines), dtype=bool))
        suspect = lines.str.contains(self._suspect).to_numpy()
        result = np.zeros(len(lines), dtype=bool)
        if suspect.any():
            closed = lines.filter(pl.Series(suspect)).str.contains(self._closed).to_numpy()
            result[np.flatnonzero(suspect)] = ~closed
        return pl.Series(result)


def _blank(
    array: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64], lines: pl.Series
) -> pl.Series:
    """Lines of nothing but spaces and tabs. Only those starting with a space, a tab or
    their line end can be: the pattern runs on those few, not on every line."""
    first = array[offsets[:-1]]
    blank = first == _NEWLINE
    maybe = np.flatnonzero((first == _SPACE) | (first == _TAB))
    if maybe.size:
        blank[maybe] = lines.gather(maybe).str.contains(r"^[ \t]*\n$").to_numpy()
    return pl.Series(blank)


def _quote_patterns(delimiter: str, quote: str) -> tuple[str, str]:
    """The fast and the exact pattern of `_open_quote` for a delimiter and quote.

    The exact one spells out how pyarrow splits a line with `newlines_in_values=False`: a
    field is empty, unquoted (not starting with a quote; later quotes are text), or quoted
    (doubled quotes inside; the closing quote is the one not followed by another) with
    any unquoted text after it.

    The fast one: an even run of quotes never changes pyarrow's state (an empty value, an
    escaped quote, or text), and an odd run toggles it when inside quotes or when it opens
    a field. So a line can end inside quotes only if, after its last odd run that follows
    the delimiter (or starts the line), only even runs follow: lines without such a run
    are surely closed.
    """
    d, q = _escape(delimiter), _escape(quote)
    suspect = rf"(?:^|{d})(?:{q}{q})*{q}(?:[^{q}\n]|{q}{q})*\n$"
    quoted = rf"{q}(?:[^{q}\n]|{q}{q})*{q}(?:[^{q}{d}\n][^{d}\n]*)?"
    plain = rf"[^{q}{d}\n][^{d}\n]*"
    one = rf"(?:{quoted}|{plain})?"
    return suspect, rf"^{one}(?:{d}{one})*\n$"


def _escape(character: str) -> str:
    """A character as a regex hex escape: valid inside and outside classes, for any char."""
    return "".join(f"\\x{{{ord(c):X}}}" for c in character)
