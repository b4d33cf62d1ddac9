"""Address ranges of ip and cidr indicators, in a form every database can compare.

Correlation ("this address is inside that network") and search ("everything in
192.0.2.0/24") need range comparisons that use an index on SQLite and PostgreSQL alike. Each
ip or cidr value is stored as its lowest and highest address in fixed-width lower-case hex
(32 digits, IPv4 mapped into ::ffff:0:0/96 as RFC 4291 section 2.5.5.2 does), so text order
is address order and containment is two string comparisons.

An open-ended range condition ("the networks whose low end is below this address") still
scans, so ranges also carry a *bucket*: the first bits of the address (/16 for IPv4, /32 for
IPv6). An address and every network of at least that length containing it share the bucket,
which turns the common case into an equality join; only the few wider networks are compared
by range alone.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

from entente.core.errors import BadValue
from entente.sharing.indicators.types import IndicatorType

_IPV4_MAPPED = 0xFFFF << 32
_IPV4_OFFSET = 96  # bits before an IPv4 address once mapped into IPv6
_BUCKET_BITS = {4: _IPV4_OFFSET + 16, 6: 32}
IPV4_MAPPED_HEX = f"{_IPV4_MAPPED:032x}"[:24]
"""How the hex range of every IPv4 address or network starts."""
COARSE_HEX_DIGITS = {4: (_IPV4_OFFSET + 8) // 4, 6: 16 // 4}
"""Hex digits of the coarse bucket by IP version (/8, /16): networks wider than a bucket
but inside a coarse one are joined on it (`sharing.correlation`)."""
ADDRESS_TYPES = frozenset({IndicatorType.IPV4, IndicatorType.IPV6, IndicatorType.CIDR})
# A canonical IPv4 value (no leading zeros, octets up to 255): read without `ipaddress`.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")


@dataclass(frozen=True, slots=True)
class AddressRange:
    """First and last address as 32 hex digits; `bucket` is None for networks wider than it."""

    low: str
    high: str
    bucket: str | None


def address_range(indicator_type: IndicatorType, value: str) -> AddressRange | None:
    """The range of an ip or cidr indicator's canonical value; None for every other type."""
    if indicator_type not in ADDRESS_TYPES:
        return None
    if indicator_type is IndicatorType.IPV4 and _DOTTED_QUAD.fullmatch(value):
        # Four in ten shared indicators are IPv4 addresses: parsing them with `ipaddress`
        # was a tenth of a bulk add. Same result as `network_range` for a /32.
        low_hex = f"{int.from_bytes(socket.inet_aton(value), 'big') | _IPV4_MAPPED:032x}"
        return AddressRange(low_hex, low_hex, low_hex[: _BUCKET_BITS[4] // 4])
    return network_range(value)


def network_range(value: str) -> AddressRange:
    """The range of an address or network in any spelling `ipaddress` reads."""
    try:
        network = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError as exc:
        raise BadValue("not an IP address or CIDR network", field="cidr", value=value) from exc
    low, high = int(network.network_address), int(network.broadcast_address)
    prefix = network.prefixlen
    if network.version == 4:
        low, high, prefix = low | _IPV4_MAPPED, high | _IPV4_MAPPED, prefix + _IPV4_OFFSET
    bucket_bits = _BUCKET_BITS[network.version]
    low_hex = f"{low:032x}"
    bucket = low_hex[: bucket_bits // 4] if prefix >= bucket_bits else None
    return AddressRange(low_hex, f"{high:032x}", bucket)
