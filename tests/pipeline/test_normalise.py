"""Normalisation: good values become canonical, bad values send their row to quarantine
with the field and value named, empty values become null, and no bad row stops a batch."""

from __future__ import annotations

import ipaddress
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from entente.core.errors import UnknownField
from entente.pipeline.batches import QUARANTINE_SCHEMA, StageOutput
from entente.pipeline.normalise import normalise
from entente.vocabulary.fields import FIELDS, FieldType, polars_schema


def run(column: str, values: list[Any], dtype: pl.DataType | None = None) -> StageOutput:
    batch = pl.DataFrame(
        {
            "_line": list(range(1, len(values) + 1)),
            column: pl.Series(values, dtype=dtype or pl.String),
        }
    )
    return normalise(batch)


def single(column: str, value: Any, dtype: pl.DataType | None = None) -> Any:
    out = run(column, [value], dtype)
    assert out.quarantined.height == 0, out.quarantined["_reason"].to_list()
    return out.kept[column][0]


def at(hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2024, 3, 5, hour, minute, second, micro, tzinfo=UTC)


GOOD = [
    ("source.ip", " 192.0.2.1 ", "192.0.2.1"),
    ("source.ip", "2001:DB8:0:0::1", "2001:db8::1"),
    ("source.ip", "fe80::1%eth0", "fe80::1"),
    ("source.ip", "::ffff:192.0.2.1", str(ipaddress.ip_address("::ffff:192.0.2.1"))),
    ("source.network", "192.0.2.77/24", "192.0.2.0/24"),
    ("source.network", "10.0.0.1", "10.0.0.1/32"),
    ("source.network", "0.0.0.0/0", "0.0.0.0/0"),
    ("source.network", "2001:DB8::1/32", "2001:db8::/32"),
    ("source.port", "443", 443),
    ("source.port", "0", 0),
    ("source.port", "65535", 65535),
    ("source.asn", "AS64500", 64500),
    ("source.asn", "as 3320", 3320),
    ("source.asn", "4294967295", 4294967295),
    ("source.fqdn", "WWW.Example.COM.", "www.example.com"),
    ("source.fqdn", "_dmarc.example.org", "_dmarc.example.org"),
    ("source.fqdn", "bücher.de", "xn--bcher-kva.de"),
    ("source.fqdn", "xn--bcher-kva.de", "xn--bcher-kva.de"),
    (
        "source.url",
        "HTTPS://User@Example.COM:8443/Path?Q=1#F",
        "https://User@example.com:8443/Path?Q=1#F",
    ),
    ("source.url", "hxxp://evil.example/x", "http://evil.example/x"),
    ("source.url", "ftp://[2001:db8::1]/file", "ftp://[2001:db8::1]/file"),
    ("time.source", "2024-03-05 10:00:00", at(10)),
    ("time.source", "2024-03-05T10:00:00Z", at(10)),
    ("time.source", "2024-03-05T12:00:00+02:00", at(10)),
    ("time.source", "2024-03-05T05:30:00-0430", at(10)),
    ("time.source", "2024-03-05T10:00:00.250+00", at(10, micro=250000)),
    ("time.source", "2024-03-05 10:00:00 UTC", at(10)),
    ("time.source", "2024-03-05T10:00", at(10)),
    ("time.source", "2024-03-05", at(0)),
    ("time.source", "1709632800", at(10)),
    ("time.source", "1709632800.5", at(10, micro=500000)),
    ("source.geolocation.cc", "de", "DE"),
    ("source.geolocation.cc", "HK", "HK"),
    ("source.geolocation.cc", "EU", "EU"),
    ("source.geolocation.cc", "ZZ", None),
    ("classification.taxonomy", "Malicious Code", "malicious-code"),
    ("classification.type", "Vulnerable-System", "vulnerable-system"),
    ("classification.type", "botnet drone", "infected-system"),
    ("malware.hash.md5", "D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427e"),
    ("tlp", "TLP:AMBER+STRICT", "amber+strict"),
    ("tlp", "white", "clear"),
    ("feed.accuracy", "87.5", 87.5),
    ("source.geolocation.latitude", "-33.9", -33.9),
    ("source.tor_node", "Yes", True),
    ("source.tor_node", "0", False),
    ("protocol.transport", "TCP", "tcp"),
    ("source.registry", "ripe", "RIPE"),
    ("severity", "HIGH", "high"),
    ("feed.name", "  Shadowserver NTP  ", "Shadowserver NTP"),
]


@pytest.mark.parametrize(("column", "raw", "expected"), GOOD)
def test_good_values_become_canonical(column: str, raw: str, expected: Any) -> None:
    assert single(column, raw) == expected


