"""Readers of the enrichment formats: the shipped sample, MaxMind's test databases, and the
first bad line of a damaged file named in the error."""

from __future__ import annotations

import gzip
import io
import ipaddress
import tarfile
from pathlib import Path

import numpy as np
import pytest

from entente.core.errors import FetchError, ParseError
from entente.pipeline.enrich import SourceData, SourceFormat, detect_format, read_source
from entente.pipeline.enrich.data import SAMPLE_DIR
from entente.pipeline.enrich.prefixes import Prefixes, country_text

TEST_DATA = Path(__file__).parents[1] / "data" / "enrich"
PFX2AS = SAMPLE_DIR / "routeviews-sample.pfx2as"
DELEGATED = SAMPLE_DIR / "delegated-sample-extended"
AS_NAMES = SAMPLE_DIR / "asn.txt"
AS_ORG = TEST_DATA / "as-org2info-sample.txt"
ASN_MMDB = TEST_DATA / "GeoLite2-ASN-Test.mmdb"
COUNTRY_MMDB = TEST_DATA / "GeoIP2-Country-Test.mmdb"


def v4_rows(prefixes: Prefixes) -> dict[str, tuple[int, str]]:
    """`"a.b.c.d/len" -> (asn, country)` for IPv4 prefixes."""
    return {
        f"{ipaddress.IPv4Address(int(start))}/{length}": (
            int(asn),
            country_text(int(cc)) if cc else "",
        )
        for start, length, asn, cc in zip(
            prefixes.start, prefixes.length, prefixes.asn, prefixes.country, strict=True
        )
    }


def v6_rows(prefixes: Prefixes) -> dict[str, tuple[int, str]]:
    return {
        f"{ipaddress.IPv6Address(int(start) << 64)}/{length}": (
            int(asn),
            country_text(int(cc)) if cc else "",
        )
        for start, length, asn, cc in zip(
            prefixes.start, prefixes.length, prefixes.asn, prefixes.country, strict=True
        )
    }


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def names_of(source: SourceData) -> dict[int, str]:
    return dict(source.as_names.frame().iter_rows())


# ---- format detection ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (PFX2AS, SourceFormat.PFX2AS),
        (DELEGATED, SourceFormat.DELEGATED),
        (AS_NAMES, SourceFormat.AS_NAMES),
        (AS_ORG, SourceFormat.AS_ORG),
        (ASN_MMDB, SourceFormat.MMDB),
        (COUNTRY_MMDB, SourceFormat.MMDB),
    ],
)
def test_format_is_told_by_content(path: Path, expected: SourceFormat) -> None:
    assert detect_format(path) is expected


def test_an_unknown_format_asks_for_format(tmp_path: Path) -> None:
    path = write(tmp_path, "mystery.csv", "ip,asn\n8.8.8.8,15169\n")
    with pytest.raises(ParseError, match="--format") as caught:
        read_source(path)
    assert caught.value.file == str(path)


def test_a_missing_file_is_a_fetch_error(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="no such file"):
        read_source(tmp_path / "absent.pfx2as", SourceFormat.PFX2AS)


def test_gzip_files_are_read_as_their_content(tmp_path: Path) -> None:
    packed = tmp_path / "routeviews.pfx2as.gz"
    packed.write_bytes(gzip.compress(PFX2AS.read_bytes()))
    assert detect_format(packed) is SourceFormat.PFX2AS
    plain, unpacked = read_source(PFX2AS), read_source(packed)
    assert v4_rows(unpacked.v4) == v4_rows(plain.v4)


# ---- pfx2as ----------------------------------------------------------------------------


def test_pfx2as_sample_gives_real_origins_and_first_of_moas_and_sets() -> None:
    source = read_source(PFX2AS)
    rows = v4_rows(source.v4)
    assert rows["8.8.8.0/24"] == (15169, "")
    assert rows["1.1.1.0/24"] == (13335, "")
    assert rows["193.0.0.0/21"] == (3333, "")
    assert rows["192.0.2.0/24"] == (64511, "")
    assert rows["192.0.2.64/26"] == (64497, "")
    # `a_b` (MOAS) and `a,b` (AS set) lines keep the first ASN.
    moas_line = next(line for line in PFX2AS.read_text().splitlines() if "_" in line)
    address, length, origins = moas_line.split("\t")
    assert rows[f"{address}/{length}"] == (int(origins.split("_")[0]), "")
    set_line = next(line for line in PFX2AS.read_text().splitlines() if "," in line)
    address, length, origins = set_line.split("\t")
    assert rows[f"{address}/{length}"] == (int(origins.split(",")[0]), "")
    assert v6_rows(source.v6)["2001:4860::/32"] == (15169, "")
    assert len(source.v4) + len(source.v6) == len(PFX2AS.read_text().splitlines())


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("8.8.8.0 24", "expected prefix<TAB>length<TAB>asn"),
        ("8.8.8.0\t24\tAS15169", "expected prefix<TAB>length<TAB>asn"),
        ("8.8.8.0\t24\t15169_", "expected prefix<TAB>length<TAB>asn"),
        ("8.8.8.300\t24\t15169", "not an IPv4 or IPv6 network address"),
        ("8.8.8.0\t33\t15169", "prefix length out of range"),
        ("2001:db8::\t129\t15169", "prefix length out of range"),
        ("8.8.8.1\t24\t15169", "host bits set"),
        ("2001:db8::1\t48\t15169", "host bits set"),
        ("8.8.8.0\t24\t4294967296", "ASN above 4294967295"),
    ],
)
def test_pfx2as_bad_line_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path, "bad.pfx2as", f"1.0.0.0\t24\t13335\n\n1.1.1.0\t24\t13335\n{line}\n")
    with pytest.raises(ParseError, match=message) as caught:
        read_source(path, SourceFormat.PFX2AS)
    assert (caught.value.file, caught.value.line) == (str(path), 4)
    assert f"{path}, line 4" in str(caught.value)


