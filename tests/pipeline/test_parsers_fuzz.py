"""Fuzzing the readers and parsers: random bytes and random damage to valid samples.

Whatever the input, only `ParseError` may escape, and every data line (not blank, not a
comment, not the header) is accounted for exactly once: kept, or quarantined with a reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entente.core.errors import ParseError
from entente.pipeline.batches import QUARANTINE_SCHEMA
from entente.pipeline.parsers import parser
from entente.pipeline.parsers.csv_reading import CsvLayout, CsvReader
from entente.pipeline.parsers.source_lines import TextLayout

DATA = Path(__file__).parents[1] / "data"
NOISE = st.binary(max_size=300) | st.text(alphabet=',"\r\n \t;#abc\x00é', max_size=120).map(
    str.encode
)
# A fifth of the profile's examples: each example runs every parser over a file, and at the
# CI profile's full count these tests alone took five minutes of the suite.
FUZZ = settings(
    max_examples=max(20, settings().max_examples // 5),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    deadline=None,
)


def data_lines(data: bytes, comments: tuple[bytes, ...], header: bool) -> list[int]:
    """The 1-based numbers of the lines a parser must keep or quarantine (the reference)."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    if data and not data.endswith(b"\n"):
        data += b"\n"  # a last line without a line end is still a line
    data = data.replace(b"\r\n", b"\n")
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    numbers = []
    for number, line in enumerate(lines, start=1):
        if line.strip(b" \t") == b"" or (comments and line.startswith(comments)):
            continue
        numbers.append(number)
    return numbers[1:] if header else numbers


def check_accounting(outputs: list, expected: list[int]) -> None:
    kept_lines: list[int] = []
    quarantined_lines: list[int] = []
    columns = None
    for output in outputs:
        assert output.quarantined.schema == pl.Schema(QUARANTINE_SCHEMA)
        assert output.quarantined["_reason"].null_count() == 0
        if output.kept.height:
            assert columns in (None, output.kept.columns)
            columns = output.kept.columns
        kept_lines += output.kept["_line"].to_list()
        quarantined_lines += output.quarantined["_line"].to_list()
    assert sorted(kept_lines + quarantined_lines) == expected


def run(name: str, path: Path, options: dict[str, object]) -> list | None:
    """The parser's outputs, or None when it refused the file with a ParseError."""
    try:
        return list(parser(name).parse(path, options))
    except ParseError as error:
        assert error.file == str(path)
        return None


# --- the CSV reader with a good header and a random body, in tiny blocks ---------------------


@FUZZ
@given(body=st.lists(NOISE, max_size=8).map(b"".join))
def test_csv_reader_accounts_for_every_line(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "fuzz.csv"
    data = b"a,b,c\n" + body
    path.write_bytes(data)
    layout = CsvLayout(TextLayout(chunk_bytes=64, max_line_bytes=100))
    try:
        with CsvReader(path, layout) as reader:
            batches = list(reader.batches())
    except ParseError:
        return
    kept = sorted(int(line) for batch in batches for line in batch.lines)
    quarantined = sorted(line for batch in batches for line in batch.quarantined["_line"])
    for batch in batches:
        assert batch.rows.height == len(batch.lines)
        assert batch.rows.columns == ["a", "b", "c"]
    assert sorted(kept + quarantined) == data_lines(data, (), header=True)


@FUZZ
@given(data=st.binary(max_size=2000))
def test_random_bytes_never_raise_anything_but_parse_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "2026-11-20-scan_http-fuzz.csv"
    path.write_bytes(data)
    for name, comments, header in (
        ("shadowserver", (), True),
        ("urlhaus", (b"#",), False),
        ("list", (b"#", b";"), False),
        ("spamhaus_drop", (b";",), False),
        ("generic_csv", (), True),
    ):
        options: dict[str, object] = (
            {"mapping": {"a": "source.ip"}} if name == "generic_csv" else {}
        )
        outputs = run(name, path, options)
        if outputs is not None and name != "spamhaus_drop":
            check_accounting(outputs, data_lines(data, comments, header))


# --- random damage to valid samples ----------------------------------------------------------

SAMPLES = [
    ("shadowserver", "shadowserver/scan_http.csv", (), True),
    ("shadowserver", "shadowserver/event4_honeypot_brute_force.csv", (), True),
    ("urlhaus", "abusech/urlhaus.csv", (b"#",), False),
    ("threatfox", "abusech/threatfox.csv", (b"#",), False),
    ("spamhaus_drop", "spamhaus/drop.txt", (b";",), False),
    ("list", "lists/blocklist.txt", (b"#", b";"), False),
]


@st.composite
def damaged(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "truncate", "dup"]))
        if kind == "insert":
            data[at:at] = draw(NOISE)
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 80))]
        elif kind == "replace":
            data[at : at + 1] = draw(st.sampled_from([b'"', b",", b"\n", b"\r", b"\xff", b""]))
        elif kind == "truncate":
            del data[at:]
        else:
            start = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at)
            data[at:at] = data[start : end + 1 if end >= 0 else len(data)]
    return bytes(data)


