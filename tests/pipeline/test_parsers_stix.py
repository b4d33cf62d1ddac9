"""The `stix` parser on its sample bundles: each mapping, each quarantine reason, what is
skipped, and bundles that are empty, cut short or not JSON at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from stix2validator import ValidationOptions, validate_file

from entente.core.errors import BadValue, ParseError
from entente.pipeline.normalise import normalise
from entente.pipeline.parsers import parser
from entente.pipeline.parsers.rsit_words import WORDS, classification
from entente.pipeline.parsers.stix import (
    COLUMNS,
    HASH_FIELDS,
    OBSERVABLE_FIELDS,
    VALUE_FIELDS,
    StixParser,
)
from entente.pipeline.parsers.stix_patterns import Unreducible, reduce_pattern

STIX = Path(__file__).parents[1] / "data" / "stix"
DOCS = Path(__file__).parents[2] / "docs" / "feeds.md"


def parse(
    path: Path, options: dict[str, object] | None = None, block: int = 50_000
) -> tuple[pl.DataFrame, pl.DataFrame]:
    outputs = list(StixParser(block=block).parse(path, options or {}))
    assert outputs
    (columns,) = {tuple(output.kept.columns) for output in outputs}
    assert columns[: len(COLUMNS)] == COLUMNS and columns[-2:] == ("_file", "_line")
    return (
        pl.concat([output.kept for output in outputs]),
        pl.concat([output.quarantined for output in outputs]),
    )


def by_name(kept: pl.DataFrame, name: str) -> list[dict[str, Any]]:
    return kept.filter(pl.col("extra.name") == name).rows(named=True)


def bundle(tmp_path: Path, objects: list[Any], name: str = "bundle.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": objects}))
    return path


@pytest.mark.parametrize("name", ["mappings.json", "realistic.json"])
def test_the_samples_meant_to_be_valid_are_valid_stix_2_1(name: str) -> None:
    results = validate_file(str(STIX / name), ValidationOptions(version="2.1"))
    assert results.is_valid, [
        str(error) for result in results.object_results for error in result.errors
    ]


def test_the_parser_is_registered() -> None:
    assert isinstance(parser("stix"), StixParser)


def test_every_field_the_tables_fill_is_a_column() -> None:
    targets = {*VALUE_FIELDS.values(), *HASH_FIELDS.values(), *OBSERVABLE_FIELDS}
    assert targets | {"source.network", "source.port"} <= set(COLUMNS)


# --- indicators -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("C2 address", {"source.ip": "198.51.100.7", "classification.type": "c2-server"}),
        ("Hosting range", {"source.network": "198.51.100.0/24", "source.ip": None}),
        ("IPv6 C2", {"source.ip": "2001:db8::c2", "classification.type": "system-compromise"}),
        ("Scanning network", {"source.network": "203.0.113.0/25"}),
        ("Phishing domain", {"source.fqdn": "login-verify.example.net", "tlp": "clear"}),
        ("Payload URL", {"source.url": "http://203.0.113.9/bins/mips"}),
        ("Sender address", {"source.account": "billing@invoice-notice.example.org"}),
        ("Spam sender", {"source.account": "no-reply@lure.example.com"}),
        (
            "Loader sample",
            {
                "malware.hash.md5": "44d88612fea8a8f36de82e1278abb02f",
                "malware.hash.sha1": "3395856ce81f2b7382dee72602f798b642f14140",
                "malware.hash.sha256": (
                    "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
                ),
            },
        ),
        ("C2 endpoint", {"source.ip": "203.0.113.45", "source.port": "8443", "tlp": "amber"}),
        ("C2 name and port", {"source.fqdn": "update-check.example.com", "source.port": "443"}),
        ("Scanner source", {"source.ip": "192.0.2.77", "source.port": None}),
    ],
)
def test_each_indicator_pattern_maps_to_its_field(name: str, expected: dict[str, str]) -> None:
    kept, _ = parse(STIX / "mappings.json")
    (row,) = by_name(kept, name)
    assert {field: row[field] for field in expected} == expected
    assert row["extra.stix_type"] == "indicator"
    assert row["extra.pattern"].startswith("[")


def test_an_indicator_carries_its_context() -> None:
    kept, _ = parse(STIX / "mappings.json")
    (row,) = by_name(kept, "C2 address")
    assert row["time.source"] == "2026-11-20T09:00:00Z"
    assert row["feed.accuracy"] == "85"
    assert row["event_description.text"] == "Command-and-control server of the loader"
    assert row["extra.stix_id"].startswith("indicator--")
    assert row["extra.created_by_ref"].startswith("identity--")
    assert (row["extra.labels"], row["extra.indicator_types"]) == ("c2", "malicious-activity")
    assert (row["classification.taxonomy"], row["tlp"]) == ("malicious-code", "green")


def test_or_and_in_give_a_row_per_value_on_the_same_line() -> None:
    kept, _ = parse(STIX / "mappings.json")
    either = by_name(kept, "Either of two")
    assert [(row["source.url"], row["source.fqdn"]) for row in either] == [
        ("http://login-verify.example.net/a.php", None),
        (None, "cdn.login-verify.example.net"),
    ]
    assert [row["source.ip"] for row in by_name(kept, "One of a set")] == [
        "192.0.2.10",
        "192.0.2.11",
    ]
    assert len({row["_line"] for row in either}) == 1


# --- observables, observed data, and what is skipped ------------------------------------------


def test_observables_take_the_time_and_labels_of_the_observed_data_naming_them() -> None:
    kept, _ = parse(STIX / "mappings.json")
    observed = kept.filter(pl.col("extra.observed_data_ref").is_not_null())
    assert observed["extra.stix_type"].to_list() == ["ipv4-addr", "file"]
    assert observed["time.source"].to_list() == ["2026-11-19T22:15:00Z"] * 2
    assert observed["classification.type"].to_list() == ["scanner"] * 2
    assert observed["tlp"].to_list() == ["amber"] * 2
    file = observed.row(1, named=True)
    assert file["malware.hash.md5"] == "acbd18db4cc2f85cedef654fccc4a4d8"
    assert file["malware.hash.sha256"].startswith("2c26b46b")


def test_observables_alone_and_embedded_in_observed_data() -> None:
    kept, _ = parse(STIX / "mappings.json")
    alone = kept.filter(pl.col("extra.stix_type").is_in(["domain-name", "url", "email-addr"]))
    assert alone.select("source.fqdn", "source.url", "source.account", "tlp").rows() == [
        ("parked.example.com", None, None, None),
        (None, "https://drop.example.org/x.zip", None, "red"),
        (None, None, "mule@example.net", None),
    ]
    assert alone["time.source"].null_count() == 3
    embedded = kept.filter(pl.col("extra.stix_type") == "observed-data")
    assert embedded.select("source.ip", "source.fqdn").rows() == [
        ("192.0.2.200", None),
        (None, "beacon.example.org"),
    ]
    assert set(embedded["time.source"]) == {"2026-11-18T06:00:00Z"}
    assert set(embedded["classification.type"]) == {"c2-server"}


def test_context_objects_are_skipped_not_quarantined() -> None:
    kept, quarantined = parse(STIX / "mappings.json")
    objects = json.loads((STIX / "mappings.json").read_text())["objects"]
    skipped = {
        index + 1
        for index, item in enumerate(objects)
        if (
            item["type"]
            in {
                "identity",
                "malware",
                "relationship",
                "sighting",
                "network-traffic",
                "observed-data",
            }
            and "objects" not in item
        )
        or item.get("pattern_type") == "yara"
    }
    assert skipped.isdisjoint(set(kept["_line"]))
    assert quarantined.height == 0
    assert set(kept["_line"]) | skipped == set(range(1, len(objects) + 1))


def test_default_classification_and_constants_fill_only_the_gaps() -> None:
    kept, _ = parse(STIX / "mappings.json", {"constants": {"feed.provider": "CERT-Example"}})
    assert set(kept["feed.provider"]) == {"CERT-Example"}
    (row,) = by_name(kept, "One of a set")[:1]
    assert row["classification.type"] == "undetermined"
    (c2,) = by_name(kept, "C2 address")
    assert c2["classification.type"] == "c2-server"


def test_the_samples_pass_the_normaliser() -> None:
    for name in ("mappings.json", "realistic.json"):
        kept, _ = parse(STIX / name)
        result = normalise(kept)
        assert result.quarantined.height == 0, result.quarantined["_reason"].to_list()
        assert result.kept["classification.taxonomy"].null_count() == 0


# --- quarantine -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (1, "AND of different objects ([...] AND [...])"),
        (2, "AND of different objects (domain-name and ipv4-addr)"),
        (3, "FOLLOWEDBY"),
        (4, "temporal qualifier WITHIN"),
        (5, "temporal qualifier START ... STOP"),
        (6, "temporal qualifier REPEATS"),
        (7, "invalid STIX pattern: 1:30: mismatched input '<EOF>' expecting ']'"),
        (8, "operator !=: matches many values"),
        (9, "operator MATCHES"),
        (10, "no vocabulary field for file:name"),
        (11, "two values for malware.hash.md5"),
        (12, "indicator has no pattern"),
        (13, "not a STIX object: no type"),
        (14, "not a STIX object: no type"),
        (15, "ipv4-addr has no value"),
    ],
)
def test_each_reason_to_quarantine(line: int, reason: str) -> None:
    _, quarantined = parse(STIX / "quarantine.json")
    row = quarantined.filter(pl.col("_line") == line).row(0, named=True)
    assert reason in row["_reason"]
    assert row["_raw"].startswith(f"objects[{line - 1}] ")
    assert row["_file"] == str(STIX / "quarantine.json")


def test_a_quarantined_object_does_not_stop_the_bundle() -> None:
    kept, quarantined = parse(STIX / "quarantine.json")
    assert quarantined["_line"].to_list() == list(range(1, 16))
    assert kept.select("_line", "source.ip").rows() == [(16, "192.0.2.11")]
    assert quarantined["_raw"].str.starts_with("{").sum() == 0, "never re-read as values"


def test_the_realistic_bundle() -> None:
    kept, quarantined = parse(STIX / "realistic.json")
    assert kept.height == 15
    assert quarantined["_reason"].to_list() == [
        "pattern \"[network-traffic:dst_ref.value = '198.51.100.41'] REPEATS 10 TIMES WITHIN "
        '600 SECONDS": temporal qualifier WITHIN: a condition in time, not a value'
    ]
    assert set(kept["tlp"]) == {"green"}
    assert kept["classification.type"].value_counts().sort("classification.type").rows() == [
        ("c2-server", 5),
        ("malware-distribution", 1),
        ("phishing", 4),
        ("undetermined", 5),
    ]


def test_batches_of_a_few_objects_give_the_same_rows() -> None:
    whole, _ = parse(STIX / "mappings.json")
    outputs = list(StixParser(block=3).parse(STIX / "mappings.json", {}))
    assert len(outputs) > 5
    assert pl.concat([output.kept for output in outputs]).equals(whole)


def test_markings_defined_anywhere_in_the_bundle_set_the_tlp(tmp_path: Path) -> None:
    def marking(number: int, **fields: object) -> dict[str, object]:
        return {"type": "marking-definition", "id": f"marking-definition--{number}", **fields}

    def url(number: int, *refs: int) -> dict[str, object]:
        marks = [f"marking-definition--{ref}" for ref in refs]
        return {"type": "url", "value": f"http://{number}.example/", "object_marking_refs": marks}

    extension = {"extension_type": "property-extension", "tlp_2_0": "amber+strict"}
    objects = [
        url(1, 1),
        url(2, 1, 2),
        url(3, 3, 9),
        url(4, 4),
        marking(1, definition_type="tlp", definition={"tlp": "white"}),
        marking(2, name="TLP:RED"),
        marking(
            3, extensions={"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": extension}
        ),
        marking(4, definition_type="statement", definition={"statement": "Copyright"}),
    ]
    kept, _ = parse(bundle(tmp_path, objects))
    assert kept["tlp"].to_list() == ["clear", "red", "amber+strict", None]


# --- patterns ---------------------------------------------------------------------------------


def test_templates_keep_quotes_and_backslashes_in_values() -> None:
    (first,), (second,) = reduce_pattern(
        r"[url:value = 'http://x.example/it\'s'] OR [file:hashes.'SHA-256' = 'a\\b']"
    )
    assert (first.value, second.path, second.value) == (
        "http://x.example/it's",
        ("hashes", "SHA-256"),
        "a\\b",
    )
    with pytest.raises(Unreducible, match="invalid STIX pattern"):
        reduce_pattern("[url:value = 'it''s']")


def test_a_stix_2_0_indicator_is_read_with_the_2_0_grammar(tmp_path: Path) -> None:
    indicator = {
        "type": "indicator",
        "id": "indicator--2f0d7a6a-7c6c-4b8e-9d5e-1a2b3c4d5e6f",
        "created": "2017-01-01T00:00:00.000Z",
        "modified": "2017-01-01T00:00:00.000Z",
        "labels": ["malicious-activity", "phishing"],
        "pattern": "[domain-name:value = 'old.example.com']",
        "valid_from": "2017-01-01T00:00:00Z",
    }
    kept, _ = parse(bundle(tmp_path, [indicator]))
    assert kept.select("source.fqdn", "classification.type").row(0) == (
        "old.example.com",
        "phishing",
    )


def test_a_taxii_envelope_reads_like_a_bundle(tmp_path: Path) -> None:
    path = tmp_path / "envelope.json"
    sco = {"type": "url", "id": "url--1", "value": "http://x.example/"}
    path.write_text(json.dumps({"more": False, "objects": [sco]}))
    kept, _ = parse(path)
    assert kept["source.url"].to_list() == ["http://x.example/"]


# --- whole files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content", [b"", b"  \n\t\n", b'{"type": "bundle", "id": "b", "objects": []}']
)
def test_nothing_to_read_gives_nothing(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.json"
    path.write_bytes(content)
    assert list(parser("stix").parse(path, {})) == []


@pytest.mark.parametrize("content", ["{}", "[]", '{"Event": {"info": "x"}}', '"bundle"'])
def test_json_that_is_not_a_bundle_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "other.json"
    path.write_text(content)
    with pytest.raises(ParseError, match="not a STIX bundle") as raised:
        list(parser("stix").parse(path, {}))
    assert (raised.value.file, raised.value.line) == (str(path), 1)


def test_a_cut_short_bundle_is_refused_at_its_end(tmp_path: Path) -> None:
    text = (STIX / "realistic.json").read_text()
    cut = text[: len(text) * 2 // 3]
    path = tmp_path / "cut.json"
    path.write_text(cut)
    with pytest.raises(ParseError, match="premature EOF") as raised:
        list(parser("stix").parse(path, {}))
    last_line = cut.rsplit("\n", 1)[-1]
    assert (raised.value.line, raised.value.column) == (
        cut.count("\n") + 1,
        str(len(last_line) + 1),
    )
    assert str(path) in raised.value.message


def test_a_syntax_error_is_refused_at_its_line_and_column(tmp_path: Path) -> None:
    lines = (STIX / "mappings.json").read_text().splitlines(keepends=True)
    lines[40] = lines[40].replace('"', "'", 1)
    path = tmp_path / "broken.json"
    path.write_text("".join(lines))
    with pytest.raises(ParseError, match="invalid char") as raised:
        list(parser("stix").parse(path, {}))
    expected_column = len(lines[40]) - len(lines[40].lstrip()) + 1
    assert (raised.value.line, raised.value.column) == (41, str(expected_column))


def test_the_error_position_counts_characters_not_bytes_and_skips_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(
        b'\xef\xbb\xbf{"type": "bundle", "objects": [\n{"name": "\xc3\xa9t\xc3\xa9", x}]}'
    )
    with pytest.raises(ParseError) as raised:
        list(parser("stix").parse(path, {}))
    assert (raised.value.line, raised.value.column) == (2, "17")


def test_a_bom_is_skipped_and_utf16_refused(tmp_path: Path) -> None:
    data = (STIX / "realistic.json").read_bytes()
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + data)
    assert parse(path)[0].height == 15
    path.write_bytes(data.decode().encode("utf-16"))
    with pytest.raises(ParseError, match="UTF-16"):
        list(parser("stix").parse(path, {}))


def test_an_unknown_option_is_refused() -> None:
    with pytest.raises(BadValue) as raised:
        list(parser("stix").parse(STIX / "mappings.json", {"report": "x"}))
    assert raised.value.field == "options.report"


def test_the_classification_words_are_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [word for word in WORDS if f"`{word}`" not in text]
    assert missing == []
    assert classification(["malicious-activity", "C2"]) == ("malicious-code", "c2-server")


def test_an_error_past_the_first_blocks_is_placed_exactly(tmp_path: Path) -> None:
    """The error is found block by block (64 KiB), then byte by byte in its block."""
    indicator = json.loads((STIX / "realistic.json").read_text())["objects"][9]
    lines = json.dumps({"type": "bundle", "objects": [indicator] * 400}, indent=1).splitlines()
    assert len("\n".join(lines)) > 4 * 65536
    lines[-20] = lines[-20].replace(":", ": @", 1)
    path = tmp_path / "large.json"
    path.write_text("\n".join(lines))
    with pytest.raises(ParseError, match="invalid char") as raised:
        list(parser("stix").parse(path, {}))
    assert (raised.value.line, raised.value.column) == (
        len(lines) - 19,
        str(lines[-20].index("@") + 1),
    )
