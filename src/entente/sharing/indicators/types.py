"""The indicator types and categories, each value carrying its label and description.

Categories follow MISP's attribute categories (https://www.misp-project.org/datamodels/
#attribute-categories) so that MISP users recognise them and MISP JSON maps one to one by label.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from entente.core.errors import BadValue


class Category(StrEnum):
    """Why an indicator matters: the MISP attribute category, stored as a snake_case value."""

    NETWORK_ACTIVITY = "network_activity"
    PAYLOAD_DELIVERY = "payload_delivery"
    PAYLOAD_INSTALLATION = "payload_installation"
    ARTIFACTS_DROPPED = "artifacts_dropped"
    PERSISTENCE_MECHANISM = "persistence_mechanism"
    EXTERNAL_ANALYSIS = "external_analysis"
    FINANCIAL_FRAUD = "financial_fraud"
    ATTRIBUTION = "attribution"
    TARGETING_DATA = "targeting_data"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _CATEGORY_LABELS[self]


_CATEGORY_LABELS = {
    Category.NETWORK_ACTIVITY: "Network activity",
    Category.PAYLOAD_DELIVERY: "Payload delivery",
    Category.PAYLOAD_INSTALLATION: "Payload installation",
    Category.ARTIFACTS_DROPPED: "Artifacts dropped",
    Category.PERSISTENCE_MECHANISM: "Persistence mechanism",
    Category.EXTERNAL_ANALYSIS: "External analysis",
    Category.FINANCIAL_FRAUD: "Financial fraud",
    Category.ATTRIBUTION: "Attribution",
    Category.TARGETING_DATA: "Targeting data",
    Category.OTHER: "Other",
}


class IndicatorType(StrEnum):
    """What an indicator's value is; the value decides how it is validated and canonicalised."""

    IPV4 = "ipv4"
    IPV6 = "ipv6"
    CIDR = "cidr"
    DOMAIN = "domain"
    HOSTNAME = "hostname"
    URL = "url"
    EMAIL_SRC = "email-src"
    EMAIL_SUBJECT = "email-subject"
    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"
    SSDEEP = "ssdeep"
    TLSH = "tlsh"
    FILENAME = "filename"
    MUTEX = "mutex"
    REGKEY = "regkey"
    JA3 = "ja3"
    CVE = "cve"
    ASN = "asn"
    BTC = "btc"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _TYPE_META[self].label

    @property
    def default_category(self) -> Category:
        return _TYPE_META[self].default_category

    @property
    def description(self) -> str:
        return _TYPE_META[self].description

    @property
    def example(self) -> str:
        """A valid value in canonical form, for placeholders, docs and tests."""
        return _TYPE_META[self].example


class _TypeMeta(NamedTuple):
    label: str
    default_category: Category
    description: str
    example: str


_NET = Category.NETWORK_ACTIVITY
_DELIVERY = Category.PAYLOAD_DELIVERY
_DROPPED = Category.ARTIFACTS_DROPPED

_TYPE_META = {
    IndicatorType.IPV4: _TypeMeta(
        "IPv4 address", _NET, "A single IPv4 address in dotted-quad form.", "198.51.100.7"
    ),
    IndicatorType.IPV6: _TypeMeta(
        "IPv6 address", _NET, "A single IPv6 address, stored in RFC 5952 form.", "2001:db8::7"
    ),
    IndicatorType.CIDR: _TypeMeta(
        "CIDR block", _NET, "An IPv4 or IPv6 network with its prefix length.", "203.0.113.0/24"
    ),
    IndicatorType.DOMAIN: _TypeMeta(
        "Domain", _NET, "A registered domain name, stored as IDNA A-labels.", "example.com"
    ),
    IndicatorType.HOSTNAME: _TypeMeta(
        "Hostname", _NET, "A fully qualified host name below a domain.", "mail.example.com"
    ),
    IndicatorType.URL: _TypeMeta(
        "URL", _NET, "An absolute URL with a host.", "https://example.com/login.php"
    ),
    IndicatorType.EMAIL_SRC: _TypeMeta(
        "Sender e-mail address",
        _DELIVERY,
        "The From address of a malicious e-mail.",
        "billing@example.com",
    ),
    IndicatorType.EMAIL_SUBJECT: _TypeMeta(
        "E-mail subject", _DELIVERY, "The subject line of a malicious e-mail.", "Invoice overdue"
    ),
    IndicatorType.MD5: _TypeMeta(
        "MD5",
        _DELIVERY,
        "MD5 digest of a file (32 hex digits).",
        "d41d8cd98f00b204e9800998ecf8427e",
    ),
    IndicatorType.SHA1: _TypeMeta(
        "SHA-1",
        _DELIVERY,
        "SHA-1 digest of a file (40 hex digits).",
        "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    ),
    IndicatorType.SHA256: _TypeMeta(
        "SHA-256",
        _DELIVERY,
        "SHA-256 digest of a file (64 hex digits).",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ),
    IndicatorType.SSDEEP: _TypeMeta(
        "ssdeep",
        _DELIVERY,
        "Context-triggered piecewise hash: blocksize:hash:hash.",
        "96:s4Ud1Lj96tHHlZDrwciQmA:s4Ud1L5qpPNnFXTKpdhhgV",
    ),
    IndicatorType.TLSH: _TypeMeta(
        "TLSH",
        _DELIVERY,
        "Trend Micro locality-sensitive hash (T1 and 70 hex digits).",
        "T1" + "A" * 70,
    ),
    IndicatorType.FILENAME: _TypeMeta(
        "File name", _DROPPED, "A file name or path as seen on a host.", "invoice_2024.pdf.exe"
    ),
    IndicatorType.MUTEX: _TypeMeta(
        "Mutex", _DROPPED, "A named mutex created by malware.", "Global\\evil-mutex-01"
    ),
    IndicatorType.REGKEY: _TypeMeta(
        "Registry key",
        Category.PERSISTENCE_MECHANISM,
        "A Windows registry key, full hive name.",
        "HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run",
    ),
    IndicatorType.JA3: _TypeMeta(
        "JA3 fingerprint",
        _NET,
        "MD5 of a TLS client hello (32 hex digits).",
        "e7d705a3286e19ea42f587b344ee6865",
    ),
    IndicatorType.CVE: _TypeMeta(
        "CVE",
        Category.EXTERNAL_ANALYSIS,
        "A CVE identifier of an exploited vulnerability.",
        "CVE-2021-44228",
    ),
    IndicatorType.ASN: _TypeMeta(
        "Autonomous system", _NET, "An autonomous system number.", "AS64496"
    ),
    IndicatorType.BTC: _TypeMeta(
        "Bitcoin address",
        Category.FINANCIAL_FRAUD,
        "A mainnet Bitcoin address (base58 or bech32).",
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
    ),
    IndicatorType.OTHER: _TypeMeta(
        "Other", Category.OTHER, "Free text for anything no other type covers.", "any text"
    ),
}


def parse_indicator_type(name: str) -> IndicatorType:
    """The type called `name`, or BadValue(field="type") listing the known ones."""
    try:
        return IndicatorType(name.strip().lower())
    except ValueError:
        known = ", ".join(t.value for t in IndicatorType)
        raise BadValue(
            f"unknown indicator type {name!r}; known types: {known}", field="type", value=name
        ) from None
