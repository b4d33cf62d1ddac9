"""Canonical forms of network indicators: IP addresses, CIDR blocks, domain names, URLs, e-mail.

Each function takes a stripped, refanged value and returns its canonical text, or raises
ValueError with a reason a person can act on; `canonical.canonicalise` turns that into BadValue.
"""

from __future__ import annotations

import ipaddress
import re
from string import ascii_letters, digits
from urllib.parse import quote

import idna
from email_validator import validate_email

MAX_DOMAIN_LENGTH = 253

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_TOP_LEVEL_LABEL = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")
# UTS 46 treats these full stops as label separators, as browsers do.
_DOT_LIKE = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_IPV4_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_IPV4 = re.compile(rf"(?:{_IPV4_OCTET}\.){{3}}{_IPV4_OCTET}")
# The common case, checked in one regex; anything else takes the label-by-label path.
_PLAIN_ASCII_DOMAIN = re.compile(r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z]{2,63}")
# RFC 5322 dot-atom local part in ASCII: the common case, checked without email-validator.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_EMAIL = re.compile(rf"(?P<local>{_ATEXT}(?:\.{_ATEXT})*)@(?P<domain>[^@\s]+)")
_MAX_LOCAL_PART = 64
_DOTTED_NUMBERS = re.compile(r"[0-9.]+")
_PREFIX_LENGTH = re.compile(r"[0-9]{1,3}")
_PORT = re.compile(r"[0-9]{1,5}")
_MAX_PORT = 65535


def canonical_ipv4(value: str) -> str:
    """Dotted quad; `ipaddress` already refuses octets above 255 and ambiguous leading zeros."""
    if _CANONICAL_IPV4.fullmatch(value):
        return value
    return str(ipaddress.IPv4Address(value))


def canonical_ipv6(value: str) -> str:
    """RFC 5952 text: lower case, longest zero run compressed, IPv4-mapped as ::ffff:a.b.c.d."""
    text = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    if "%" in text:
        raise ValueError("a zone index (%...) only means something on one host")
    return _ipv6_text(ipaddress.IPv6Address(text))


def _ipv6_text(address: ipaddress.IPv6Address) -> str:
    # RFC 5952 section 5 writes IPv4-mapped addresses with a dotted quad; Python < 3.13 does not.
    mapped = address.ipv4_mapped
    return f"::ffff:{mapped}" if mapped is not None else address.compressed


def canonical_cidr(value: str) -> str:
    """Network address and prefix length; host bits are cleared (10.1.2.3/8 -> 10.0.0.0/8)."""
    address, slash, prefix = value.partition("/")
    if not slash:
        raise ValueError("a CIDR block needs a /prefix; a single address is an ipv4 or ipv6")
    if not _PREFIX_LENGTH.fullmatch(prefix):
        raise ValueError(f"prefix length {prefix!r} is not a number")
    if ":" not in address:
        return str(ipaddress.IPv4Network(f"{address}/{int(prefix)}", strict=False))
    if "%" in address:
        raise ValueError("a zone index (%...) only means something on one host")
    network = ipaddress.IPv6Network(f"{address}/{int(prefix)}", strict=False)
    return f"{_ipv6_text(network.network_address)}/{network.prefixlen}"


def canonical_domain(value: str) -> str:
    """Lower-case IDNA A-labels without the root dot; at least two labels, letters in the TLD."""
    name = value.translate(_DOT_LIKE).removesuffix(".")
    lowered = name.lower()
    plain = _PLAIN_ASCII_DOMAIN.fullmatch(lowered) and "xn--" not in lowered
    if plain and len(lowered) <= MAX_DOMAIN_LENGTH:
        return lowered
    labels = name.split(".")
    if len(labels) < 2:
        raise ValueError("a domain name has at least two labels, like example.org")
    ascii_labels = [_a_label(label) for label in labels]
    top = ascii_labels[-1]
    if not _TOP_LEVEL_LABEL.fullmatch(top):
        if top.isdigit():
            raise ValueError("it looks like an IP address, not a domain name")
        raise ValueError(f"top-level label {top!r} must be letters or an xn-- label")
    canonical = ".".join(ascii_labels)
    if len(canonical) > MAX_DOMAIN_LENGTH:
        raise ValueError(f"a domain name has at most {MAX_DOMAIN_LENGTH} characters")
    return canonical


def _a_label(label: str) -> str:
    if not label:
        raise ValueError("it has an empty label (two dots in a row?)")
    if not label.isascii():
        return _idna_label(label)
    lowered = label.lower()
    # Underscores are not valid in host names, but DNS allows them and malware uses them.
    if not _LABEL.fullmatch(lowered):
        raise ValueError(
            f"label {label!r} must be 1-63 letters, digits, hyphens or underscores"
            " and may not start or end with a hyphen"
        )
    if lowered.startswith("xn--"):
        try:
            lowered[4:].encode("ascii").decode("punycode")
        except UnicodeError:
            raise ValueError(f"label {label!r} is not valid punycode") from None
    return lowered


