"""Snort rules for the network indicators, in the syntax of Snort 2.9 or Snort 3.

Both read the same rule header and most options; they differ in how a content match is
tied to a buffer (2.9: a modifier after the content, `content:"x"; http_uri;`; 3: a sticky
buffer before it, `http_uri; content:"x";`) and how `nocase` is attached. Snort 2.9 has no
DNS query buffer, so a domain or host name is matched as its wire form in the packet
(`rule_text.dns_wire_name`), as MISP's Snort export does; the same rule is valid in Snort 3.
Addresses and networks become `ip` rules in both directions. Sids are stable per indicator
(`rule_text.sid_of`); values reach rules only through `rule_text`.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from urllib.parse import urlsplit

from entente.interop.exports.rule_text import (
    content_string,
    dns_wire_name,
    message_text,
    reference_target,
    rule_line,
    sid_of,
)
from entente.interop.exports.selection import ExportedIndicator, Selection, indicator_chunks
from entente.interop.exports.suricata import ADDRESS_TYPES, CLASSTYPE, NAME_TYPES, address_text
from entente.sharing.indicators import IndicatorType

RULE_TYPES = ADDRESS_TYPES | NAME_TYPES | {IndicatorType.URL}


class SnortVersion(StrEnum):
    """Which Snort reads the rules."""

    V2 = "2.9"
    V3 = "3"


def snort_rules(
    selection: Selection, sid_base: int, base_url: str, version: SnortVersion
) -> Iterator[str]:
    """The rules file, a line at a time: a comment header, then the rules in indicator order."""
    yield f"# Entente indicators as Snort {version.value} rules; see docs/exports.md\n"
    for chunk in indicator_chunks(selection):
        for indicator in chunk:
            message = f'msg:"{_message(indicator)}"'
            about = f"reference:url,{reference_target(base_url, indicator.event_id)}"
            for slot, (header, matches) in enumerate(_detections(indicator, version)):
                options = [
                    message,
                    *matches,
                    about,
                    f"classtype:{CLASSTYPE}",
                    f"sid:{sid_of(sid_base, indicator.id, slot)}",
                    "rev:1",
                ]
                yield rule_line(header, options) + "\n"


def _message(indicator: ExportedIndicator) -> str:
    return message_text(
        f"Entente event {indicator.event_id} {indicator.event_title}: "
        f"{indicator.type.label} {indicator.value}"
    )


def _content(quoted: str, version: SnortVersion, buffer: str | None = None) -> list[str]:
    """A case-insensitive content match, in `buffer` when given, written for `version`."""
    if version is SnortVersion.V2:
        return [f"content:{quoted}", "nocase", *([buffer] if buffer else [])]
    return [*([buffer] if buffer else []), f"content:{quoted},nocase"]


def _detections(indicator: ExportedIndicator, version: SnortVersion) -> list[tuple[str, list[str]]]:
    value = indicator.value
    if indicator.type in ADDRESS_TYPES:
        return [(f"alert ip $HOME_NET any <> {address_text(value)} any", [])]
    if indicator.type in NAME_TYPES:
        dns = ("alert udp $HOME_NET any -> any 53", _content(dns_wire_name(value), version))
        return [dns, _http(value, [], version)]
    if indicator.type is IndicatorType.URL:
        parts = urlsplit(value)
        uri = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return [_http((parts.hostname or "").lower(), [uri], version)]
    return []


def _http(host: str, uris: list[str], version: SnortVersion) -> tuple[str, list[str]]:
    """An HTTP request to `host` (and `uris`, when given) from the home network."""
    matches = ["flow:established,to_server"]
    if version is SnortVersion.V2:
        header = "alert tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS"
        if host:
            matches += _content(content_string(f"Host: {host}"), version, "http_header")
        for uri in uris:
            matches += _content(content_string(uri), version, "http_uri")
        return header, matches
    header = "alert http $HOME_NET any -> $EXTERNAL_NET any"
    if host:
        matches += _content(content_string(host), version, "http_header:field host")
    for uri in uris:
        matches += _content(content_string(uri), version, "http_uri")
    return header, matches
