"""Canonical text of constituency values, so one prefix, AS number or domain is stored once.

Each kind has one spelling: prefixes as `ipaddress` writes them (RFC 5952 for IPv6), AS
numbers as the plain number (what IntelMQ's `source.asn` holds), domains as lower-case IDNA
A-labels without the root dot, countries as ISO 3166-1 alpha-2 upper case. A value that
cannot be read raises `BadValue` naming the field `value`, with a reason a person can act on.

Prefix and domain rules are those of indicators (`sharing/indicators/network.py`), so the
routing index and the shared indicators agree on what a value is.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from entente.core.errors import BadValue
from entente.members.choices import ConstituencyKind
from entente.sharing.indicators.addresses import network_range
from entente.sharing.indicators.canonical import canonical_asn
from entente.sharing.indicators.network import canonical_domain

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Space no feed can attribute to one organisation: a constituency overlapping it would catch
# every private or local address of every report (RFC 6890 special-purpose registries).
_NOT_ROUTABLE: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(network), reason)
    for network, reason in (
        ("0.0.0.0/8", "'this network' (RFC 791)"),
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("100.64.0.0/10", "carrier-grade NAT (RFC 6598)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/127", "unspecified and loopback"),
        ("::ffff:0:0/96", "IPv4-mapped (declare the IPv4 prefix instead)"),
        ("fc00::/7", "unique local (RFC 4193)"),
        ("fe80::/10", "link-local"),
        ("ff00::/8", "multicast"),
    )
)
# The longest an A-label domain may be, and so the longest value of any kind.
MAX_VALUE_LENGTH = 253
# Sort keys start with the kind's place in routing order, so one sorted column lists
# prefixes, then AS numbers, then domains, then countries.
_RANK = {kind: str(place) for place, kind in enumerate(ConstituencyKind, start=1)}
_FINGERPRINT_SEPARATORS = re.compile(r"[\s:]+")
_FINGERPRINT = re.compile(r"[0-9A-F]{40}")


@dataclass(frozen=True, slots=True)
class CanonicalValue:
    """A value as stored: its text, its sort key, and for prefixes the address range."""

    value: str
    sort_key: str
    net_low: str | None = None
    net_high: str | None = None


def canonical_value(kind: ConstituencyKind, raw: str) -> CanonicalValue:
    """The stored form of `raw` as a `kind`; country codes are checked by the service."""
    text = raw.strip()
    if not text:
        raise BadValue(f"give the {kind.label.lower()}", field="value", value=raw)
    if len(text) > MAX_VALUE_LENGTH:
        raise BadValue(
            f"at most {MAX_VALUE_LENGTH} characters", field="value", value=text[:40] + "…"
        )
    if kind is ConstituencyKind.PREFIX:
        return _prefix(text)
    if kind is ConstituencyKind.ASN:
        return _asn(text)
    if kind is ConstituencyKind.DOMAIN:
        return _domain(text)
    code = text.upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise BadValue(
            "a country is its ISO 3166-1 alpha-2 code, like GH", field="value", value=raw
        )
    return CanonicalValue(code, _RANK[kind] + code)


def parse_prefix(text: str) -> IPNetwork:
    """A prefix as written; host bits set is refused (192.0.2.1/24 is most likely a typo)."""
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        if "has host bits set" in str(exc):
            meant = ipaddress.ip_network(text, strict=False)
            raise BadValue(
                f"{text} has host bits set; the prefix is written {meant}",
                field="value",
                value=text,
            ) from exc
        raise BadValue(
            "not an IP prefix; write it as 192.0.2.0/24 or 2001:db8::/32",
            field="value",
            value=text,
        ) from exc


def prefix_value(network: IPNetwork) -> CanonicalValue:
    """The stored form of a parsed prefix, refusing space no feed attributes to anyone."""
    for special, reason in _NOT_ROUTABLE:
        if network.version == special.version and network.overlaps(special):
            raise BadValue(
                f"{network} overlaps {special}, which is {reason} address space",
                field="value",
                value=str(network),
            )
    text = str(network)
    addresses = network_range(text)
    sort_key = f"{_RANK[ConstituencyKind.PREFIX]}{addresses.low}{network.prefixlen:03d}"
    return CanonicalValue(text, sort_key, addresses.low, addresses.high)


def _prefix(text: str) -> CanonicalValue:
    if "%" in text:
        raise BadValue("a zone index (%...) only means something on one host", field="value")
    return prefix_value(parse_prefix(text))


def _asn(text: str) -> CanonicalValue:
    try:
        number = int(canonical_asn(text).removeprefix("AS"))
    except ValueError as exc:
        raise BadValue(str(exc), field="value", value=text) from exc
    # RFC 6793: AS_TRANS stands in for any 4-byte AS on old routers; it is nobody's network.
    if number == 23456:
        raise BadValue("AS23456 is AS_TRANS (RFC 6793), not a network", field="value", value=text)
    return CanonicalValue(str(number), f"{_RANK[ConstituencyKind.ASN]}{number:010d}")


def _domain(text: str) -> CanonicalValue:
    name = text.removeprefix("*.")
    if "://" in name or "/" in name or "@" in name:
        raise BadValue(
            "a domain is a bare name like example.org: no scheme, path or e-mail address",
            field="value",
            value=text,
        )
    try:
        domain = canonical_domain(name)
    except ValueError as exc:
        raise BadValue(str(exc), field="value", value=text) from exc
    # Parent before child: example.org, then mail.example.org, then www.example.org.
    parent_first = ".".join(reversed(domain.split(".")))
    return CanonicalValue(domain, _RANK[ConstituencyKind.DOMAIN] + parent_first)


def canonical_fingerprint(raw: str) -> str:
    """An OpenPGP v4 fingerprint as 40 upper-case hex digits; spaces and colons are dropped.

    Short (8 or 16 digit) key ids are refused: they collide, and forged keys with a chosen
    short id exist (the "Evil32" keys), so they cannot say which key to encrypt to.
    """
    text = _FINGERPRINT_SEPARATORS.sub("", raw).upper().removeprefix("0X")
    if _FINGERPRINT.fullmatch(text):
        return text
    if re.fullmatch(r"[0-9A-F]{8}|[0-9A-F]{16}", text):
        raise ValueError("give the full 40-digit fingerprint; short key ids can be forged")
    raise ValueError("a PGP fingerprint is 40 hexadecimal digits")