def _idna_label(label: str) -> str:
    try:
        encoded = idna.encode(label, uts46=True).decode("ascii")
    except idna.IDNAError:
        # IDNA 2003 still encodes names IDNA 2008 refuses (emoji, symbols). Such names are
        # registered and used for phishing, so they must be recordable.
        try:
            encoded = label.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"label {label!r} cannot be encoded with IDNA: {exc}") from None
    if "." in encoded or not _LABEL.fullmatch(encoded):
        raise ValueError(f"label {label!r} does not encode to a valid DNS label")
    return encoded


_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)"
    r"(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?(?:#(?P<fragment>.*))?",
    re.DOTALL,
)
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}
_UNRESERVED = frozenset(ascii_letters + digits + "-._~")
# RFC 3986 sub-delims minus ( and ): those are percent-encoded so that no canonical URL
# contains a defanging marker such as "(.)", which would make refanging change it again.
_SUB_DELIMS = "!$&'*+,;="


def _unsafe_characters(safe: str) -> re.Pattern[str]:
    allowed = "".join(sorted(_UNRESERVED)) + safe + "%"
    return re.compile(f"[^{re.escape(allowed)}]")


_UNSAFE_IN_PATH = _unsafe_characters(_SUB_DELIMS + ":@/")
_UNSAFE_IN_QUERY = _unsafe_characters(_SUB_DELIMS + ":@/?")
_UNSAFE_IN_USERINFO = _unsafe_characters(_SUB_DELIMS + ":")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def canonical_url(value: str) -> str:
    """RFC 3986 section 6 normal form: case, percent-encoding, default port, empty path."""
    match = _URL.fullmatch(value)
    if match is None:
        raise ValueError("a URL needs a scheme and a host, like https://example.org/")
    scheme = match["scheme"].lower()
    canonical = f"{scheme}://{_canonical_authority(match['authority'], scheme)}"
    canonical += _percent_normalised(match["path"] or "/", _UNSAFE_IN_PATH)
    # An empty "?" or "#" changes nothing a server sees, so it is dropped.
    if match["query"]:
        canonical += "?" + _percent_normalised(match["query"], _UNSAFE_IN_QUERY)
    if match["fragment"]:
        canonical += "#" + _percent_normalised(match["fragment"], _UNSAFE_IN_QUERY)
    return canonical


def _canonical_authority(authority: str, scheme: str) -> str:
    userinfo, at, host_and_port = authority.rpartition("@")
    host, port = _split_port(host_and_port)
    if not host:
        raise ValueError("the URL has no host")
    try:
        canonical_host = _canonical_url_host(host)
    except ValueError as exc:
        raise ValueError(f"host {host!r}: {exc}") from None
    user_part = _percent_normalised(userinfo, _UNSAFE_IN_USERINFO) + "@" if at else ""
    return f"{user_part}{canonical_host}{_canonical_port(port, scheme)}"


def _split_port(host_and_port: str) -> tuple[str, str]:
    if host_and_port.startswith("["):
        end = host_and_port.find("]")
        if end == -1:
            raise ValueError("the URL host opens a [ it never closes")
        host, rest = host_and_port[: end + 1], host_and_port[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError(f"unexpected {rest!r} after the URL host")
        return host, rest[1:]
    host, _, port = host_and_port.partition(":")
    return host, port


def _canonical_url_host(host: str) -> str:
    if host.startswith("["):
        return f"[{canonical_ipv6(host)}]"
    if _DOTTED_NUMBERS.fullmatch(host):
        return canonical_ipv4(host)
    return canonical_domain(host)


def _canonical_port(port: str, scheme: str) -> str:
    if not port:
        return ""
    if not _PORT.fullmatch(port) or int(port) > _MAX_PORT:
        raise ValueError(f"port {port!r} is not a number from 0 to {_MAX_PORT}")
    number = int(port)
    return "" if _DEFAULT_PORTS.get(scheme) == number else f":{number}"


def _percent_normalised(text: str, unsafe: re.Pattern[str]) -> str:
    """Escapes upper-cased, escaped unreserved characters decoded, everything unsafe escaped."""
    if "%" in text:
        text = _STRAY_PERCENT.sub("%25", text)
        text = _ESCAPE.sub(_normalised_escape, text)
    return unsafe.sub(_escaped_character, text)


def _normalised_escape(match: re.Match[str]) -> str:
    character = chr(int(match[1], 16))
    return character if character in _UNRESERVED else f"%{match[1].upper()}"


def _escaped_character(match: re.Match[str]) -> str:
    return quote(match[0], safe="")


def canonical_email(value: str) -> str:
    """Local part as written (it is case-sensitive in RFC 5321), domain in canonical form."""
    plain = _PLAIN_EMAIL.fullmatch(value)
    if plain and len(plain["local"]) <= _MAX_LOCAL_PART:
        return f"{plain['local']}@{canonical_domain(plain['domain'])}"
    # Unicode local parts have rules of their own (RFC 6531); email-validator knows them.
    result = validate_email(value, check_deliverability=False, globally_deliverable=False)
    return f"{result.local_part}@{canonical_domain(result.ascii_domain)}"
