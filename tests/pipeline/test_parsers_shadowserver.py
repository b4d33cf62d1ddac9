"""The Shadowserver parser on real-shaped sample reports (tests/data/shadowserver/)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import polars as pl
import pytest

from entente.core.errors import BadValue, ParseError
from entente.pipeline.batches import QUARANTINE_SCHEMA
from entente.pipeline.normalise import normalise
from entente.pipeline.parsers import parser
from entente.pipeline.parsers.shadowserver import FILE_NAME, report_by_header, report_for
from entente.pipeline.parsers.shadowserver_reports import REPORTS

DATA = Path(__file__).parents[1] / "data" / "shadowserver"


def parse(path: Path, **options: object) -> tuple[pl.DataFrame, pl.DataFrame]:
    outputs = list(parser("shadowserver").parse(path, options))
    assert outputs, "expected at least one batch"
    kept = pl.concat([output.kept for output in outputs])
    quarantined = pl.concat([output.quarantined for output in outputs])
    return kept, quarantined


def data_lines(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines()[1:] if line.strip())


@pytest.mark.parametrize("report", sorted(REPORTS))
def test_every_sample_report_parses_whole(report: str) -> None:
    path = DATA / f"{report}.csv"
    kept, quarantined = parse(path)
    spec = REPORTS[report]
    assert quarantined.height == 0
    assert kept.height == data_lines(path) >= 20
    assert kept["_line"].to_list() == list(range(2, kept.height + 2))
    assert set(kept["_file"]) == {str(path)}
    for name, value in spec.defaults().items():
        assert name in kept.columns
        if name not in {rule.field for rule in spec.rules}:
            assert set(kept[name]) == {value}
    assert {f"extra.{name}" for name in spec.extra_columns()} <= set(kept.columns)
    assert kept.columns[-2:] == ["_file", "_line"]
    first = next(csv.DictReader(path.open()))
    ip_column = "ip" if "ip" in first else "src_ip"
    assert kept["source.ip"][0] == first[ip_column]
    assert kept["time.source"][0] == first["timestamp"].replace(" ", "T") + "+00:00"


@pytest.mark.parametrize("report", sorted(REPORTS))
def test_every_sample_report_passes_the_normaliser(report: str) -> None:
    kept, _ = parse(DATA / f"{report}.csv")
    normalised = normalise(kept)
    assert normalised.quarantined.height == 0, normalised.quarantined["_reason"].to_list()
    assert normalised.kept.height == kept.height


def test_scan_http_spot_checks() -> None:
    kept, _ = parse(DATA / "scan_http.csv")
    row = kept.row(1, named=True)
    assert row["source.ip"] == "198.51.100.48"
    assert row["source.port"] == "8080"
    assert row["source.reverse_dns"] == "host-198-51-100-48.example.net"
    assert row["source.asn"] == "64497"
    assert row["source.geolocation.cc"] == "KE"
    assert row["protocol.transport"] == "tcp"
    assert row["classification.identifier"] == "accessible-http"
    assert row["extra.www_authenticate"] == 'Basic realm="Router"'
    assert row["extra.http_code"] == "401"
    assert row["feed.name"] == "Accessible-HTTP"
    assert kept.row(5, named=True)["source.asn"] is None  # Shadowserver's 0: unknown


def test_drone_builds_urls_and_takes_identifier_from_the_row() -> None:
    kept, _ = parse(DATA / "botnet_drone.csv")
    second = kept.row(1, named=True)
    assert second["destination.url"] == "http://c2-1.example.com/index.html"
    assert second["extra.url"] == "GET /index.html HTTP/1.1"
    assert second["malware.name"] == second["classification.identifier"] == "mirai"
    third = kept.row(2, named=True)
    assert third["destination.url"] == f"http://{third['destination.ip']}/news/check.aspx"
    assert kept.row(0, named=True)["destination.url"] is None  # no request in the row


def test_sinkhole_tag_wins_over_infection_then_the_report_default(tmp_path: Path) -> None:
    spec = REPORTS["event4_sinkhole"]
    path = tmp_path / "event4_sinkhole.csv"
    rows = [
        {"timestamp": "2026-11-20 03:14:15", "src_ip": "192.0.2.1", "tag": "Custom-Tag",
         "infection": "andromeda"},
        {"timestamp": "2026-11-20 03:14:16", "src_ip": "192.0.2.2", "infection": "Mirai"},
        {"timestamp": "2026-11-20 03:14:17", "src_ip": "192.0.2.3"},
    ]  # fmt: skip
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=spec.header, quoting=csv.QUOTE_NONNUMERIC)
        writer.writeheader()
        writer.writerows(rows)
    kept, _ = parse(path)
    assert kept["classification.identifier"].to_list() == ["custom-tag", "mirai", "sinkhole"]
    assert kept["malware.name"].to_list() == ["andromeda", "mirai", None]


def test_honeypot_maps_source_destination_and_account() -> None:
    kept, _ = parse(DATA / "event4_honeypot_brute_force.csv")
    row = kept.row(0, named=True)
    assert row["source.ip"] == "192.0.2.204"
    assert row["destination.ip"] == "41.203.74.248"
    assert row["destination.port"] == "22"
    assert row["destination.account"] == "root"
    assert row["extra.password"] == "123456"
    assert row["classification.type"] == "brute-force"
    assert row["classification.identifier"] == "ssh-brute-force"
    assert row["protocol.application"] == "ssh"


def test_open_resolver_is_a_ddos_amplifier() -> None:
    kept, _ = parse(DATA / "scan_dns.csv")
    assert set(kept["classification.type"]) == {"ddos-amplifier"}
    assert set(kept["protocol.transport"]) == {"udp"}
    assert kept["extra.min_amplification"][0] == "3.0000"


# --- report detection --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "report"),
    [
        ("2026-11-20-scan_http-nl-geo.csv", "scan_http"),
        ("scan_dns.csv", "scan_dns"),
        ("2026-11-20-event4_honeypot_brute_force-country.csv", "event4_honeypot_brute_force"),
        ("event4_sinkhole_http.csv", "event4_sinkhole_http"),
    ],
)
def test_report_type_comes_from_the_file_name(name: str, report: str) -> None:
    match = FILE_NAME.match(name)
    assert match is not None and match["report"] == report
    assert report_for(name, (), None) is REPORTS[report]


def test_report_comes_from_the_header_when_the_name_says_nothing(tmp_path: Path) -> None:
    for report in REPORTS:
        renamed = tmp_path / f"download-{report.replace('_', '')}.csv"
        shutil.copy(DATA / f"{report}.csv", renamed)
        kept, _ = parse(renamed)
        assert kept["feed.name"][0] == REPORTS[report].title


def test_named_report_wins_over_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "scan_telnet.csv"
    shutil.copy(DATA / "scan_http.csv", path)
    kept, _ = parse(path, report="scan_http")
    assert kept["feed.name"][0] == "Accessible-HTTP"


def test_unknown_named_report_is_a_bad_value() -> None:
    with pytest.raises(BadValue) as caught:
        list(parser("shadowserver").parse(DATA / "scan_http.csv", {"report": "scan_nope"}))
    assert caught.value.field == "options.report" and "scan_http" in caught.value.message


def test_unknown_option_is_a_bad_value() -> None:
    with pytest.raises(BadValue) as caught:
        list(parser("shadowserver").parse(DATA / "scan_http.csv", {"reprot": "scan_http"}))
    assert caught.value.field == "options.reprot"


def test_unrecognisable_file_is_a_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("when,who\n2026-11-20,192.0.2.1\n")
    with pytest.raises(ParseError, match="cannot tell which Shadowserver report"):
        list(parser("shadowserver").parse(path, {}))


def test_header_detection_tells_subsets_apart_and_does_not_guess() -> None:
    sinkhole_http = REPORTS["event4_sinkhole_http"].header
    assert report_by_header(sinkhole_http[:-2]) is REPORTS["event4_sinkhole_http"]
    assert report_by_header(REPORTS["event4_sinkhole"].header) is REPORTS["event4_sinkhole"]
    assert report_by_header(("timestamp", "ip")) is None
    assert report_by_header(("timestamp", "src_ip", "http_url")) is None


# --- bad input ------------------------------------------------------------------------------


def test_missing_column_names_file_line_and_column() -> None:
    path = DATA / "scan_http-missing-column.csv"
    with pytest.raises(ParseError) as caught:
        list(parser("shadowserver").parse(path, {}))
    assert (caught.value.file, caught.value.line, caught.value.column) == (str(path), 1, "ip")


def test_truncated_and_ragged_rows_are_quarantined_and_the_rest_kept() -> None:
    kept, quarantined = parse(DATA / "scan_http-truncated.csv")
    assert kept["_line"].to_list() == [2, 3, 4, 6, 7, 9, 11, 12]
    assert quarantined.schema == pl.Schema(QUARANTINE_SCHEMA)
    reasons = dict(zip(quarantined["_line"], quarantined["_reason"], strict=True))
    assert reasons[5] == "24 fields where the header has 23"
    assert reasons[8] == "21 fields where the header has 23"
    assert reasons[13].startswith("the last line is cut short (no line end)")
    assert quarantined.filter(pl.col("_line") == 5)["_raw"][0].endswith(',"surplus"')


def test_latin1_report_is_read() -> None:
    kept, quarantined = parse(DATA / "scan_http-latin1.csv")
    assert quarantined.height == 0
    assert kept["source.geolocation.city"].to_list()[:2] == ["MÜNCHEN", "SÃO PAULO"]


def test_bom_and_crlf_report_is_read() -> None:
    kept, quarantined = parse(DATA / "scan_http-bom.csv")
    assert quarantined.height == 0
    assert kept["time.source"][0] == "2026-11-20T03:00:15+00:00"
    assert kept["source.geolocation.city"].to_list()[-1] == "ДНІПРО"
    assert kept["_line"].to_list() == [2, 3, 4, 5, 6]


def test_junk_ips_are_kept_as_text_for_the_normaliser() -> None:
    kept, quarantined = parse(DATA / "scan_http-junk-ips.csv")
    assert quarantined.height == 0
    assert kept["source.ip"].to_list()[:3] == ["999.1.1.1", "not-an-ip", "192.0.2.300"]
    normalised = normalise(kept)
    bad = dict(zip(normalised.quarantined["_line"], normalised.quarantined["_field"], strict=True))
    assert bad[2] == bad[3] == bad[4] == "source.ip"


def test_new_columns_land_in_extra() -> None:
    kept, _ = parse(DATA / "2026-11-20-scan_http-example_cert-geo.csv")
    assert kept["extra.device_vendor"].to_list()[:2] == ["MikroTik", "Hikvision"]
    assert "extra.sector" in kept.columns and "extra.device_model" in kept.columns


def test_empty_report_gives_no_batches(tmp_path: Path) -> None:
    path = tmp_path / "2026-11-20-scan_http-nl.csv"
    path.write_bytes(b"")
    assert list(parser("shadowserver").parse(path, {})) == []
