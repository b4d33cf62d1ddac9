"""abuse.ch, Spamhaus, plain-list and generic CSV parsers on their sample files."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from entente.core.errors import BadValue, ParseError, UnknownField
from entente.pipeline.normalise import normalise
from entente.pipeline.parsers import parser

DATA = Path(__file__).parents[1] / "data"


def parse(
    name: str, path: Path, options: dict[str, object] | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    outputs = list(parser(name).parse(path, options or {}))
    assert outputs
    columns = {tuple(output.kept.columns) for output in outputs if output.kept.height}
    assert len(columns) <= 1, "every batch of a file has the same columns"
    return (
        pl.concat([output.kept for output in outputs]),
        pl.concat([output.quarantined for output in outputs]),
    )


# --- abuse.ch ---------------------------------------------------------------------------------


def test_urlhaus() -> None:
    kept, quarantined = parse("urlhaus", DATA / "abusech" / "urlhaus.csv")
    assert quarantined.height == 0 and kept.height == 10
    assert kept["_line"].to_list() == list(range(10, 20))
    first = kept.row(0, named=True)
    assert first["time.source"] == "2026-11-20T10:11:06+00:00"
    assert first["source.url"] == "http://192.0.2.27:54268/bin.sh"
    assert first["status"] == "online"
    assert first["event_description.url"] == "https://urlhaus.abuse.ch/url/3281733/"
    assert first["extra.tags"] == "32-bit,elf,mips,Mozi"
    assert first["extra.id"] == "3281733"
    assert first["classification.type"] == "malware-distribution"
    assert kept.row(3, named=True)["extra.last_online"] is None


def test_feodo_tracker_ignores_the_trailing_comment() -> None:
    kept, quarantined = parse("feodotracker", DATA / "abusech" / "feodotracker.csv")
    assert quarantined.height == 0
    assert kept.select("source.ip", "source.port", "malware.name").row(1) == (
        "198.51.100.33",
        "2222",
        "qakbot",
    )
    assert set(kept["classification.type"]) == {"c2-server"}
    assert kept["extra.last_online"][0] == "2026-11-20"


def test_threatfox_routes_each_indicator_by_its_type() -> None:
    kept, quarantined = parse("threatfox", DATA / "abusech" / "threatfox.csv")
    assert quarantined.height == 0 and kept.height == 8
    rows = kept.rows(named=True)
    assert (rows[0]["source.ip"], rows[0]["source.port"]) == ("192.0.2.105", "7000")
    assert rows[1]["source.fqdn"] == "c2.example.com" and rows[1]["source.ip"] is None
    assert rows[2]["source.url"] == "http://198.51.100.61/update/gate.php"
    assert rows[4]["malware.hash.md5"] == "44d88612fea8a8f36de82e1278abb02f"
    assert rows[5]["malware.hash.sha256"].startswith("275a021b")
    assert (rows[6]["source.ip"], rows[6]["source.port"]) == ("2001:db8::25", "8443")
    assert [rows[index]["classification.type"] for index in (0, 3, 7)] == [
        "c2-server",
        "malware-distribution",
        "undetermined",
    ]
    assert rows[1]["extra.malware_alias"] == "Agentemis,BEACON,CobaltStrike"
    assert rows[0]["classification.identifier"] == "win.asyncrat"
    assert rows[0]["feed.accuracy"] == "100"
    assert rows[7]["extra.threat_type"] == "cc_skimming"
    assert all(row["extra.ioc_value"] for row in rows)


def test_ssl_blacklists() -> None:
    kept, _ = parse("sslbl", DATA / "abusech" / "sslblacklist.csv")
    assert kept["extra.certificate_sha1"][1] == "7f1b2a3c4d5e6f708192a3b4c5d6e7f8091a2b3c"
    assert kept["event_description.text"][0] == "AsyncRAT C&C"
    kept, _ = parse("sslbl_ip", DATA / "abusech" / "sslipblacklist.csv")
    assert kept.select("source.ip", "source.port").row(1) == ("198.51.100.200", "8443")


def test_abusech_column_added_later_goes_to_extra(tmp_path: Path) -> None:
    text = (DATA / "abusech" / "sslipblacklist.csv").read_text()
    text = text.replace("# Firstseen,DstIP,DstPort", "# Firstseen,DstIP,DstPort,Malware")
    text = text.replace(",443\n", ",443,AsyncRAT\n")
    path = tmp_path / "sslipblacklist.csv"
    path.write_text(text)
    kept, quarantined = parse("sslbl_ip", path)
    assert kept["extra.Malware"].to_list() == ["AsyncRAT", "AsyncRAT"]
    assert kept["_line"].to_list() == [10, 13]
    assert quarantined["_line"].to_list() == [11, 12]
    assert set(quarantined["_reason"]) == {"3 fields where the header has 4"}


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("urlhaus", "abusech/urlhaus.csv"),
        ("feodotracker", "abusech/feodotracker.csv"),
        ("threatfox", "abusech/threatfox.csv"),
        ("sslbl", "abusech/sslblacklist.csv"),
        ("sslbl_ip", "abusech/sslipblacklist.csv"),
        ("spamhaus_drop", "spamhaus/drop.txt"),
        ("spamhaus_drop", "spamhaus/drop_v4.json"),
    ],
)
def test_samples_pass_the_normaliser(name: str, path: str) -> None:
    kept, _ = parse(name, DATA / path)
    normalised = normalise(kept)
    assert normalised.quarantined.height == 0, normalised.quarantined["_reason"].to_list()


# --- Spamhaus ------------------------------------------------------------------------------------


def test_spamhaus_drop_text() -> None:
    kept, quarantined = parse("spamhaus_drop", DATA / "spamhaus" / "drop.txt")
    assert quarantined.height == 0 and kept.height == 7
    assert kept.select("source.network", "extra.sblid", "_line").row(0) == (
        "192.0.2.0/24",
        "SBL256894",
        5,
    )
    assert set(kept["time.source"]) == {"2026-11-20T10:00:00+00:00"}
    assert set(kept["classification.type"]) == {"spam"}


def test_spamhaus_drop_json_lines_skip_the_metadata_record() -> None:
    kept, quarantined = parse("spamhaus_drop", DATA / "spamhaus" / "drop_v4.json")
    assert quarantined.height == 0
    assert kept["_line"].to_list() == [1, 2, 3, 4, 5]
    assert kept["source.registry"].to_list()[:2] == ["APNIC", "RIPE"]
    assert kept["extra.sblid"][2] == "SBL123456"


def test_spamhaus_bad_lines_are_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "drop_v4.json"
    path.write_text('{"cidr":"192.0.2.0/24","sblid":"SBL1"}\nnot json\n{"sblid":"SBL2"}\n')
    kept, quarantined = parse("spamhaus_drop", path)
    assert kept["_line"].to_list() == [1]
    assert quarantined["_line"].to_list() == [2, 3]
    assert quarantined["_raw"][0] == "not json"


# --- plain lists -------------------------------------------------------------------------------


def test_list_types_each_value_by_its_shape() -> None:
    kept, quarantined = parse("list", DATA / "lists" / "blocklist.txt")
    by_line = {row["_line"]: row for row in kept.rows(named=True)}
    assert by_line[4]["source.ip"] == "192.0.2.1"
    assert by_line[5]["extra.comment"] == "brute force on ssh"
    assert by_line[6]["source.network"] == "203.0.113.0/24"
    assert by_line[7]["source.ip"] == "2001:db8::dead:beef"
    assert by_line[8]["source.network"] == "2001:db8:1::/48"
    assert by_line[9]["source.fqdn"] == "malware-drop.example.com"
    assert by_line[11]["source.url"] == "http://198.51.100.7/payload.exe"
    assert by_line[12]["source.url"].startswith("hxxps://")
    assert by_line[13]["source.ip"] == "999.1.1.1"  # the normaliser's to refuse
    assert quarantined["_line"].to_list() == [14, 15]
    assert "not an IP address, network, domain name or URL" in quarantined["_reason"][0]
    assert set(kept["classification.type"]) == {"undetermined"}


def test_list_constants_are_checked_against_the_vocabulary(tmp_path: Path) -> None:
    path = DATA / "lists" / "blocklist.txt"
    kept, _ = parse("list", path, {"constants": {"classification.type": "scanner"}})
    assert set(kept["classification.type"]) == {"scanner"}
    with pytest.raises(UnknownField) as caught:
        list(parser("list").parse(path, {"constants": {"source.ipp": "x"}}))
    assert caught.value.field == "source.ipp"


# --- generic CSV -------------------------------------------------------------------------------

GENERIC = {
    "mapping": {"Zeitpunkt": "time.source", "IP-Adresse": "source.ip", "Port": "source.port"},
    "converters": {"Zeitpunkt": "add_utc"},
    "constants": {"classification.type": "brute-force"},
}


def test_generic_csv_maps_by_options_and_keeps_the_rest_in_extra() -> None:
    kept, quarantined = parse("generic_csv", DATA / "generic" / "incidents.csv", GENERIC)
    assert quarantined.height == 0
    assert kept.columns == [
        "time.source",
        "source.ip",
        "source.port",
        "classification.type",
        "extra.Beschreibung",
        "extra.Meldestelle",
        "_file",
        "_line",
    ]
    assert kept.row(2) == (
        "2026-11-20T04:00:00+00:00",
        "203.0.113.5",
        "3389",
        "brute-force",
        'RDP "password spraying"',
        "CERT-Example",
        str(DATA / "generic" / "incidents.csv"),
        4,
    )


def test_generic_csv_unknown_field_is_named() -> None:
    options = {"mapping": {"IP-Adresse": "source.ipaddress"}}
    with pytest.raises(UnknownField) as caught:
        list(parser("generic_csv").parse(DATA / "generic" / "incidents.csv", options))
    assert caught.value.field == "source.ipaddress"
    assert "source.ip" in caught.value.message


def test_generic_csv_mapped_column_missing_from_the_header() -> None:
    options = {"mapping": {"Zeit": "time.source"}}
    with pytest.raises(ParseError) as caught:
        list(parser("generic_csv").parse(DATA / "generic" / "incidents.csv", options))
    assert (caught.value.line, caught.value.column) == (1, "Zeit")


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({}, "options.mapping"),
        ({"mapping": "source.ip"}, "options.mapping"),
        ({"mapping": {"a": "source.ip"}, "delimiter": ";;"}, "options.delimiter"),
        ({"mapping": {"a": "source.ip"}, "converters": {"b": "lower"}}, "options.converters"),
        ({"mapping": {"a": "source.ip"}, "converters": {"a": "upper"}}, "converter"),
        ({"mapping": {"a": "source.ip"}, "mapping2": {}}, "options.mapping2"),
    ],
)
def test_generic_csv_bad_options(options: dict[str, object], field: str) -> None:
    with pytest.raises(BadValue) as caught:
        list(parser("generic_csv").parse(DATA / "generic" / "incidents.csv", options))
    assert caught.value.field == field


def test_generic_csv_explicit_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "pipes.csv"
    path.write_text("ip|note\n192.0.2.1|a,b\n")
    kept, _ = parse("generic_csv", path, {"mapping": {"ip": "source.ip"}, "delimiter": "|"})
    assert kept.select("source.ip", "extra.note").row(0) == ("192.0.2.1", "a,b")


# --- the registry ------------------------------------------------------------------------------


def test_unknown_parser_names_the_known_ones() -> None:
    with pytest.raises(BadValue) as caught:
        parser("shadowsrever")
    assert caught.value.field == "parser"
    assert "shadowserver" in caught.value.message and "generic_csv" in caught.value.message
