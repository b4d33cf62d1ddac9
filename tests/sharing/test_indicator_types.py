"""Indicator types: per-type accepted and rejected values, idempotence, refanging."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.provisional import domains, urls

from entente.core.errors import BadValue
from entente.sharing.indicators import (
    Category,
    IndicatorType,
    canonicalise,
    defang,
    parse_indicator_type,
    refang,
)

T = IndicatorType

ACCEPTED = [
    (T.IPV4, "192.0.2.1", "192.0.2.1"),
    (T.IPV4, " 198.51.100.7\n", "198.51.100.7"),
    (T.IPV4, "203.0.113[.]9", "203.0.113.9"),
    (T.IPV6, "2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
    (T.IPV6, "[2001:db8::1]", "2001:db8::1"),
    (T.IPV6, "::FFFF:192.0.2.1", "::ffff:192.0.2.1"),
    (T.IPV6, "::ffff:c000:201", "::ffff:192.0.2.1"),
    (T.CIDR, "10.1.2.3/8", "10.0.0.0/8"),
    (T.CIDR, "192.0.2.0/24", "192.0.2.0/24"),
    (T.CIDR, "2001:DB8:0:0:1::/32", "2001:db8::/32"),
    (T.DOMAIN, "Example.COM.", "example.com"),
    (T.DOMAIN, "evil[.]example(dot)org", "evil.example.org"),
    (T.DOMAIN, "bücher.de", "xn--bcher-kva.de"),
    (T.DOMAIN, "BÜCHER.de", "xn--bcher-kva.de"),
    (T.DOMAIN, "例え。テスト", "xn--r8jz45g.xn--zckzah"),
    (T.DOMAIN, "i❤.ws", "xn--i-7iq.ws"),
    (T.DOMAIN, "xn--bcher-kva.de", "xn--bcher-kva.de"),
    (T.DOMAIN, "_dmarc.example.com", "_dmarc.example.com"),
    (T.HOSTNAME, "WWW.Example.com", "www.example.com"),
    (T.URL, "HTTP://Example.COM", "http://example.com/"),
    (T.URL, "hxxps://evil[.]example[.]com:443/a b/%7euser/%2f?q=%41#x", None),
    (T.URL, "http://example.com:8080/x", "http://example.com:8080/x"),
    (T.URL, "http://bücher.de/ä", "http://xn--bcher-kva.de/%C3%A4"),
    (T.URL, "http://[2001:DB8::1]:80/", "http://[2001:db8::1]/"),
    (T.URL, "http://192.0.2.1/gate.php?", "http://192.0.2.1/gate.php"),
    (T.URL, "http://example.com/100%", "http://example.com/100%25"),
    (T.URL, "http://example.com/(x)", "http://example.com/%28x%29"),
    (T.URL, "ftp://user:pw@example.com:21/f", "ftp://user:pw@example.com/f"),
    (T.EMAIL_SRC, "Billing@Example.COM", "Billing@example.com"),
    (T.EMAIL_SRC, "billing[at]evil[.]example", "billing@evil.example"),
    (T.EMAIL_SRC, "first.last+tag@bücher.de", "first.last+tag@xn--bcher-kva.de"),
    (T.EMAIL_SRC, "josé@example.com", "josé@example.com"),
    (T.EMAIL_SUBJECT, "  Invoice overdue  ", "Invoice overdue"),
    (T.MD5, "D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427e"),
    (T.SHA1, "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", T.SHA1.example),
    (T.SHA256, T.SHA256.example.upper(), T.SHA256.example),
    (T.SSDEEP, "3::", "3::"),
    (T.SSDEEP, '0096:abc+/def:gh,"sample.exe"', "96:abc+/def:gh"),
    (T.TLSH, "t1" + "ab" * 35, "T1" + "AB" * 35),
    (T.TLSH, "ab" * 35, "AB" * 35),
    (T.FILENAME, "C:\\Users\\Public\\evil.exe", "C:\\Users\\Public\\evil.exe"),
    (T.MUTEX, "Global\\abc", "Global\\abc"),
    (T.REGKEY, "HKLM\\Software\\Run", "HKEY_LOCAL_MACHINE\\Software\\Run"),
    (T.REGKEY, "hkcu:\\\\Software\\\\X\\", "HKEY_CURRENT_USER\\Software\\X"),
    (T.REGKEY, "\\REGISTRY\\USER\\S-1-5-21\\Run", "HKEY_USERS\\S-1-5-21\\Run"),
    (T.JA3, "E7D705A3286E19EA42F587B344EE6865", "e7d705a3286e19ea42f587b344ee6865"),
    (T.CVE, "cve-2021-44228", "CVE-2021-44228"),
    (T.CVE, "CVE\u20112014\u2013100000", "CVE-2014-100000"),
    (T.ASN, "as64496", "AS64496"),
    (T.ASN, "64496", "AS64496"),
    (T.ASN, "ASN 64496", "AS64496"),
    (T.ASN, "AS1.10", "AS65546"),
    (T.ASN, "4294967295", "AS4294967295"),
    (T.BTC, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
    (T.BTC, "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"),
    # BIP 173 / BIP 350 test vectors.
    (
        T.BTC,
        "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
    ),
    (
        T.BTC,
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
    ),
    (T.BTC, "BC1SW50QGDZ25J", "bc1sw50qgdz25j"),
    (T.OTHER, "line one\r\nline two", "line one\nline two"),
]

REJECTED = [
    (T.IPV4, "999.1.1.1", "999"),
    (T.IPV4, "01.2.3.4", "Leading zeros"),
    (T.IPV4, "1.2.3", "4 octets"),
    (T.IPV4, "2001:db8::1", ""),
    (T.IPV6, "2001:db8::g", ""),
    (T.IPV6, "fe80::1%eth0", "zone"),
    (T.IPV6, "1.2.3.4", ""),
    (T.CIDR, "192.0.2.1", "/prefix"),
    (T.CIDR, "192.0.2.0/33", ""),
    (T.CIDR, "192.0.2.0/x", "prefix length"),
    (T.DOMAIN, "localhost", "two labels"),
    (T.DOMAIN, "a..example.com", "empty label"),
    (T.DOMAIN, "-evil.example.com", "hyphen"),
    (T.DOMAIN, "1.2.3.4", "IP address"),
    (T.DOMAIN, "example.c0m", "top-level"),
    (T.DOMAIN, "a" * 64 + ".com", "1-63"),
    (T.DOMAIN, ("a" * 60 + ".") * 5 + "com", "253"),
    (T.DOMAIN, "ex ample.com", "label"),
    (T.DOMAIN, "xn--99999999.com", "punycode"),
    (T.URL, "http:///path", "no host"),
    (T.URL, "http://:80/path", "no host"),
    (T.URL, "example.com/path", "scheme"),
    (T.URL, "mailto:a@example.com", "scheme"),
    (T.URL, "http://999.1.1.1/", "999"),
    (T.URL, "http://example.com:99999/", "port"),
    (T.URL, "http://[2001:db8::1/", "never closes"),
    (T.URL, "http://exa mple.com/", "host"),
    (T.EMAIL_SRC, "no-at-sign.example.com", "@"),
    (T.EMAIL_SRC, "a@localhost", "two labels"),
    (T.EMAIL_SRC, "a@@example.com", ""),
    (T.EMAIL_SUBJECT, "two\nlines", "one line"),
    (T.MD5, "d41d8cd98f00b204e9800998ecf8427", "32"),
    (T.MD5, "g41d8cd98f00b204e9800998ecf8427e", "32"),
    (T.SHA1, "abc", "40"),
    (T.SHA256, "0" * 63, "64"),
    (T.SSDEEP, "97:abc:def", "power of two"),
    (T.SSDEEP, "96:abc", "blocksize:hash:hash"),
    (T.SSDEEP, "96:ab$:def", "blocksize:hash:hash"),
    (T.TLSH, "TNULL", "70"),
    (T.TLSH, "T1" + "A" * 69, "70"),
    (T.FILENAME, "evil\x07.exe", "control"),
    (T.REGKEY, "Software\\Run", "hive"),
    (T.REGKEY, "HKXX\\Software", "hive"),
    (T.JA3, "e7d705a3286e19ea", "32"),
    (T.CVE, "CVE-21-44228", "CVE-YYYY"),
    (T.CVE, "CVE-1998-0001", "1999"),
    (T.CVE, "CVE-2021-01234", "leading zero"),
    (T.ASN, "AS0", "between 1"),
    (T.ASN, "AS4294967296", "between 1"),
    (T.ASN, "AS70000.1", "65535"),
    (T.ASN, "ASX1", "AS64496"),
    (T.BTC, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", "checksum"),
    (T.BTC, "1A1zP1eP5QGefi2DMPTfTL5SLmv7Div0Na", "base58 character"),
    (T.BTC, "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", "mainnet"),
    (T.BTC, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "checksum"),
    (T.BTC, "bc1qw508d6qejxtdg4y5r3zarvaRY0c5xw7kv8f3t4", "mix"),
    (T.BTC, "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "bc1"),
    (T.OTHER, "   ", "empty"),
    (T.OTHER, "x" * 4097, "longer than 4096"),
    (T.OTHER, "nul\x00byte", "NUL"),
    (T.OTHER, "\ud800", "UTF-8"),
]


@pytest.mark.parametrize(("indicator_type", "raw", "expected"), ACCEPTED)
def test_accepted_values_take_their_canonical_form(
    indicator_type: IndicatorType, raw: str, expected: str | None
) -> None:
    canonical = canonicalise(indicator_type, raw)
    if expected is not None:
        assert canonical == expected
    assert canonicalise(indicator_type, canonical) == canonical


def test_url_normalisation_covers_case_port_escapes_and_refanging() -> None:
    raw = "hxxps://evil[.]example[.]com:443/a b/%7euser/%2f?q=%41#x"
    assert canonicalise(T.URL, raw) == "https://evil.example.com/a%20b/~user/%2F?q=A#x"


@pytest.mark.parametrize(("indicator_type", "raw", "reason"), REJECTED)
def test_rejected_values_raise_bad_value_naming_type_value_and_reason(
    indicator_type: IndicatorType, raw: str, reason: str
) -> None:
    with pytest.raises(BadValue) as caught:
        canonicalise(indicator_type, raw)
    error = caught.value
    assert error.field == "value"
    assert error.value == raw
    assert error.http_status == 422
    assert f"not a valid {indicator_type.value}" in error.message
    assert reason in error.message


def test_every_type_has_metadata_and_a_canonical_example() -> None:
    for indicator_type in IndicatorType:
        assert indicator_type.label
        assert indicator_type.description.endswith(".")
        assert isinstance(indicator_type.default_category, Category)
        assert canonicalise(indicator_type, indicator_type.example) == indicator_type.example
    assert T.BTC.default_category is Category.FINANCIAL_FRAUD
    assert Category.NETWORK_ACTIVITY.label == "Network activity"


def test_parse_indicator_type_accepts_known_names_and_rejects_unknown_ones() -> None:
    assert parse_indicator_type(" Email-Src ") is T.EMAIL_SRC
    with pytest.raises(BadValue) as caught:
        parse_indicator_type("ip-src")
    assert caught.value.field == "type"
    assert "ipv4" in caught.value.message


def test_docs_page_lists_every_type() -> None:
    page = Path(__file__).parents[2] / "docs" / "indicator-types.md"
    text = page.read_text(encoding="utf-8")
    for indicator_type in IndicatorType:
        assert f"| `{indicator_type.value}` |" in text


@pytest.mark.parametrize(
    ("defanged", "plain"),
    [
        ("hxxp://evil[.]com/x", "http://evil.com/x"),
        ("hXXps[://]evil(.)com", "https://evil.com"),
        ("hxxp[:]//203.0.113{.}7", "http://203.0.113.7"),
        ("fxp://files[dot]example[.]org", "ftp://files.example.org"),
        ("h**p://evil[.]com", "http://evil.com"),
        ("admin[at]evil(dot)com", "admin@evil.com"),
        ("admin [at] evil [dot] com", "admin@evil.com"),
        ("admin[@]evil[.]com", "admin@evil.com"),
        ("evil[ . ]com", "evil.com"),
        ("a\n[.]\nb", "a\n.\nb"),
        ("no markers here: hxxpd, (x), [note]", "no markers here: hxxpd, (x), [note]"),
    ],
)
def test_refang_undoes_common_notations_and_keeps_line_breaks(defanged: str, plain: str) -> None:
    assert refang(defanged) == plain


# Strategies: valid values of each type, written the ways people write them.
def _mixed_case(text: str, flips: list[bool]) -> str:
    padded = flips + [False] * len(text)
    return "".join(
        c.upper() if flip else c for c, flip in zip(text, padded[: len(text)], strict=True)
    )


_flips = st.lists(st.booleans(), max_size=80)
_hex_bytes = st.binary(min_size=16, max_size=32)
_ipv4 = st.ip_addresses(v=4).map(str)
_ipv6 = st.ip_addresses(v=6).flatmap(lambda a: st.sampled_from([str(a), a.exploded.upper()]))


def _base58check(payload: bytes) -> str:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    data = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    number, text = int.from_bytes(data, "big"), ""
    while number:
        number, digit = divmod(number, 58)
        text = alphabet[digit] + text
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + text


VALID_VALUES: dict[IndicatorType, st.SearchStrategy[str]] = {
    T.IPV4: _ipv4,
    T.IPV6: _ipv6,
    T.CIDR: st.one_of(
        st.tuples(_ipv4, st.integers(0, 32)).map(lambda p: f"{p[0]}/{p[1]}"),
        st.tuples(_ipv6, st.integers(0, 128)).map(lambda p: f"{p[0]}/{p[1]}"),
    ),
    T.DOMAIN: st.tuples(domains(), _flips).map(lambda p: _mixed_case(p[0], p[1])),
    T.HOSTNAME: domains().map(lambda d: f"www.{d}."),
    T.URL: urls(),
    T.EMAIL_SRC: st.emails(),
    T.EMAIL_SUBJECT: st.text(min_size=1, max_size=80).filter(
        lambda s: s.isprintable() and s.strip() != ""
    ),
    T.MD5: st.binary(min_size=16, max_size=16).map(lambda b: b.hex().upper()),
    T.SHA1: st.binary(min_size=20, max_size=20).map(bytes.hex),
    T.SHA256: st.tuples(st.binary(min_size=32, max_size=32), _flips).map(
        lambda p: _mixed_case(p[0].hex(), p[1])
    ),
    T.SSDEEP: st.tuples(
        st.integers(0, 20),
        st.text("abcXYZ019+/", max_size=64),
        st.text("abcXYZ019+/", max_size=32),
    ).map(lambda p: f"{3 * 2 ** p[0]}:{p[1]}:{p[2]}"),
    T.TLSH: st.binary(min_size=35, max_size=35).map(lambda b: "t1" + b.hex()),
    T.FILENAME: st.text(min_size=1, max_size=60).filter(
        lambda s: s.isprintable() and s.strip() != ""
    ),
    T.MUTEX: st.text(min_size=1, max_size=60).filter(lambda s: s.isprintable() and s.strip() != ""),
    T.REGKEY: st.tuples(
        st.sampled_from(["HKLM", "hkcu", "HKEY_USERS", "HKCR:"]),
        st.lists(st.text("abcXYZ 019._-", min_size=1, max_size=12), max_size=5),
    ).map(lambda p: "\\\\".join([p[0], *p[1]])),
    T.JA3: st.binary(min_size=16, max_size=16).map(bytes.hex),
    T.CVE: st.tuples(st.integers(1999, 2099), st.integers(1, 10**7)).map(
        lambda p: f"cve-{p[0]}-{p[1]:04d}"
    ),
    T.ASN: st.integers(1, 4_294_967_295).flatmap(
        lambda n: st.sampled_from([f"AS{n}", str(n), f"as {n}"])
    ),
    T.BTC: st.tuples(st.sampled_from([b"\x00", b"\x05"]), st.binary(min_size=20, max_size=20)).map(
        lambda p: _base58check(p[0] + p[1])
    ),
    T.OTHER: st.text(min_size=1, max_size=200).filter(lambda s: s.strip() != ""),
}


def test_every_type_has_a_strategy() -> None:
    assert set(VALID_VALUES) == set(IndicatorType)


@pytest.mark.parametrize("indicator_type", list(IndicatorType))
@given(data=st.data())
def test_canonicalise_accepts_generated_values_and_is_idempotent(
    indicator_type: IndicatorType, data: st.DataObject
) -> None:
    raw = data.draw(VALID_VALUES[indicator_type])
    control = [c for c in raw.strip() if (ord(c) < 32 and c not in "\t\n\r") or c == "\x7f"]
    if indicator_type is T.OTHER and control:
        with pytest.raises(BadValue):
            canonicalise(indicator_type, raw)
        return
    canonical = canonicalise(indicator_type, raw)
    assert canonicalise(indicator_type, canonical) == canonical


_NETWORK_VALUES = st.one_of(
    _ipv4,
    domains().map(str.lower),
    st.tuples(st.text("abcxyz019._-", min_size=1, max_size=12), domains()).map(
        lambda p: f"{p[0]}@{p[1].lower()}"
    ),
    st.tuples(
        st.sampled_from(["http", "https", "ftp"]), domains(), st.text("abc/019", max_size=12)
    ).map(lambda p: f"{p[0]}://{p[1].lower()}/{p[2]}"),
)


@given(_NETWORK_VALUES)
def test_refang_recovers_what_defang_hides(value: str) -> None:
    defanged = defang(value)
    assert "." not in defanged.replace("[.]", "")
    assert refang(defanged) == value


_DOT_STYLES = st.sampled_from(["[.]", "(.)", "{.}", "[dot]", "(DOT)", " [.] ", "[ . ]"])


@given(domains().map(str.lower), _DOT_STYLES, st.sampled_from(["hxxp", "hXXp", "h**p"]))
def test_refang_recovers_urls_defanged_in_other_styles(domain: str, dot: str, scheme: str) -> None:
    defanged = f"{scheme}s[://]{domain.replace('.', dot)}/path"
    assert refang(defanged) == f"https://{domain}/path"
