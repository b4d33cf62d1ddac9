"""Bulk-paste extraction: typing, refanging, de-duplication, line numbers, failures, limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.provisional import domains

from entente.core.errors import BadValue
from entente.sharing.indicators import (
    MAX_TEXT_CHARACTERS,
    MAX_TEXT_LINES,
    ExtractionResult,
    IndicatorType,
    defang,
    extract,
)

T = IndicatorType

REPORT = """\
Summary: on 2024-03-12 at 09:14 UTC the actor sent mail from billing[@]invoices-secure[.]com
with the subject "Overdue invoice". The lure linked to hxxps://cdn.invoices-secure[.]com/dl/a.zip
(see also hxxp://203.0.113[.]45:8080/gate.php?id=7). The archive drops invoice.pdf.exe (SHA256
9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08,
MD5 098f6bcd4621d373cade4e832627b4f6) which beacons to 198.51.100[.]23 and 2001:DB8:0:0::17
over TLS (JA3 e7d705a3286e19ea42f587b344ee6865).
Persistence: HKCU\\Software\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon\\Shell.
Hosting: AS64496, 203.0.113.0/24. The actor exploits CVE-2023-23397 and wants payment to
1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa.

A second server at 999.1.1.1 was mistyped; c2.evil-updates[.]net resolves to 198.51.100.23.
Windows 10.0.19041.1 at 12:30:45 on 00:1a:2b:3c:4d:5e is not an indicator, as 12 analysts agreed.
"""


def _found(result: ExtractionResult) -> dict[tuple[IndicatorType, str], int]:
    return {(item.type, item.value): item.line for item in result.indicators}


def test_a_defanged_report_paragraph_yields_typed_canonical_indicators() -> None:
    result = extract(REPORT)
    assert _found(result) == {
        (T.EMAIL_SRC, "billing@invoices-secure.com"): 1,
        (T.URL, "https://cdn.invoices-secure.com/dl/a.zip"): 2,
        (T.URL, "http://203.0.113.45:8080/gate.php?id=7"): 3,
        (T.FILENAME, "invoice.pdf.exe"): 3,
        (T.SHA256, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"): 4,
        (T.MD5, "098f6bcd4621d373cade4e832627b4f6"): 5,
        (T.IPV4, "198.51.100.23"): 5,
        (T.IPV6, "2001:db8::17"): 5,
        (T.JA3, "e7d705a3286e19ea42f587b344ee6865"): 6,
        (
            T.REGKEY,
            "HKEY_CURRENT_USER\\Software\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon\\Shell",
        ): 7,
        (T.ASN, "AS64496"): 8,
        (T.CIDR, "203.0.113.0/24"): 8,
        (T.CVE, "CVE-2023-23397"): 8,
        (T.BTC, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"): 9,
        (T.HOSTNAME, "c2.evil-updates.net"): 11,
    }
    ip = next(item for item in result.indicators if item.type is T.IPV4)
    assert ip.occurrences == 2
    assert ip.raw == "198.51.100.23"
    assert ip.category.value == "network_activity"


def test_invalid_candidates_are_reported_with_line_and_reason_and_valid_ones_kept() -> None:
    result = extract(REPORT)
    assert [(f.line, f.token, f.type) for f in result.failures] == [(11, "999.1.1.1", T.IPV4)]
    assert "Octet 999" in result.failures[0].reason
    assert (T.HOSTNAME, "c2.evil-updates.net") in _found(result)


def test_lines_with_nothing_recognisable_are_listed_and_blank_lines_are_not() -> None:
    result = extract(REPORT)
    assert result.lines_without_indicators == (12,)
    assert result.line_count == 12


def test_a_one_per_line_list_keeps_good_lines_and_reports_each_bad_line() -> None:
    text = "\n".join(
        [
            "evil[.]example[.]com",
            "999.1.1.1",
            "d41d8cd98f00b204e9800998ecf8427e",
            "not an indicator",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",
            "EVIL.example.com",
            "d41d8cd98f00b204e9800998ecf8427e0000000000000000",
            "",
            "CVE-2021-01234",
        ]
    )
    result = extract(text)
    assert _found(result) == {
        (T.HOSTNAME, "evil.example.com"): 1,
        (T.MD5, "d41d8cd98f00b204e9800998ecf8427e"): 3,
    }
    assert [item.occurrences for item in result.indicators] == [2, 1]
    failures = {f.line: (f.type, f.reason) for f in result.failures}
    assert set(failures) == {2, 5, 7, 9}
    assert failures[5][0] is T.BTC and "checksum" in failures[5][1]
    assert failures[7][0] is None and "48 digits" in failures[7][1]
    assert failures[9][0] is T.CVE and "leading zero" in failures[9][1]
    assert result.lines_without_indicators == (4,)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see (hxxp://evil[.]com/a).", (T.URL, "http://evil.com/a")),
        ("at http://evil.com/a(1)b, then", (T.URL, "http://evil.com/a%281%29b")),
        ("<https://evil.com/x>", (T.URL, "https://evil.com/x")),
        ("mail admin(at)evil(dot)co.uk now", (T.EMAIL_SRC, "admin@evil.co.uk")),
        ("host evil.co.uk is a domain", (T.DOMAIN, "evil.co.uk")),
        ("ASN 15169.", (T.ASN, "AS15169")),
        ("fe80::1%eth0 link-local", (T.IPV6, "fe80::1")),
        ("net 2001:db8::/32", (T.CIDR, "2001:db8::/32")),
        ("tlsh T1" + "0A" * 35 + " seen", (T.TLSH, "T1" + "0A" * 35)),
        ("ssdeep 96:s4Ud1Lj96tHHlZDrwciQmA:s4Ud1L5qpPNnFXTKpdhhgV", (T.SSDEEP, T.SSDEEP.example)),
        ("bücher.example ist böse", (T.DOMAIN, "xn--bcher-kva.example")),
        ("ip=192.0.2.1:443", (T.IPV4, "192.0.2.1")),
    ],
)
def test_single_indicators_in_context(text: str, expected: tuple[IndicatorType, str]) -> None:
    assert list(_found(extract(text))) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "version 10.0.19041.1 and 1.2.3.4.5",
        "meeting at 12:30:45, MAC 00:1a:2b:3c:4d:5e",
        "as 12 analysts said, e.g. this",
        "std::vector<int> and Foo::Bar",
        "a GUID 6f9619ff-8b86-d011-b42d-00c04fc964ff",
    ],
)
def test_look_alikes_are_neither_indicators_nor_failures(text: str) -> None:
    result = extract(text)
    assert result.indicators == ()
    assert result.failures == ()


def test_size_limits_raise_bad_value_on_the_text_field() -> None:
    with pytest.raises(BadValue) as too_long:
        extract("a" * (MAX_TEXT_CHARACTERS + 1))
    assert too_long.value.field == "text"
    assert str(MAX_TEXT_CHARACTERS) in too_long.value.message
    with pytest.raises(BadValue) as too_many_lines:
        extract("x\n" * (MAX_TEXT_LINES + 1))
    assert too_many_lines.value.field == "text"
    assert "lines" in too_many_lines.value.message


def test_empty_text_gives_an_empty_result() -> None:
    assert extract("") == ExtractionResult((), (), (), 1)


_LISTED_VALUES = st.one_of(
    st.ip_addresses(v=4).map(lambda a: (T.IPV4, str(a))),
    st.binary(min_size=32, max_size=32).map(lambda b: (T.SHA256, b.hex())),
    st.binary(min_size=20, max_size=20).map(lambda b: (T.SHA1, b.hex())),
    st.integers(1, 4_294_967_295).map(lambda n: (T.ASN, f"AS{n}")),
    st.tuples(st.integers(1999, 2099), st.integers(1000, 10**6)).map(
        lambda p: (T.CVE, f"CVE-{p[0]}-{p[1]}")
    ),
    domains().map(lambda d: (T.URL, f"https://{d.lower()}/index.html")),
    domains().map(lambda d: (T.EMAIL_SRC, f"info@{d.lower()}")),
)


@given(st.lists(_LISTED_VALUES, min_size=1, max_size=20), st.booleans())
def test_every_listed_value_is_found_on_its_line(
    listed: list[tuple[IndicatorType, str]], defanged: bool
) -> None:
    lines = [defang(value) if defanged else value for _, value in listed]
    result = extract("\n".join(lines))
    found = _found(result)
    for number, (indicator_type, value) in enumerate(listed, start=1):
        first_line = next(i for i, item in enumerate(listed, start=1) if item[1] == value)
        assert found[(indicator_type, value)] == first_line, (number, value)
    assert result.failures == ()
    assert len(result.indicators) == len(set(listed))