BAD = [
    ("source.ip", "256.1.1.1"),
    ("source.ip", "010.1.1.1"),
    ("source.ip", "0.0.0.0"),
    ("source.ip", "::"),
    ("source.ip", "example.com"),
    ("source.network", "192.0.2.0/33"),
    ("source.network", "192.0.2.0/x"),
    ("source.network", "2001:db8::/129"),
    ("source.port", "65536"),
    ("source.port", "-1"),
    ("source.port", "http"),
    ("source.asn", "AS0"),
    ("source.asn", "4294967296"),
    ("source.asn", "ASX"),
    ("source.asn", "ASAS123"),
    ("source.fqdn", "192.0.2.1"),
    ("source.fqdn", "exa mple.com"),
    ("source.fqdn", "*.example.com"),
    ("source.fqdn", "a..b"),
    ("source.fqdn", "http://example.com/"),
    ("source.fqdn", "x" * 64 + ".com"),
    ("source.fqdn", ("a" * 60 + ".") * 5 + "com"),
    ("source.url", "example.com/path"),
    ("source.url", "http:///nohost"),
    ("source.url", "http://exa mple.com/"),
    ("time.source", "yesterday"),
    ("time.source", "2024-02-30 10:00:00"),
    ("time.source", "1709632800000"),  # milliseconds are not read as seconds
    ("time.source", "05/03/2024 10:00"),
    ("source.geolocation.cc", "XX"),
    ("source.geolocation.cc", "DEU"),
    ("classification.taxonomy", "malware"),
    ("classification.type", "vulnerable"),
    ("malware.hash.md5", "d41d8cd98f00b204e9800998ecf8427"),
    ("malware.hash.sha1", "g" * 40),
    ("tlp", "yellow"),
    ("feed.accuracy", "101"),
    ("feed.accuracy", "nan"),
    ("source.geolocation.longitude", "181"),
    ("source.tor_node", "maybe"),
    ("source.registry", "ripe-ncc"),
    ("severity", "urgent"),
]


@pytest.mark.parametrize(("column", "raw"), BAD)
def test_bad_values_are_quarantined_with_field_and_value(column: str, raw: str) -> None:
    out = run(column, ["", raw])
    assert out.kept["_line"].to_list() == [1]
    assert out.quarantined.schema == pl.Schema(QUARANTINE_SCHEMA)
    row = out.quarantined.row(0, named=True)
    assert row["_line"] == 2
    assert row["_field"] == column
    assert row["_reason"].startswith(f"{column}: '{raw}' is not ")


# One field per type: an empty or blank value is "not given", never an error.
ONE_FIELD_PER_TYPE = sorted(
    set({spec.type: name for name, spec in reversed(FIELDS.items())}.values()) - {"extra"}
)


@pytest.mark.parametrize("column", ONE_FIELD_PER_TYPE)
def test_empty_values_become_null(column: str) -> None:
    out = run(column, ["", "   ", None])
    assert out.quarantined.height == 0
    assert out.kept[column].to_list() == [None, None, None]
    assert out.kept.schema[column] == polars_schema()[column]


def test_every_type_has_a_field_in_the_empty_test() -> None:
    covered = {FIELDS[name].type for name in ONE_FIELD_PER_TYPE}
    assert covered == set(FieldType) - {FieldType.EXTRA}


def test_a_bad_row_never_stops_the_batch_and_the_first_bad_field_names_it() -> None:
    batch = pl.DataFrame(
        {
            "_file": ["scan.csv"] * 4,
            "_line": [10, 11, 12, 13],
            "_raw": ["a", "b", "c", "d"],
            "time.source": ["2024-03-05 10:00:00", "bad time", "2024-03-05 10:00:00", ""],
            "source.ip": ["192.0.2.1", "also bad", "192.0.2.999", "192.0.2.4"],
            "source.port": ["80", "81", "99999", "83"],
            "feed.name": ["f", "f", "f", "f"],
            "extra.note": [1, 2, 3, 4],
        }
    )
    out = normalise(batch)
    assert out.kept["_line"].to_list() == [10, 13]
    assert out.kept["extra.note"].to_list() == [1, 4]
    assert out.kept["time.source"].to_list() == [at(10), None]
    bad = {row["_line"]: row for row in out.quarantined.iter_rows(named=True)}
    assert set(bad) == {11, 12}
    assert bad[11]["_field"] == "time.source"  # the first bad column wins
    assert bad[11]["_reason"].startswith("time.source: 'bad time' is not a date-time")
    assert bad[12]["_field"] == "source.ip"
    assert bad[12]["_reason"] == "source.ip: '192.0.2.999' is not an IP address"
    assert (bad[12]["_file"], bad[12]["_raw"]) == ("scan.csv", "c")


def test_quarantine_without_raw_text_shows_the_row_as_json() -> None:
    out = run("source.port", ["70000"])
    assert '"source.port":"70000"' in out.quarantined["_raw"][0]


def test_kept_columns_have_the_schema_types_and_keep_their_order() -> None:
    batch = pl.DataFrame(
        {
            "_line": [1],
            "source.port": ["80"],
            "extra.x": ["kept as is"],
            "source.asn": ["AS1"],
            "time.source": ["2024-03-05 10:00:00"],
            "feed.accuracy": ["50"],
        }
    )
    kept = normalise(batch).kept
    assert kept.columns == batch.columns
    schema = polars_schema()
    for name in ("source.port", "source.asn", "time.source", "feed.accuracy"):
        assert kept.schema[name] == schema[name], name
    assert kept.schema["extra.x"] == pl.String