def test_pfx2as_ipv6_longer_than_64_is_counted_and_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, "v6.pfx2as", "2001:db8::\t32\t64500\n2001:db8:0:1:8000::\t65\t64501\n")
    source = read_source(path, SourceFormat.PFX2AS)
    assert v6_rows(source.v6) == {"2001:db8::/32": (64500, "")}
    assert source.skipped_longer_than_64 == 1


# ---- delegated statistics --------------------------------------------------------------


def test_delegated_sample_gives_countries_and_splits_odd_counts() -> None:
    source = read_source(DELEGATED)
    rows = v4_rows(source.v4)
    assert rows["8.8.8.0/24"] == (0, "US")
    assert rows["1.1.1.0/24"] == (0, "AU")
    assert rows["193.0.0.0/21"] == (0, "NL")
    assert rows["192.0.2.64/26"] == (0, "NG")
    # A 768-address block is a /23 and a /24.
    odd = next(
        line.split("|")
        for line in DELEGATED.read_text().splitlines()
        if line.split("|")[4:5] == ["768"]
    )
    start = ipaddress.IPv4Address(odd[3])
    assert rows[f"{start}/23"] == (0, odd[1])
    assert rows[f"{start + 512}/24"] == (0, odd[1])
    assert v6_rows(source.v6)["2001:67c:2e8::/48"] == (0, "NL")
    # available/reserved rows and `asn` rows are not address data.
    assert "198.19.252.0/22" not in rows
    assert "198.19.248.0/22" not in rows
    assert (source.v4.asn == 0).all()


def test_delegated_counts_that_are_not_powers_of_two_cover_exactly_the_block(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "delegated-test",
        "2|test|20240101|1|19700101|20240101|+0000\n"
        "test|*|ipv4|*|1|summary\n"
        "test|KE|ipv4|41.0.0.100|1000|20100101|allocated\n",
    )
    source = read_source(path)
    first = ipaddress.IPv4Address("41.0.0.100")
    expected = {str(network) for network in ipaddress.summarize_address_range(first, first + 999)}
    assert set(v4_rows(source.v4)) == expected
    assert {cc for _, cc in v4_rows(source.v4).values()} == {"KE"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("apnic|AU|ipv4|1.0.0.0|256", "expected registry"),
        ("apnic|AU|ipx|1.0.0.0|256|20110811|assigned", "unknown record type"),
        ("apnic|AUS|ipv4|1.0.0.0|256|20110811|assigned", "bad country code"),
        ("apnic|AU|ipv4|1.0.0|256|20110811|assigned", "not an IPv4 address"),
        ("apnic|AU|ipv4|1.0.0.0|0|20110811|assigned", "IPv4 value is not a count"),
        ("apnic|AU|ipv4|1.0.0.0|many|20110811|assigned", "IPv4 value is not a count"),
        ("apnic|AU|ipv4|255.255.255.0|512|20110811|assigned", "past 255.255.255.255"),
        ("apnic|AU|ipv6|2001:db8::|big|20110811|assigned", "IPv6 value is not a length"),
        ("apnic|AU|ipv6|2001:db8::1|32|20110811|assigned", "host bits set"),
    ],
)
def test_delegated_bad_line_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(
        tmp_path,
        "delegated-bad",
        "# a comment\n2.3|apnic|20240101|2|19700101|20240101|+1000\n"
        f"apnic|JP|ipv4|1.0.16.0|4096|20110412|allocated\n{line}\n",
    )
    with pytest.raises(ParseError, match=message) as caught:
        read_source(path, SourceFormat.DELEGATED)
    assert (caught.value.file, caught.value.line) == (str(path), 4)


# ---- AS names --------------------------------------------------------------------------


def test_asn_txt_names_drop_the_trailing_country_only() -> None:
    names = names_of(read_source(AS_NAMES))
    assert names[15169] == "GOOGLE"
    assert names[3333].startswith("RIPE-NCC-AS Reseaux IP Europeens")
    assert names[64497].startswith("SAMPLE-DOC-NG")


