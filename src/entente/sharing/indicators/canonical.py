"""`canonicalise`: one canonical text per indicator value, so equal indicators compare equal.

Correlation, de-duplication and exact lookup all compare canonical values, so every form a
person may type (upper-case hashes, `HKLM`, `as64496`, `hxxp://Evil[.]COM:80`) must land on
the same text, and canonicalising a canonical value must change nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from entente.core.errors import BadValue
from entente.sharing.indicators.bitcoin import canonical_bitcoin_address
from entente.sharing.indicators.network import (
    canonical_cidr,
    canonical_domain,
    canonical_email,
    canonical_ipv4,
    canonical_ipv6,
    canonical_url,
)
from entente.sharing.indicators.refang import refang
from entente.sharing.indicators.types import IndicatorType

# Longest value accepted per type (after stripping); anything else is capped at DEFAULT.
DEFAULT_MAX_LENGTH = 512
MAX_LENGTHS = {
    IndicatorType.URL: 8192,
    IndicatorType.OTHER: 4096,
    IndicatorType.FILENAME: 1024,
    IndicatorType.MUTEX: 1024,
    IndicatorType.REGKEY: 1024,
    IndicatorType.EMAIL_SUBJECT: 998,  # RFC 5322 section 2.1.1 line limit
}
MAX_ASN = 4_294_967_295

# Only network values are written defanged; a file name may really contain "[.]".
_REFANGED_TYPES = frozenset(
    {
        IndicatorType.IPV4,
        IndicatorType.IPV6,
        IndicatorType.CIDR,
        IndicatorType.DOMAIN,
        IndicatorType.HOSTNAME,
        IndicatorType.URL,
        IndicatorType.EMAIL_SRC,
    }
)


def canonicalise(indicator_type: IndicatorType, raw: str) -> str:
    """The canonical text of `raw` as `indicator_type`, or BadValue(field="value") saying why."""
    try:
        value = _prepared(indicator_type, raw)
        return _CANONICALISERS[indicator_type](value)
    except ValueError as exc:  # ipaddress, idna and email-validator errors are ValueErrors too
        shown = raw if len(raw) <= 80 else raw[:77] + "..."
        raise BadValue(
            f"{shown!r} is not a valid {indicator_type.value} ({indicator_type.label}): {exc}",
            field="value",
            value=raw,
        ) from exc


def _prepared(indicator_type: IndicatorType, raw: str) -> str:
    if "\x00" in raw:
        raise ValueError("it contains a NUL character")
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("it is not valid UTF-8 (an unpaired surrogate)") from None
    value = raw.strip()
    if not value:
        raise ValueError("it is empty")
    limit = MAX_LENGTHS.get(indicator_type, DEFAULT_MAX_LENGTH)
    if len(value) > limit:
        raise ValueError(f"it is longer than {limit} characters")
    return refang(value) if indicator_type in _REFANGED_TYPES else value


_HEX = re.compile(r"[0-9a-fA-F]+")


def _hex_digest(name: str, length: int) -> Callable[[str], str]:
    def canonical(value: str) -> str:
        if len(value) != length or not _HEX.fullmatch(value):
            raise ValueError(f"{name} is exactly {length} hexadecimal digits, not {len(value)}")
        return value.lower()

    return canonical


# ssdeep prints `blocksize:hash:hash,"file name"`; the file name is not part of the hash.
_SSDEEP = re.compile(r'([0-9]{1,10}):([0-9A-Za-z/+]{0,64}):([0-9A-Za-z/+]{0,64})(?:,"[^"]*")?')


def canonical_ssdeep(value: str) -> str:
    """blocksize:hash:hash with a blocksize of 3 times a power of two, as ssdeep computes it."""
    match = _SSDEEP.fullmatch(value)
    if match is None:
        raise ValueError("ssdeep is blocksize:hash:hash with base64 parts of up to 64 characters")
    blocksize = int(match[1])
    multiple = blocksize // 3
    if blocksize < 3 or blocksize % 3 or multiple & (multiple - 1):
        raise ValueError(f"blocksize {blocksize} is not 3 times a power of two")
    return f"{blocksize}:{match[2]}:{match[3]}"


_TLSH = re.compile(r"(?:[Tt]1)?[0-9A-Fa-f]{70}")


def canonical_tlsh(value: str) -> str:
    """Upper case, as the TLSH tools print it; the T1 version prefix is kept as written."""
    if not _TLSH.fullmatch(value):
        raise ValueError("TLSH is T1 and 70 hexadecimal digits (70 digits in the older format)")
    return value.upper()


_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212", "-"))
_CVE = re.compile(r"CVE-([0-9]{4})-([0-9]{4,19})", re.IGNORECASE)


def canonical_cve(value: str) -> str:
    """CVE-YYYY-NNNN in upper case (https://www.cve.org/About/Process#CVEIDSyntax)."""
    match = _CVE.fullmatch(value.translate(_DASHES))
    if match is None:
        raise ValueError("a CVE identifier is CVE-YYYY-NNNN with four or more digits")
    year, sequence = match[1], match[2]
    if int(year) < 1999:
        raise ValueError("CVE identifiers start in 1999")
    if len(sequence) > 4 and sequence.startswith("0"):
        raise ValueError("a sequence number longer than four digits has no leading zero")
    return f"CVE-{year}-{sequence}"


_ASN = re.compile(r"(?:ASN?[ ]?)?([0-9]{1,10})(?:\.([0-9]{1,5}))?", re.IGNORECASE)


def canonical_asn(value: str) -> str:
    """AS followed by the number; asplain and asdot (RFC 5396) input, AS0 refused (RFC 7607)."""
    match = _ASN.fullmatch(value)
    if match is None:
        raise ValueError("an AS number is written AS64496, 64496 or, in asdot, AS1.10")
    if match[2] is None:
        number = int(match[1])
    else:
        high, low = int(match[1]), int(match[2])
        if high > 0xFFFF or low > 0xFFFF:
            raise ValueError("both halves of an asdot number are at most 65535")
        number = high << 16 | low
    if not 1 <= number <= MAX_ASN:
        raise ValueError(f"an AS number is between 1 and {MAX_ASN}")
    return f"AS{number}"


_HIVES = {
    "HKLM": "HKEY_LOCAL_MACHINE",
    "HKCU": "HKEY_CURRENT_USER",
    "HKCR": "HKEY_CLASSES_ROOT",
    "HKU": "HKEY_USERS",
    "HKCC": "HKEY_CURRENT_CONFIG",
    "HKPD": "HKEY_PERFORMANCE_DATA",
}
_HIVES.update({full: full for full in list(_HIVES.values())})
# The kernel's names, as Sysmon and EDR logs print them.
_NATIVE_HIVES = {"MACHINE": "HKEY_LOCAL_MACHINE", "USER": "HKEY_USERS"}


def canonical_regkey(value: str) -> str:
    """Full hive name, single backslashes, no trailing backslash; the key path keeps its case."""
    parts = [part for part in re.split(r"\\+", value) if part.strip()]
    first = parts[0].upper().removesuffix(":") if parts else ""
    if first == "REGISTRY" and len(parts) > 1 and parts[1].upper() in _NATIVE_HIVES:
        hive, rest = _NATIVE_HIVES[parts[1].upper()], parts[2:]
    elif first in _HIVES:
        hive, rest = _HIVES[first], parts[1:]
    else:
        raise ValueError("a registry key starts with a hive: HKLM, HKCU, HKCR, HKU, HKCC or HKPD")
    return "\\".join([hive, *rest]).rstrip()


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def canonical_single_line(value: str) -> str:
    """Text on one line without control characters, as written."""
    if "\n" in value or "\r" in value:
        raise ValueError("it must fit on one line")
    if _CONTROL.search(value) or "\t" in value:
        raise ValueError("it contains a control character")
    return value


def canonical_free_text(value: str) -> str:
    """Text with Unix line ends and no control characters other than tab and line feed."""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    if _CONTROL.search(text):
        raise ValueError("it contains a control character")
    return text


_CANONICALISERS: dict[IndicatorType, Callable[[str], str]] = {
    IndicatorType.IPV4: canonical_ipv4,
    IndicatorType.IPV6: canonical_ipv6,
    IndicatorType.CIDR: canonical_cidr,
    IndicatorType.DOMAIN: canonical_domain,
    IndicatorType.HOSTNAME: canonical_domain,
    IndicatorType.URL: canonical_url,
    IndicatorType.EMAIL_SRC: canonical_email,
    IndicatorType.EMAIL_SUBJECT: canonical_single_line,
    IndicatorType.MD5: _hex_digest("MD5", 32),
    IndicatorType.SHA1: _hex_digest("SHA-1", 40),
    IndicatorType.SHA256: _hex_digest("SHA-256", 64),
    IndicatorType.SSDEEP: canonical_ssdeep,
    IndicatorType.TLSH: canonical_tlsh,
    IndicatorType.FILENAME: canonical_single_line,
    IndicatorType.MUTEX: canonical_single_line,
    IndicatorType.REGKEY: canonical_regkey,
    IndicatorType.JA3: _hex_digest("JA3", 32),
    IndicatorType.CVE: canonical_cve,
    IndicatorType.ASN: canonical_asn,
    IndicatorType.BTC: canonical_bitcoin_address,
    IndicatorType.OTHER: canonical_free_text,
}
