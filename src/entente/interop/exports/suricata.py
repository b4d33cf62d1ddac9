"""Suricata rules (https://docs.suricata.io/en/latest/rules/) for the network indicators.

One rule per indicator and protocol, in the keywords of Suricata 5 and later: addresses and
networks as an `ip` rule in both directions; a domain as DNS query, TLS SNI and HTTP host,
itself or any subdomain (`dotprefix` + `endswith`); a host name the same, exactly (`bsize`);
a URL as its HTTP host and URI; a JA3 fingerprint as `ja3.hash`. Other types name nothing on
the wire and are left out. Each rule's `msg` names the event, `reference` links to it,
`metadata` carries the event's and indicator's UUIDs and TLP, and its sid is stable
(`rule_text.sid_of`). Values reach rules only through `rule_text`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from urllib.parse import urlsplit

from entente.interop.exports.rule_text import (
    content_string,
    message_text,
    reference_target,
    rule_line,
    sid_of,
)
from entente.interop.exports.selection import ExportedIndicator, Selection, indicator_chunks
from entente.sharing.indicators import IndicatorType

CLASSTYPE = "trojan-activity"
ADDRESS_TYPES = frozenset({IndicatorType.IPV4, IndicatorType.IPV6, IndicatorType.CIDR})
NAME_TYPES = frozenset({IndicatorType.DOMAIN, IndicatorType.HOSTNAME})
RULE_TYPES = ADDRESS_TYPES | NAME_TYPES | {IndicatorType.URL, IndicatorType.JA3}


def suricata_rules(selection: Selection, sid_base: int, base_url: str) -> Iterator[str]:
    """The rules file, a line at a time: a comment header, then the rules in indicator order."""
    yield "# Entente indicators as Suricata rules (Suricata 5 or later); see docs/exports.md\n"
    for chunk in indicator_chunks(selection):
        for indicator in chunk:
            message = f'msg:"{_message(indicator)}"'
            about = f"reference:url,{reference_target(base_url, indicator.event_id)}"
            metadata = _metadata(indicator)
            for slot, (header, matches) in enumerate(_detections(indicator)):
                options = [
                    message,
                    *matches,
                    about,
                    f"classtype:{CLASSTYPE}",
                    f"sid:{sid_of(sid_base, indicator.id, slot)}",
                    "rev:1",
                    metadata,
                ]
                yield rule_line(header, options) + "\n"


def _message(indicator: ExportedIndicator) -> str:
    return message_text(
        f"Entente event {indicator.event_id} {indicator.event_title}: "
        f"{indicator.type.label} {indicator.value}"
    )


def _metadata(indicator: ExportedIndicator) -> str:
    created = indicator.created_at.strftime("%Y_%m_%d")
    return (
        f"metadata:entente_event {indicator.event_uuid}, entente_indicator {indicator.uuid}, "
        f"tlp {indicator.tlp.value}, created_at {created}"
    )


def _detections(indicator: ExportedIndicator) -> list[tuple[str, list[str]]]:
    """(header, match options) of each rule the indicator makes; none for other types.

    A stored value is canonical, so it always parses; one that did not (an address that is
    no address, a URL with a broken host) makes no rule rather than stop the export.
    """
    try:
        return _rules_of(indicator)
    except ValueError:
        return []


def _rules_of(indicator: ExportedIndicator) -> list[tuple[str, list[str]]]:
    value = indicator.value
    if indicator.type in ADDRESS_TYPES:
        return [(f"alert ip $HOME_NET any <> {address_text(value)} any", [])]
    if indicator.type in NAME_TYPES:
        return _name_rules(value, exact=indicator.type is IndicatorType.HOSTNAME)
    if indicator.type is IndicatorType.URL:
        return _url_rules(value)
    if indicator.type is IndicatorType.JA3:
        tls = "alert tls $HOME_NET any -> $EXTERNAL_NET any"
        return [(tls, ["ja3.hash", f"content:{content_string(value)}"])]
    return []


def address_text(value: str) -> str:
    """The address or network as the rule header writes it, read back by `ipaddress`: a
    stored value is canonical already, and this keeps anything else out of a header."""
    network = ipaddress.ip_network(value, strict=False)
    single = network.prefixlen == network.max_prefixlen
    return str(network.network_address) if single else str(network)


def _name_match(name: str, exact: bool, nocase: bool) -> list[str]:
    """A buffer holding `name` exactly (its length fixed) or ending in it after a dot."""
    case = ["nocase"] if nocase else []
    if exact:
        return [f"content:{content_string(name)}", *case, f"bsize:{len(name.encode())}"]
    return ["dotprefix", f"content:{content_string('.' + name)}", *case, "endswith"]


def _name_rules(name: str, exact: bool) -> list[tuple[str, list[str]]]:
    # http.host is normalised to lower case by Suricata, and names are stored in lower case:
    # `nocase` there would only draw a rule-analysis warning.
    to_server = "flow:established,to_server"
    return [
        ("alert dns $HOME_NET any -> any any", ["dns.query", *_name_match(name, exact, True)]),
        (
            "alert tls $HOME_NET any -> $EXTERNAL_NET any",
            [to_server, "tls.sni", *_name_match(name, exact, True)],
        ),
        (
            "alert http $HOME_NET any -> $EXTERNAL_NET any",
            [to_server, "http.host", *_name_match(name, exact, False)],
        ),
    ]


def _url_rules(url: str) -> list[tuple[str, list[str]]]:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    uri = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    matches = ["flow:established,to_server"]
    if host:
        matches += ["http.host", *_name_match(host, exact=True, nocase=False)]
    matches += ["http.uri", f"content:{content_string(uri)}", "startswith"]
    return [("alert http $HOME_NET any -> $EXTERNAL_NET any", matches)]
