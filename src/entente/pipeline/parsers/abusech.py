"""abuse.ch CSV exports, declared: URLhaus, Feodo Tracker, ThreatFox, SSL Blacklist.

All four share one layout: a block of `#` comment lines (title, "Last updated", terms of
use), the column names on the last of them (`# id,dateadded,url,...`), then quoted CSV
rows; Feodo Tracker ends with a `# Number of entries` comment. The columns are taken from
that comment line when it names the required columns (so a column abuse.ch adds later
lands in `extra.<name>`), else the declared ones. ThreatFox puts a space after each
comma (`"a", "b"`): it is removed before splitting (a value containing `", "` itself
would lose that space).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

from entente.pipeline.batches import StageOutput
from entente.pipeline.parsers.base import ParserOptions, check_options
from entente.pipeline.parsers.csv_reading import CsvLayout
from entente.pipeline.parsers.mapping import (
    FeedSpec,
    Rule,
    parse_csv_feed,
    published_header,
    rules,
)
from entente.pipeline.parsers.source_lines import HeaderStyle, TextLayout

PROVIDER = "abuse.ch"
_COMMENTED = TextLayout(comment_prefixes=("#",), header=HeaderStyle.COMMENTED)

URLHAUS = FeedSpec(
    name="urlhaus",
    title="URLhaus",
    provider=PROVIDER,
    header=published_header(
        "id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter"
    ),
    rules=rules(
        ("dateadded", "time.source", "add_utc"),
        ("url", "source.url"),
        ("url_status", "status"),
        ("urlhaus_link", "event_description.url"),
    ),
    constants=MappingProxyType(
        {"classification.taxonomy": "malicious-code", "classification.type": "malware-distribution"}
    ),
    required=("dateadded", "url"),
    documentation="https://urlhaus.abuse.ch/api/#csv",
)

FEODO_TRACKER = FeedSpec(
    name="feodotracker",
    title="Feodo Tracker",
    provider=PROVIDER,
    header=("first_seen_utc", "dst_ip", "dst_port", "c2_status", "last_online", "malware"),
    rules=rules(
        ("first_seen_utc", "time.source", "add_utc"),
        ("dst_ip", "source.ip"),
        ("dst_port", "source.port"),
        ("c2_status", "status"),
        ("malware", "malware.name", "lower"),
        ("malware", "classification.identifier", "lower"),
    ),
    constants=MappingProxyType(
        {"classification.taxonomy": "malicious-code", "classification.type": "c2-server"}
    ),
    required=("dst_ip",),
    documentation="https://feodotracker.abuse.ch/blocklist/",
)


def _ioc(field: str, ioc_type: str, convert: str = "keep") -> Rule:
    return Rule("ioc_value", field, convert, when=("ioc_type", ioc_type))


THREATFOX = FeedSpec(
    name="threatfox",
    title="ThreatFox",
    provider=PROVIDER,
    header=published_header(
        "first_seen_utc,ioc_id,ioc_value,ioc_type,threat_type,fk_malware,"
        "malware_alias,malware_printable,last_seen_utc,confidence_level,reference,"
        "tags,anonymous,reporter"
    ),
    rules=rules(
        ("first_seen_utc", "time.source", "add_utc"),
        _ioc("source.ip", "ip:port", "endpoint_host"),
        _ioc("source.port", "ip:port", "endpoint_port"),
        _ioc("source.fqdn", "domain"),
        _ioc("source.url", "url"),
        _ioc("malware.hash.md5", "md5_hash"),
        _ioc("malware.hash.sha1", "sha1_hash"),
        _ioc("malware.hash.sha256", "sha256_hash"),
        ("ioc_value", "extra.ioc_value"),
        (
            "threat_type",
            "classification.type",
            "lookup",
            (
                "botnet_cc=c2-server",
                "payload_delivery=malware-distribution",
                "payload=malware-distribution",
            ),
        ),
        ("threat_type", "extra.threat_type"),
        ("fk_malware", "classification.identifier", "placeholder_to_null"),
        ("malware_printable", "malware.name", "placeholder_to_null"),
        ("confidence_level", "feed.accuracy"),
    ),
    constants=MappingProxyType({"classification.type": "undetermined"}),
    required=("ioc_value", "ioc_type"),
    documentation="https://threatfox.abuse.ch/export/",
)

SSLBL = FeedSpec(
    name="sslbl",
    title="SSL Certificate Blacklist",
    provider=PROVIDER,
    header=("Listingdate", "SHA1", "Listingreason"),
    rules=rules(
        ("Listingdate", "time.source", "add_utc"),
        ("SHA1", "extra.certificate_sha1", "lower"),
        ("Listingreason", "event_description.text"),
    ),
    constants=MappingProxyType(
        {"classification.taxonomy": "malicious-code", "classification.type": "c2-server"}
    ),
    required=("SHA1",),
    documentation="https://sslbl.abuse.ch/blacklist/",
)

SSLBL_IP = FeedSpec(
    name="sslbl_ip",
    title="SSL Blacklist (botnet C2 IPs)",
    provider=PROVIDER,
    header=("Firstseen", "DstIP", "DstPort"),
    rules=rules(
        ("Firstseen", "time.source", "add_utc"),
        ("DstIP", "source.ip"),
        ("DstPort", "source.port"),
    ),
    constants=MappingProxyType(
        {"classification.taxonomy": "malicious-code", "classification.type": "c2-server"}
    ),
    required=("DstIP",),
    documentation="https://sslbl.abuse.ch/blacklist/",
)


@dataclass(frozen=True, slots=True)
class AbusechParser:
    """One abuse.ch CSV export, read with its declared spec."""

    spec: FeedSpec
    layout: CsvLayout
    options: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return self.spec.name

    def parse(self, path: Path, options: ParserOptions) -> Iterator[StageOutput]:
        check_options(options, self.options)
        yield from parse_csv_feed(path, self.layout, self.spec)


def _layout(spec: FeedSpec, text: TextLayout = _COMMENTED) -> CsvLayout:
    return CsvLayout(text, columns=spec.header, required=spec.required)


PARSERS = (
    AbusechParser(URLHAUS, _layout(URLHAUS)),
    AbusechParser(FEODO_TRACKER, _layout(FEODO_TRACKER)),
    AbusechParser(
        THREATFOX,
        _layout(THREATFOX, replace(_COMMENTED, replacements=((b'", "', b'","'),))),
    ),
    AbusechParser(SSLBL, _layout(SSLBL)),
    AbusechParser(SSLBL_IP, _layout(SSLBL_IP)),
)
"""The abuse.ch parsers, named after their specs."""
