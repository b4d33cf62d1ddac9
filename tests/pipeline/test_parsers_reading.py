"""The reading layers under every parser: clean numbered lines, then pyarrow CSV batches."""

from __future__ import annotations

import io
import tracemalloc
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from entente.core.errors import FetchError, ParseError
from entente.pipeline.batches import QUARANTINE_SCHEMA
from entente.pipeline.parsers.csv_reading import (
    SNIFFED_DELIMITERS,
    CsvLayout,
    CsvReader,
    sniff_delimiter,
)
from entente.pipeline.parsers.source_lines import HeaderStyle, SourceLines, TextLayout

CSV = TextLayout()
HEADER = b"a,b,c\n"


def write(tmp_path: Path, data: bytes, name: str = "feed.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def read_all(path: Path, layout: CsvLayout) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every kept row (with `_line`) and every quarantined row of a file."""
    kept, quarantined = [], []
    with CsvReader(path, layout) as reader:
        for batch in reader.batches():
            kept.append(batch.rows.with_columns(pl.Series("_line", batch.lines)))
            quarantined.append(batch.quarantined)
    if not kept:
        return pl.DataFrame(), pl.DataFrame(schema=QUARANTINE_SCHEMA)
    return pl.concat(kept), pl.concat(quarantined)


# --- encodings and line ends ------------------------------------------------------------


def test_utf8_bom_is_dropped_and_crlf_lines_read(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbfa,b,c\r\n1,Z\xc3\xbcrich,3\r\n4,5,6\r\n")
    kept, quarantined = read_all(path, CsvLayout(CSV))
    assert kept.columns == ["a", "b", "c", "_line"]
    assert kept.rows() == [("1", "Zürich", "3", 2), ("4", "5", "6", 3)]
    assert quarantined.height == 0


def test_latin1_chunk_is_transcoded(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b,c\n1,MÜNCHEN,3\n".encode("latin-1"))
    with SourceLines(path, CSV) as lines:
        chunks = list(lines.chunks())
        assert lines.transcoded
    assert chunks[0].lines.to_list() == ["1,MÜNCHEN,3\n"]


def test_utf16_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b\n1,2\n".encode("utf-16"))
    with pytest.raises(ParseError) as caught:
        CsvReader(path, CsvLayout(CSV))
    assert caught.value.line == 1 and "UTF-8" in caught.value.message


def test_missing_file_is_a_fetch_error(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="cannot open"):
        CsvReader(tmp_path / "nope.csv", CsvLayout(CSV))


def test_lone_carriage_return_is_quarantined_not_split(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + b"1,2,3\n4,x\ry,6\n7,8,9\n")
    kept, quarantined = read_all(path, CsvLayout(CSV))
    assert kept["_line"].to_list() == [2, 4]
    assert quarantined["_line"].to_list() == [3]
    assert "carriage return" in quarantined["_reason"][0]


# --- blank, comment, bad and long lines --------------------------------------------------


def test_blank_and_comment_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    data = b"# comment\n\na,b,c\n1,2,3\n  \t\n# mid comment\n4,5,6\n"
    layout = CsvLayout(replace(CSV, comment_prefixes=("#",)))
    kept, quarantined = read_all(write(tmp_path, data), layout)
    assert kept["_line"].to_list() == [4, 7]
    assert quarantined.height == 0


def test_wrong_field_counts_are_quarantined_with_the_raw_line(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + b"1,2,3\n4,5\n6,7,8,9\n10,11,12\n")
    kept, quarantined = read_all(path, CsvLayout(CSV))
    assert kept["a"].to_list() == ["1", "10"]
    assert kept["_line"].to_list() == [2, 5]
    assert quarantined.rows() == [
        (str(path), 3, "4,5", None, "2 fields where the header has 3"),
        (str(path), 4, "6,7,8,9", None, "4 fields where the header has 3"),
    ]


def test_cut_short_last_line_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + b"1,2,3\n4,5")
    kept, quarantined = read_all(path, CsvLayout(CSV))
    assert kept["_line"].to_list() == [2]
    assert quarantined["_line"].to_list() == [3]
    assert quarantined["_reason"][0].startswith("the last line is cut short (no line end)")


def test_last_line_without_line_end_is_kept_when_whole(tmp_path: Path) -> None:
    kept, quarantined = read_all(write(tmp_path, HEADER + b"1,2,3"), CsvLayout(CSV))
    assert kept.rows() == [("1", "2", "3", 2)] and quarantined.height == 0


def test_unclosed_quote_is_quarantined_and_does_not_swallow_lines(tmp_path: Path) -> None:
    rows = b"".join(b'%d,"x",y\n' % number for number in range(2, 2000))
    path = write(tmp_path, HEADER + b'1,"open,3\n' + rows)
    kept, quarantined = read_all(path, CsvLayout(CSV))
    assert quarantined["_line"].to_list() == [2]
    assert quarantined["_reason"][0] == "a quoted value is not closed before the end of the line"
    assert kept.height == 1998 and kept["_line"].to_list() == list(range(3, 2001))
    assert not kept["b"].str.contains("\n").any()


def test_quoted_delimiters_doubled_quotes_and_empty_values(tmp_path: Path) -> None:
    path = write(tmp_path, b'a,b,c\n"x, y","say ""hi""",\n"",plain"quote,""\n')
    kept, quarantined = read_all(path, CsvLayout(CSV))
    assert kept.rows() == [("x, y", 'say "hi"', None, 2), (None, 'plain"quote', None, 3)]
    assert quarantined.height == 0


def test_overlong_line_is_quarantined_with_a_preview(tmp_path: Path) -> None:
    layout = CsvLayout(replace(CSV, max_line_bytes=1000, chunk_bytes=256))
    long_line = b"9," + b"x" * 5000 + b",9\n"
    path = write(tmp_path, HEADER + b"1,2,3\n" + long_line + b"4,5,6\n")
    kept, quarantined = read_all(path, layout)
    assert kept["_line"].to_list() == [2, 4]
    assert quarantined["_line"].to_list() == [3]
    assert quarantined["_reason"][0] == "line is longer than 1000 bytes"
    assert quarantined["_raw"][0].startswith("9,xxx") and len(quarantined["_raw"][0]) < 400


def test_overlong_line_inside_a_chunk_is_quarantined(tmp_path: Path) -> None:
    layout = CsvLayout(replace(CSV, max_line_bytes=100, chunk_bytes=1 << 16))
    path = write(tmp_path, HEADER + b"1,2,3\n7," + b"y" * 300 + b",9\n4,5,6\n")
    kept, quarantined = read_all(path, layout)
    assert kept["_line"].to_list() == [2, 4]
    assert quarantined["_line"].to_list() == [3]


def test_gigantic_line_is_skipped_in_bounded_memory(tmp_path: Path) -> None:
    """A 64 MiB line (no line end in sight) must cost about one chunk, not the line."""
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.write(HEADER + b"1,2,3\n5,")
        block = b"z" * (1 << 20)
        for _ in range(64):
            handle.write(block)
        handle.write(b",6\n7,8,9\n")
    layout = replace(CSV, max_line_bytes=1 << 20, chunk_bytes=1 << 20)
    tracemalloc.start()
    with SourceLines(path, layout) as lines:
        numbers = [int(n) for chunk in lines.chunks() for n in chunk.numbers]
        rejected = lines.take_rejected()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert numbers == [2, 4]
    assert rejected["_line"].to_list() == [3]
    assert peak < 12 * (1 << 20)


def test_overlong_line_right_after_the_header_is_not_taken_for_it(tmp_path: Path) -> None:
    """The first read holds the header, a row and the start of an overlong line."""
    layout = CsvLayout(replace(CSV, max_line_bytes=1000, chunk_bytes=4096))
    path = write(tmp_path, HEADER + b"1,2,3\n8," + b"q" * 6000 + b"\n4,5,6\n")
    kept, quarantined = read_all(path, layout)
    assert kept["_line"].to_list() == [2, 4]
    assert quarantined["_line"].to_list() == [3]


def test_header_line_that_is_overlong_is_a_parse_error(tmp_path: Path) -> None:
    layout = CsvLayout(replace(CSV, max_line_bytes=50, chunk_bytes=64))
    path = write(tmp_path, b"a," * 100 + b"b\n1,2\n")
    with pytest.raises(ParseError) as caught:
        CsvReader(path, layout)
    assert caught.value.line == 1


# --- header --------------------------------------------------------------------------------


def test_header_names_are_trimmed_and_empty_names_numbered(tmp_path: Path) -> None:
    with CsvReader(write(tmp_path, b' "a" , b ,\n1,2,3\n'), CsvLayout(CSV)) as reader:
        assert reader.columns == ("a", "b", "column_3")
        assert reader.header_line == 1


def test_duplicate_header_name_is_a_parse_error(tmp_path: Path) -> None:
    with pytest.raises(ParseError) as caught:
        CsvReader(write(tmp_path, b"\n\na,b,a\n1,2,3\n"), CsvLayout(CSV))
    assert (caught.value.line, caught.value.column) == (3, "a")


def test_missing_required_column_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, b"a,c\n1,2\n")
    with (
        CsvReader(path, CsvLayout(CSV)) as reader,
        pytest.raises(ParseError) as caught,
    ):
        reader.require(["a", "b", "d"])
    error = caught.value
    assert (error.file, error.line, error.column) == (str(path), 1, "b")
    assert "missing columns b, d" in error.message


@pytest.mark.parametrize("data", [b"", b"\n\n  \n", b"# only\n# comments\n"])
def test_empty_files_give_no_batches(tmp_path: Path, data: bytes) -> None:
    layout = CsvLayout(replace(CSV, comment_prefixes=("#",)), required=("a",))
    with CsvReader(write(tmp_path, data), layout) as reader:
        assert reader.is_empty
        reader.require(["a"])
        assert list(reader.batches()) == []


def test_header_only_gives_no_batches(tmp_path: Path) -> None:
    with CsvReader(write(tmp_path, HEADER), CsvLayout(CSV)) as reader:
        assert reader.columns == ("a", "b", "c")
        assert list(reader.batches()) == []


def test_commented_header_is_read_from_the_last_comment_naming_required(tmp_path: Path) -> None:
    data = b"# Title, with a comma\n# x,y,z\n#\n1,2,3\n"
    text = TextLayout(comment_prefixes=("#",), header=HeaderStyle.COMMENTED)
    with CsvReader(write(tmp_path, data), CsvLayout(text, ("p", "q", "r"), ("y",))) as reader:
        assert reader.columns == ("x", "y", "z")
    with CsvReader(write(tmp_path, data), CsvLayout(text, ("p", "q", "r"), ("q",))) as reader:
        assert reader.columns == ("p", "q", "r")


@pytest.mark.parametrize(
    ("header", "expected"),
    [(b"a;b;c", ";"), (b"a\tb\tc", "\t"), (b'"x,y"|b|c', "|"), (b"a,b;c", ","), (b"abc", ",")],
)
def test_delimiter_is_sniffed_from_the_header(tmp_path: Path, header: bytes, expected: str) -> None:
    path = write(tmp_path, header + b"\n1\n")
    assert sniff_delimiter(path, CSV, SNIFFED_DELIMITERS) == expected


# --- line numbers across blocks -------------------------------------------------------------


def test_line_numbers_stay_exact_across_many_small_blocks(tmp_path: Path) -> None:
    lines = [HEADER.rstrip(b"\n")]
    expected_kept, expected_bad = [], []
    for number in range(2, 3001):
        if number % 97 == 0:
            lines.append(b"%d,bad" % number)
            expected_bad.append(number)
        elif number % 89 == 0:
            lines.append(b"")
        else:
            lines.append(b'%d,"v,%d",w' % (number, number))
            expected_kept.append(number)
    path = write(tmp_path, b"\n".join(lines) + b"\n")
    layout = CsvLayout(replace(CSV, chunk_bytes=512, max_line_bytes=200))
    kept, quarantined = read_all(path, layout)
    assert kept["_line"].to_list() == expected_kept
    assert kept["a"].cast(pl.Int64).to_list() == expected_kept
    assert quarantined["_line"].to_list() == expected_bad


def test_a_block_of_only_bad_rows_still_reports_them(tmp_path: Path) -> None:
    bad = b"".join(b"%d\n" % number for number in range(500))
    path = write(tmp_path, HEADER + bad + b"1,2,3\n")
    kept, quarantined = read_all(path, CsvLayout(replace(CSV, chunk_bytes=256)))
    assert kept["_line"].to_list() == [502]
    assert quarantined["_line"].to_list() == list(range(2, 502))


def test_reading_is_streamed_in_bounded_memory(tmp_path: Path) -> None:
    """pyarrow's allocations stay near a few blocks while a file 50 times larger is read."""
    path = tmp_path / "big.csv"
    row = b'"2026-11-20 03:14:15","192.0.2.1","tcp",80,"host.example.net"\n'
    with path.open("wb") as handle:
        handle.write(b"t,ip,p,port,host\n")
        for _ in range(100):
            handle.write(row * 1000)
    layout = CsvLayout(replace(CSV, chunk_bytes=64 << 10, max_line_bytes=4 << 10))
    peak = rows = 0
    with CsvReader(path, layout) as reader:
        for batch in reader.batches():
            rows += batch.rows.height
            peak = max(peak, pa.total_allocated_bytes())
    assert rows == 100_000
    assert path.stat().st_size > 6_000_000
    assert peak < 2_000_000


# --- the quote check agrees with pyarrow -----------------------------------------------------


def pyarrow_leaves_line_open(line: str) -> bool:
    """Whether pyarrow, splitting `line` then a next line, carries a value over the line end."""
    data = (line + "\nNEXT\n").encode()
    options = pacsv.ReadOptions(autogenerate_column_names=True, use_threads=False)
    parse = pacsv.ParseOptions(invalid_row_handler=lambda row: "skip")
    convert = pacsv.ConvertOptions(
        column_types={f"f{index}": pa.string() for index in range(line.count(",") + 2)}
    )
    try:
        table = pacsv.read_csv(io.BytesIO(data), options, parse, convert)
    except pa.ArrowInvalid:
        return True
    values = [value for column in table.columns for value in column.to_pylist()]
    return any(value is not None and "\n" in value for value in values)


@settings(max_examples=max(20, settings().max_examples // 5))
@given(st.text(alphabet='ab",', min_size=1, max_size=12))
def test_open_quote_check_matches_pyarrow(
    tmp_path_factory: pytest.TempPathFactory, line: str
) -> None:
    path = tmp_path_factory.mktemp("quote") / "line.csv"
    path.write_bytes(line.encode() + b"\n")
    with SourceLines(path, replace(CSV, header=HeaderStyle.NONE)) as lines:
        list(lines.chunks())
        flagged = lines.take_rejected()["_line"].to_list() == [1]
    assert flagged == pyarrow_leaves_line_open(line)


def test_source_lines_keep_each_data_line_with_its_file_line(tmp_path: Path) -> None:
    path = write(tmp_path, b"h\n\n1\n#c\n2\n\n\n3\n")
    layout = replace(CSV, comment_prefixes=("#",))
    with SourceLines(path, layout) as lines:
        lines.prime()
        assert lines.header == (1, "h")
        chunks = list(lines.chunks())
    assert b"".join(bytes(chunk.data) for chunk in chunks) == b"1\n2\n3\n"
    assert np.concatenate([chunk.numbers for chunk in chunks]).tolist() == [3, 5, 8]
