"""A DNS Response Policy Zone (draft-vixie-dnsop-dns-rpz) for BIND, Unbound, Knot Resolver or
PowerDNS Recursor: resolvers then refuse to resolve the shared names.

The zone is a master file: `$TTL`, an SOA (its serial the export's time, so a changed export
is a newer zone and an unchanged one, served from the cache, keeps its serial), an NS, then
one trigger per value with the chosen policy:

- a domain: the name and every name below it (`example.com` and `*.example.com`);
- a host name: that name only;
- an address or network: a response carrying it (`32.7.100.51.198.rpz-ip`, IPv6 with `zz`
  for the longest zero run, as the draft writes it).

Policies: NXDOMAIN (`CNAME .`), NODATA (`CNAME *.`), or drop (`CNAME rpz-drop.`). A value
that is not a valid DNS name (a label over 63 bytes, a character outside letters, digits,
`-` and `_`, a name too long once the zone is appended) is left out: the zone must load.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from enum import StrEnum

from entente.core.errors import BadValue
from entente.interop.exports.selection import Selection, distinct_values
from entente.sharing.indicators import IndicatorType

RPZ_TYPES = frozenset(
    {
        IndicatorType.DOMAIN,
        IndicatorType.HOSTNAME,
        IndicatorType.IPV4,
        IndicatorType.IPV6,
        IndicatorType.CIDR,
    }
)
DEFAULT_ZONE = "rpz.entente.local"
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}")
_MAX_NAME = 253  # bytes of a name in text form without the final dot (RFC 1035 section 3.1)
TTL = 300


class RpzPolicy(StrEnum):
    """What a resolver answers for a listed name."""

    NXDOMAIN = "nxdomain"
    NODATA = "nodata"
    DROP = "drop"

    @property
    def target(self) -> str:
        return {"nxdomain": ".", "nodata": "*.", "drop": "rpz-drop."}[self.value]


def check_zone(zone: str) -> str:
    """The zone's origin, lower case without the final dot; `BadValue(field="rpz_zone")`."""
    name = zone.strip().rstrip(".").lower()
    if not is_dns_name(name):
        raise BadValue(f"{zone!r} is not a DNS zone name", field="rpz_zone", value=zone)
    return name


def is_dns_name(name: str) -> bool:
    """True for a name of valid labels (letters, digits, `-`, `_`), at most 253 bytes."""
    return (
        0 < len(name) <= _MAX_NAME
        and name.isascii()
        and all(_LABEL.fullmatch(label) for label in name.split("."))
    )


def rpz_zone(selection: Selection, zone: str, policy: RpzPolicy) -> Iterator[str]:
    """The zone file, a line at a time (`zone` as `check_zone` returns it)."""
    serial = int(selection.now.timestamp()) % 2**32
    yield f"; Entente indicators as a response policy zone; see docs/exports.md\n$TTL {TTL}\n"
    yield f"@ IN SOA localhost. hostmaster.{zone}. {serial} 3600 600 604800 {TTL}\n"
    yield "@ IN NS localhost.\n"
    for indicator_type, value in distinct_values(selection):
        for owner in _triggers(indicator_type, value):
            if is_dns_name(owner.removeprefix("*.")) and len(owner) + 1 + len(zone) <= _MAX_NAME:
                yield f"{owner} IN CNAME {policy.target}\n"


def _triggers(indicator_type: IndicatorType, value: str) -> list[str]:
    """Owner names (relative to the zone) that make the resolver apply the policy."""
    if indicator_type is IndicatorType.DOMAIN:
        return [value, f"*.{value}"] if is_dns_name(value) else []
    if indicator_type is IndicatorType.HOSTNAME:
        return [value]
    if indicator_type in (IndicatorType.IPV4, IndicatorType.IPV6, IndicatorType.CIDR):
        try:
            return [rpz_ip_name(ipaddress.ip_network(value, strict=False))]
        except ValueError:  # never a stored (canonical) value: no trigger, not a failed export
            return []
    return []


def rpz_ip_name(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    """The `rpz-ip` trigger of a network: prefix length, then the address reversed."""
    text = str(network.network_address)
    if ":" not in text:
        parts = text.split(".")
    elif "::" in text:
        head, tail = text.split("::")
        parts = [*filter(None, head.split(":")), "zz", *filter(None, tail.split(":"))]
    else:
        parts = text.split(":")
    return ".".join([str(network.prefixlen), *reversed(parts), "rpz-ip"])
