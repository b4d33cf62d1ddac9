"""`extract`: find, type and canonicalise the indicators in a pasted block of text.

The bulk-add preview runs this on whatever an analyst pastes: a list with one value a line, or
a paragraph of a defanged threat report. Each line is split into words, and one compiled
scanner runs over every word that could hold an indicator; plain words are skipped, which is
what keeps 100,000 lines fast. Where two kinds could start at the same place the alternation
order decides (a URL before the domain in it, an e-mail before the domain after its @, a hash
before a base58 string). Registry keys may contain spaces, so they are found on the whole line
first. Candidates that look like indicators but fail their type's rules (`999.1.1.1`) are
reported with the reason, and the valid ones are kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from entente.core.errors import BadValue
from entente.sharing.indicators.canonical import canonicalise
from entente.sharing.indicators.refang import refang
from entente.sharing.indicators.types import Category, IndicatorType

MAX_TEXT_CHARACTERS = 8_000_000
MAX_TEXT_LINES = 200_000

_DASH = "[-\u2010\u2011\u2012\u2013\u2014\u2212]"
_KEY_PART = r"""[^\\\s"'<>|]"""
# Inner key segments may hold single spaces ("Windows NT"); the last may not, so a key that
# ends a sentence does not swallow the words after it.
_REGKEY = re.compile(
    r"(?<![\w\\])(?:HKLM|HKCU|HKCR|HKU|HKCC|HKPD|HKEY_[A-Z_]+):?\\"
    rf"(?:{_KEY_PART}+(?: {_KEY_PART}+)*\\)*[^\\\s\"'<>|,;]+",
    re.IGNORECASE,
)
_ASN_WITH_SPACE = re.compile(r"\b(ASN?) (?=[0-9])")
_KINDS = (
    r"(?P<url>\b[a-z][a-z0-9+.-]{1,15}://[^\s<>\"'`]+)",
    r"(?P<email>(?<![\w.+%-])[\w.+%-]+@(?:[\w-]+\.)+(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59})"
    r"(?![\w-]))",
    rf"(?P<cve>\bCVE{_DASH}[0-9]{{4}}{_DASH}[0-9]{{4,19}}\b)",
    r"(?P<tlsh>\bT1[0-9a-f]{70}\b)",
    r"(?P<ssdeep>(?<![\w:/+])[0-9]{1,10}:[0-9a-z/+]{10,64}:[0-9a-z/+]{1,64}(?![\w:/+]))",
    r"(?P<hex>(?<![0-9a-z])[0-9a-f]{32,256}(?![0-9a-z]))",
    r"(?P<bech32>\bbc1[02-9ac-hj-np-z]{8,87}\b)",
    r"(?P<base58>\b[13](?=[0-9]*[a-z])[1-9a-z]{25,34}\b)",
    # Only "::" or eight groups make an IPv6 candidate, so times (12:30:45) and MAC addresses
    # are not reported as broken addresses.
    r"(?P<ipv6>(?<![\w:.])(?=[0-9a-f:.]*::|(?:[0-9a-f]{1,4}:){7}[0-9a-f])"
    r"(?:[0-9a-f]{0,4}:){2,7}(?:[0-9a-f]{1,4}|[0-9]{1,3}(?:\.[0-9]{1,3}){3})?"
    r"(?:/[0-9]{1,3})?(?![\w:]))",
    r"(?P<ipv4>(?<![\w.])[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?:/[0-9]{1,3})?(?!\w|\.[0-9]))",
    r"(?P<asn>(?<![\w.])(?-i:ASN?)[0-9]{1,10}(?:\.[0-9]{1,5})?(?!\w))",
    r"(?P<domain>(?<![\w.@\\/-])(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+"
    r"(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59})(?![\w-]|\.\w))",
)
_SCANNER = re.compile("|".join(_KINDS), re.IGNORECASE)

# Without the public suffix list a dotted name is a domain at two labels (three under these
# common second-level suffixes) and a hostname above; the preview lets the analyst retype it.
# fmt: off
_SECOND_LEVEL_SUFFIXES = frozenset({
    "co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "org.au", "co.jp", "ne.jp",
    "or.jp", "com.br", "com.cn", "net.cn", "org.cn", "co.in", "co.za", "com.mx", "com.tr",
    "co.kr", "com.tw", "com.sg", "com.ar", "co.nz", "com.ng", "co.ke", "com.eg", "com.sa",
    "com.pk", "co.id", "com.my", "com.ua", "com.ru",
})
# Names ending like this are far more often files than domains (.zip and .mov are TLDs too).
_FILE_EXTENSIONS = frozenset({
    "exe", "dll", "sys", "scr", "bat", "cmd", "ps1", "psm1", "vbs", "vbe", "js", "jse", "wsf",
    "hta", "jar", "msi", "lnk", "iso", "img", "vhd", "vhdx", "cab", "chm", "inf", "ini", "cfg",
    "doc", "docx", "docm", "dot", "dotm", "xls", "xlsx", "xlsm", "xlsb", "ppt", "pptx", "pptm",
    "rtf", "pdf", "one", "txt", "log", "tmp", "dat", "bin", "elf", "so", "sh", "py", "pyc",
    "php", "asp", "aspx", "jsp", "zip", "rar", "gz", "tgz", "tar", "7z", "mov", "dmg", "pkg",
    "apk", "eml", "msg", "png", "jpg", "jpeg", "gif", "svg", "html", "htm", "xml", "json", "csv",
})
# fmt: on
_TRAILING_PUNCTUATION = ".,;:!?'\""
_SHORTEST_CANDIDATE = 3  # "::1"


@dataclass(frozen=True, slots=True)
class ExtractedIndicator:
    """One distinct indicator found in the text, at the first line it appeared on."""

    type: IndicatorType
    value: str
    raw: str
    line: int
    occurrences: int = 1

    @property
    def category(self) -> Category:
        return self.type.default_category


@dataclass(frozen=True, slots=True)
class ExtractionFailure:
    """A token that looked like an indicator but is not a valid one, and why."""

    line: int
    token: str
    type: IndicatorType | None
    reason: str


@dataclass(frozen=True, slots=True)
class ExtractionResult:
    """What a paste holds: valid indicators (de-duplicated), failures, and lines with neither."""

    indicators: tuple[ExtractedIndicator, ...]
    failures: tuple[ExtractionFailure, ...]
    lines_without_indicators: tuple[int, ...]
    line_count: int


def extract(text: str) -> ExtractionResult:
    """Each indicator in `text`, refanged, typed, canonicalised, de-duplicated; failures too."""
    line_count = text.count("\n") + (0 if text.endswith("\n") else 1)
    if len(text) > MAX_TEXT_CHARACTERS:
        raise BadValue(
            f"the text has {len(text)} characters; at most {MAX_TEXT_CHARACTERS} at once",
            field="text",
            value=f"{len(text)} characters",
        )
    if line_count > MAX_TEXT_LINES:
        raise BadValue(
            f"the text has {line_count} lines; at most {MAX_TEXT_LINES} at once",
            field="text",
            value=f"{line_count} lines",
        )
    found = _Findings()
    for number, line in enumerate(refang(text).split("\n"), start=1):
        found.scan_line(number, line)
    return found.result(line_count)


class _Findings:
    def __init__(self) -> None:
        self.first_seen: dict[tuple[IndicatorType, str], tuple[str, int]] = {}
        self.occurrences: dict[tuple[IndicatorType, str], int] = {}
        self.failures: list[ExtractionFailure] = []
        self.unmatched_lines: list[int] = []

    def scan_line(self, number: int, line: str) -> None:
        candidates = 0
        if "hk" in line.lower():
            for match in _REGKEY.finditer(line):
                candidates += 1
                self.add(number, IndicatorType.REGKEY, match.group().rstrip(_TRAILING_PUNCTUATION))
            line = _REGKEY.sub(" ", line)
        if "AS" in line:
            line = _ASN_WITH_SPACE.sub(r"\1", line)
        for word in line.split():
            if len(word) < _SHORTEST_CANDIDATE or word.isalpha():
                continue
            for match in _SCANNER.finditer(word):
                candidates += 1
                self.add_match(number, match, line)
        if not candidates and line.strip():
            self.unmatched_lines.append(number)

    def add_match(self, number: int, match: re.Match[str], line: str) -> None:
        try:
            typed = _TYPERS[match.lastgroup or ""](match.group(), line)
        except ValueError as exc:
            self.failures.append(ExtractionFailure(number, match.group(), None, str(exc)))
            return
        self.add(number, *typed)

    def add(self, number: int, indicator_type: IndicatorType, token: str) -> None:
        try:
            value = canonicalise(indicator_type, token)
        except BadValue as exc:
            self.failures.append(ExtractionFailure(number, token, indicator_type, exc.message))
            return
        key = (indicator_type, value)
        if key in self.occurrences:
            self.occurrences[key] += 1
        else:
            self.occurrences[key] = 1
            self.first_seen[key] = (token, number)

    def result(self, line_count: int) -> ExtractionResult:
        indicators = tuple(
            ExtractedIndicator(key[0], key[1], raw, line, self.occurrences[key])
            for key, (raw, line) in self.first_seen.items()
        )
        return ExtractionResult(
            indicators, tuple(self.failures), tuple(self.unmatched_lines), line_count
        )


# A typer names the type a scanner match has (and trims it); ValueError if it has none.
_Typed = tuple[IndicatorType, str]


def _fixed(indicator_type: IndicatorType) -> Callable[[str, str], _Typed]:
    def typed(token: str, line: str) -> _Typed:
        return indicator_type, token

    return typed


def _url(token: str, line: str) -> _Typed:
    token = token.rstrip(_TRAILING_PUNCTUATION)
    # A URL in parentheses or brackets ends before the closing one it did not open.
    for opening, closing in ("()", "[]"):
        while token.endswith(closing) and token.count(closing) > token.count(opening):
            token = token[:-1].rstrip(_TRAILING_PUNCTUATION)
    return IndicatorType.URL, token


_HEX_TYPES = {
    32: IndicatorType.MD5,
    40: IndicatorType.SHA1,
    64: IndicatorType.SHA256,
    70: IndicatorType.TLSH,
}


def _hex(token: str, line: str) -> _Typed:
    if len(token) == 32 and "ja3" in line.lower():
        return IndicatorType.JA3, token
    if len(token) not in _HEX_TYPES:
        raise ValueError(
            f"a hexadecimal string of {len(token)} digits is not an MD5 (32), SHA-1 (40),"
            " SHA-256 (64) or TLSH (70) digest"
        )
    return _HEX_TYPES[len(token)], token


def _address(token: str, line: str) -> _Typed:
    if "/" in token:
        return IndicatorType.CIDR, token
    return (IndicatorType.IPV6 if ":" in token else IndicatorType.IPV4), token


def _dotted_name(token: str, line: str) -> _Typed:
    labels = token.lower().split(".")
    if labels[-1] in _FILE_EXTENSIONS:
        return IndicatorType.FILENAME, token
    registrable = 3 if ".".join(labels[-2:]) in _SECOND_LEVEL_SUFFIXES else 2
    if len(labels) <= registrable:
        return IndicatorType.DOMAIN, token
    return IndicatorType.HOSTNAME, token


_TYPERS: dict[str, Callable[[str, str], _Typed]] = {
    "url": _url,
    "email": _fixed(IndicatorType.EMAIL_SRC),
    "cve": _fixed(IndicatorType.CVE),
    "tlsh": _fixed(IndicatorType.TLSH),
    "ssdeep": _fixed(IndicatorType.SSDEEP),
    "hex": _hex,
    "bech32": _fixed(IndicatorType.BTC),
    "base58": _fixed(IndicatorType.BTC),
    "ipv6": _address,
    "ipv4": _address,
    "asn": _fixed(IndicatorType.ASN),
    "domain": _dotted_name,
}