def test_a_column_outside_the_vocabulary_is_a_parser_bug() -> None:
    batch = pl.DataFrame({"source.ip": ["192.0.2.1"], "src_port": ["80"]})
    with pytest.raises(UnknownField) as error:
        normalise(batch)
    assert error.value.field == "src_port"


def test_an_empty_batch_normalises_to_empty_outputs() -> None:
    batch = pl.DataFrame(
        schema={"_line": pl.Int64, "source.ip": pl.String, "time.source": pl.String}
    )
    out = normalise(batch)
    assert out.kept.height == 0 and out.quarantined.height == 0
    assert out.kept.schema["time.source"] == pl.Datetime("us", "UTC")


def test_typed_inputs_from_json_parsers() -> None:
    assert single("source.port", 8080, pl.Int64) == 8080
    assert single("source.asn", 64500, pl.UInt32) == 64500
    assert single("feed.accuracy", 75, pl.Int64) == 75.0
    assert single("source.tor_node", True, pl.Boolean) is True
    assert single("time.source", 1709632800, pl.Int64) == at(10)
    assert single("time.source", datetime(2024, 3, 5, 10), pl.Datetime("ms")) == at(10)
    assert single("time.source", date(2024, 3, 5), pl.Date) == at(0)
    out = run("source.port", [70000], pl.Int64)
    assert out.quarantined["_reason"].to_list() == [
        "source.port: '70000' is not a port (0 to 65535)"
    ]


def test_zoned_datetimes_are_converted_to_utc() -> None:
    zoned = pl.Series([datetime(2024, 3, 5, 10)]).dt.replace_time_zone("Europe/Berlin")
    batch = pl.DataFrame({"time.source": zoned})
    assert normalise(batch).kept["time.source"][0] == at(9)


def test_mixed_datetime_formats_in_one_column() -> None:
    values = ["2024-03-05 10:00:00", "2024-03-05T10:00:00Z", "1709632800", "", "soon"]
    out = run("time.source", values)
    assert out.kept["time.source"].to_list() == [at(10), at(10), at(10), None]
    assert out.quarantined["_line"].to_list() == [5]


def test_classification_taxonomy_is_filled_from_the_type() -> None:
    batch = pl.DataFrame({"classification.type": ["scanner", "c&c", None]})
    kept = normalise(batch).kept
    assert kept["classification.taxonomy"].to_list() == [
        "information-gathering",
        "malicious-code",
        None,
    ]


def test_classification_taxonomy_and_type_must_agree() -> None:
    batch = pl.DataFrame(
        {
            "_line": [1, 2, 3],
            "classification.taxonomy": ["vulnerable", "vulnerable", None],
            "classification.type": ["vulnerable-system", "scanner", "ddos-amplifier"],
        }
    )
    out = normalise(batch)
    assert out.kept["classification.taxonomy"].to_list() == ["vulnerable", "vulnerable"]
    row = out.quarantined.row(0, named=True)
    assert (row["_line"], row["_field"]) == (2, "classification.taxonomy")
    assert "'vulnerable' does not fit classification.type 'scanner'" in row["_reason"]


def test_invalid_idna_name_is_quarantined() -> None:
    out = run("source.fqdn", ["\u0301abc.com", "bücher.de", "\u2603-\u2318.com"])
    assert out.kept["source.fqdn"].to_list() == ["xn--bcher-kva.de"]
    assert out.quarantined["_line"].to_list() == [1, 3]
    assert out.quarantined["_field"].to_list() == ["source.fqdn", "source.fqdn"]


# --- property: IP addresses ------------------------------------------------------------------

valid_ips = st.one_of(
    st.ip_addresses(v=4).filter(lambda ip: int(ip) != 0).map(str),
    st.ip_addresses(v=6).filter(lambda ip: int(ip) != 0).map(lambda ip: ip.exploded.upper()),
    st.ip_addresses(v=6).filter(lambda ip: int(ip) != 0).map(str),
)
invalid_ips = st.one_of(
    # No control characters: Python's str.strip() and polars disagree on a few of them.
    st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=12).filter(
        lambda text: not _parses(text)
    ),
    st.tuples(*[st.integers(0, 300)] * 4).map(lambda parts: ".".join(map(str, parts))),
)


def _parses(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip())
    except ValueError:
        return False
    return True


@given(st.lists(st.one_of(valid_ips, invalid_ips, st.just("")), max_size=40))
def test_every_row_is_kept_or_quarantined_and_kept_ips_round_trip(values: list[str]) -> None:
    out = run("source.ip", values)
    assert out.kept.height + out.quarantined.height == len(values)
    assert set(out.kept["_line"]).isdisjoint(out.quarantined["_line"])
    for line, ip in zip(out.kept["_line"], out.kept["source.ip"], strict=True):
        raw = values[line - 1].strip()
        if ip is None:
            assert raw == ""
            continue
        assert str(ipaddress.ip_address(ip)) == ip  # canonical text
        assert ipaddress.ip_address(ip) == ipaddress.ip_address(raw)
    for line in out.quarantined["_line"]:
        raw = values[line - 1].strip()
        assert raw and (not _parses(raw) or ipaddress.ip_address(raw).is_unspecified)