@pytest.mark.parametrize(("name", "sample", "comments", "header"), SAMPLES)
@FUZZ
@given(data=st.data())
def test_damaged_samples_are_parsed_or_refused_cleanly(
    tmp_path: Path,
    name: str,
    sample: str,
    comments: tuple[bytes, ...],
    header: bool,
    data: st.DataObject,
) -> None:
    source = DATA / sample
    damaged_bytes = data.draw(damaged(source.read_bytes()))
    path = tmp_path / source.name
    path.write_bytes(damaged_bytes)
    outputs = run(name, path, {})
    if outputs is not None:
        check_accounting(outputs, data_lines(damaged_bytes, comments, header))


def test_reference_agrees_on_a_clean_sample() -> None:
    """The fuzz reference counts lines like the parsers on an undamaged file."""
    path = DATA / "shadowserver" / "scan_http-truncated.csv"
    outputs = list(parser("shadowserver").parse(path, {}))
    check_accounting(outputs, data_lines(path.read_bytes(), (), header=True))


# --- the JSON parsers (stix, misp_feed): junk, damaged samples, odd objects -------------------

JSON_SAMPLES = [
    ("stix", "stix/mappings.json"),
    ("stix", "stix/quarantine.json"),
    ("misp_feed", "misp_feed/7c3d2b1a-5e6f-4a8b-9c0d-1e2f3a4b5c02.json"),
]
JSON_NOISE = st.binary(max_size=300) | st.text(
    alphabet='{}[]":,0123456789 \n\\abc\x00é', max_size=200
).map(str.encode)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
PATTERNS = st.sampled_from(
    [
        "[ipv4-addr:value = '192.0.2.1']",
        "[file:hashes.'SHA-256' = 'x' AND file:name = 'y']",
        "[network-traffic:dst_ref.value = '192.0.2.1' AND network-traffic:dst_port = 1]",
        "[url:value = 'a'] OR [domain-name:value = 'b'] WITHIN 5 SECONDS",
        "[x:y = 'it\\'s']",
        "[",
    ]
) | st.text(alphabet="[]()':=ANDOR abcipv4-.", max_size=60)
STIX_OBJECTS = (
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                ["indicator", "ipv4-addr", "url", "file", "observed-data", "malware"]
            )
        },
        optional={
            "pattern": PATTERNS,
            "value": JSON_VALUES,
            "hashes": JSON_VALUES,
            "objects": JSON_VALUES,
            "object_refs": JSON_VALUES,
            "labels": JSON_VALUES,
            "object_marking_refs": JSON_VALUES,
            "spec_version": st.sampled_from(["2.0", "2.1"]),
        },
    )
    | JSON_VALUES
)
MISP_ATTRIBUTES = (
    st.fixed_dictionaries(
        {"type": st.sampled_from(["ip-dst", "ip-src|port", "filename|md5", "text"]) | JSON_VALUES},
        optional={
            "value": JSON_VALUES | st.text(max_size=20),
            "Tag": JSON_VALUES,
            "deleted": JSON_VALUES,
        },
    )
    | JSON_VALUES
)


def check_json_outputs(outputs: list) -> set[int]:
    """Every batch has the quarantine schema and one column set; an object is kept or
    quarantined, never both. Returns the lines seen."""
    columns = None
    kept: set[int] = set()
    quarantined: set[int] = set()
    for output in outputs:
        assert output.quarantined.schema == pl.Schema(QUARANTINE_SCHEMA)
        assert output.quarantined["_reason"].null_count() == 0
        assert columns in (None, output.kept.columns)
        columns = output.kept.columns
        kept |= set(output.kept["_line"])
        quarantined |= set(output.quarantined["_line"])
    assert not kept & quarantined
    return kept | quarantined


@FUZZ
@given(data=st.lists(JSON_NOISE, max_size=6).map(b"".join))
def test_json_parsers_take_any_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.json"
    path.write_bytes(data)
    for name in ("stix", "misp_feed"):
        outputs = run(name, path, {})
        if outputs is not None:
            check_json_outputs(outputs)


@pytest.mark.parametrize(("name", "sample"), JSON_SAMPLES)
@FUZZ
@given(data=st.data())
def test_damaged_json_samples_are_parsed_or_refused_cleanly(
    tmp_path: Path, name: str, sample: str, data: st.DataObject
) -> None:
    source = DATA / sample
    path = tmp_path / source.name
    path.write_bytes(data.draw(damaged(source.read_bytes())))
    outputs = run(name, path, {})
    if outputs is not None:
        check_json_outputs(outputs)


@FUZZ
@given(objects=st.lists(STIX_OBJECTS, max_size=6), attributes=st.lists(MISP_ATTRIBUTES, max_size=6))
def test_odd_objects_and_attributes_are_kept_quarantined_or_skipped(
    tmp_path: Path, objects: list, attributes: list
) -> None:
    stix = tmp_path / "bundle.json"
    stix.write_text(json.dumps({"type": "bundle", "objects": objects}))
    assert check_json_outputs(list(parser("stix").parse(stix, {}))) <= set(
        range(1, len(objects) + 1)
    )
    misp = tmp_path / "event.json"
    event = {"Attribute": attributes, "Object": [{"Attribute": attributes}]}
    misp.write_text(json.dumps({"Event": event}))
    assert check_json_outputs(list(parser("misp_feed").parse(misp, {}))) <= set(
        range(1, 2 * len(attributes) + 1)
    )