def test_asn_txt_keeps_commas_inside_names_and_names_without_country(tmp_path: Path) -> None:
    path = write(tmp_path, "asn.txt", "1 LVLT-1 - Level 3 Parent, LLC, US\nAS64500 NO-COUNTRY\n")
    assert names_of(read_source(path)) == {1: "LVLT-1 - Level 3 Parent, LLC", 64500: "NO-COUNTRY"}


@pytest.mark.parametrize(
    ("line", "message"),
    [("GOOGLE, US", "expected ASN NAME, CC"), ("4294967296 TOO-BIG, ZZ", "ASN above")],
)
def test_asn_txt_bad_line_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path, "asn.txt", f"15169 GOOGLE, US\n{line}\n")
    with pytest.raises(ParseError, match=message) as caught:
        read_source(path, SourceFormat.AS_NAMES)
    assert (caught.value.file, caught.value.line) == (str(path), 2)


def test_as_org_names_are_organisation_names_with_fallbacks() -> None:
    assert names_of(read_source(AS_ORG)) == {
        15169: "Google LLC",
        3333: "Reseaux IP Europeens Network Coordination Centre (RIPE NCC)",
        64496: "Sample Telecom | Accra (made-up)",  # a `|` inside the name is kept
        64497: "SAMPLE-NO-ORG",  # organisation missing: the AS's own name
        64498: "SAMPLE-EMPTY-ORG",  # organisation name empty: the AS's own name
    }


def test_as_org_bad_aut_line_names_file_and_line(tmp_path: Path) -> None:
    text = AS_ORG.read_text().replace("3333|20230619|", "AS3333|20230619|")
    path = write(tmp_path, "as-org.txt", text)
    with pytest.raises(ParseError, match="expected an aut line") as caught:
        read_source(path, SourceFormat.AS_ORG)
    lines = text.splitlines()
    assert caught.value.line == 1 + next(
        number for number, line in enumerate(lines) if line.startswith("AS3333")
    )


def test_as_org_line_before_any_header_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "as-org.txt", "15169|x|GOOGLE|GOGL|y|ARIN\n# format:aut|a|b|c|d|e\n")
    with pytest.raises(ParseError, match="before any '# format:' header") as caught:
        read_source(path, SourceFormat.AS_ORG)
    assert caught.value.line == 1


# ---- MaxMind DB ------------------------------------------------------------------------


def test_mmdb_asn_database_gives_origins_and_names() -> None:
    source = read_source(ASN_MMDB)
    rows = v4_rows(source.v4)
    assert rows["1.128.0.0/11"] == (1221, "")
    assert rows["12.81.96.0/19"] == (7018, "")  # a network without organisation name
    assert v6_rows(source.v6)["2a00::/22"] == (3209, "")
    names = names_of(source)
    assert names[1221] == "Telstra Pty Ltd"
    assert names[3209] == "Vodafone GmbH"
    assert source.skipped_longer_than_64 == 0


def test_mmdb_country_database_gives_countries_and_skips_beyond_64() -> None:
    source = read_source(COUNTRY_MMDB)
    rows = v4_rows(source.v4)
    assert rows["2.125.160.216/29"] == (0, "GB")  # country, not registered_country (FR)
    assert rows["50.114.0.0/22"] == (0, "US")
    v6 = v6_rows(source.v6)
    assert v6["2001:240::/32"] == (0, "JP")
    assert v6["2a02:f000::/29"] == (0, "CZ")
    # The test database has IPv6 networks down to /128; the tables keep /64 and shorter.
    assert source.skipped_longer_than_64 > 0
    assert (source.v6.length <= 64).all()
    assert len(source.as_names) == 0


def test_mmdb_in_a_tar_gz_as_maxmind_serves_it(tmp_path: Path) -> None:
    archive = tmp_path / "GeoLite2-ASN_20240601.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        content = ASN_MMDB.read_bytes()
        member = tarfile.TarInfo("GeoLite2-ASN_20240601/GeoLite2-ASN.mmdb")
        member.size = len(content)
        tar.addfile(member, io.BytesIO(content))
    assert detect_format(archive) is SourceFormat.MMDB
    source = read_source(archive)
    assert np.array_equal(source.v4.start, read_source(ASN_MMDB).v4.start)


def test_a_damaged_mmdb_is_a_parse_error(tmp_path: Path) -> None:
    content = ASN_MMDB.read_bytes()
    damaged = tmp_path / "damaged.mmdb"
    # Keep the metadata (so it is told as mmdb) but zero the search tree.
    damaged.write_bytes(b"\xff" * (len(content) - 4096) + content[-4096:])
    with pytest.raises(ParseError, match="MaxMind DB") as caught:
        read_source(damaged, SourceFormat.MMDB)
    assert caught.value.file == str(damaged)
