"""Shadowserver reports, declared: one `FeedSpec` per report type (STYLE habit 3).

A report is recognised by its type in the file name (`2026-11-20-scan_http-nl-geo.csv`
is `scan_http`; see `shadowserver.report_for`). Each spec lists the report's columns as
Shadowserver publishes them, the rules mapping them to vocabulary fields, and the
constants (classification, protocol) the report implies. Columns no rule reads (NAICS
codes, HTTP headers, certificate details, ...) go to `extra.<column>`, as do columns
Shadowserver adds later.

Mapping facts (column names, which column feeds which field) follow IntelMQ's Shadowserver
configuration (IntelMQ 2.3-3.5, `intelmq/bots/parsers/shadowserver`). Classification
follows RSIT, using its own examples where it gives one: open DNS resolvers are
`ddos-amplifier`, FREAK-vulnerable TLS is `weak-crypto`, accessible Telnet and RDP are
`potentially-unwanted-accessible`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from entente.pipeline.parsers.mapping import FeedSpec, published_header, rules

PROVIDER = "Shadowserver"
_DOCS = "https://www.shadowserver.org/what-we-do/network-reporting/"

# --- column groups shared by many reports -----------------------------------------------

_SCANNED_HOST = (
    ("timestamp", "time.source", "add_utc"),
    ("ip", "source.ip"),
    ("port", "source.port"),
    ("hostname", "source.reverse_dns"),
    ("asn", "source.asn", "zero_to_null"),
    ("geo", "source.geolocation.cc"),
    ("region", "source.geolocation.region"),
    ("city", "source.geolocation.city"),
)
_EVENT_SOURCE = (
    ("timestamp", "time.source", "add_utc"),
    ("protocol", "protocol.transport", "lower"),
    ("src_ip", "source.ip"),
    ("src_port", "source.port"),
    ("src_asn", "source.asn", "zero_to_null"),
    ("src_geo", "source.geolocation.cc"),
    ("src_region", "source.geolocation.region"),
    ("src_city", "source.geolocation.city"),
    ("src_hostname", "source.reverse_dns"),
)
_EVENT_DESTINATION = (
    ("dst_ip", "destination.ip"),
    ("dst_port", "destination.port"),
    ("dst_asn", "destination.asn", "zero_to_null"),
    ("dst_geo", "destination.geolocation.cc"),
    ("dst_region", "destination.geolocation.region"),
    ("dst_city", "destination.geolocation.city"),
    ("dst_hostname", "destination.reverse_dns"),
)
_EVENT4_HEADER = published_header(
    "timestamp,protocol,src_ip,src_port,src_asn,src_geo,src_region,src_city,src_hostname,"
    "src_naics,src_sector,device_vendor,device_type,device_model,dst_ip,dst_port,dst_asn,"
    "dst_geo,dst_region,dst_city,dst_hostname,dst_naics,dst_sector,public_source,"
    "infection,family,tag,application,version,event_id"
)
_CERTIFICATE = published_header(
    "cert_length,subject_common_name,issuer_common_name,cert_issue_date,"
    "cert_expiration_date,sha1_fingerprint,cert_serial_number"
)
_CERTIFICATE_NAMES = published_header(
    "subject_organization_name,subject_organization_unit_name,subject_country,"
    "subject_state_or_province_name,subject_locality_name,subject_street_address,"
    "subject_postal_code,subject_surname,subject_given_name,subject_email_address,"
    "subject_business_category,subject_serial_number,issuer_organization_name,"
    "issuer_organization_unit_name,issuer_country,issuer_state_or_province_name,"
    "issuer_locality_name,issuer_street_address,issuer_postal_code,issuer_surname,"
    "issuer_given_name,issuer_email_address,issuer_business_category,"
    "issuer_serial_number"
)


def _classified(taxonomy: str, kind: str, identifier: str, **more: str) -> Mapping[str, str]:
    """Constants: the RSIT classification plus any protocol fields (`_` for `.`)."""
    constants = {
        "classification.taxonomy": taxonomy,
        "classification.type": kind,
        "classification.identifier": identifier,
    }
    constants.update({name.replace("_", ".", 1): value for name, value in more.items()})
    return MappingProxyType(constants)


# --- vulnerable and accessible services (scan_*) -----------------------------------------

SCAN_HTTP = FeedSpec(
    name="scan_http",
    title="Accessible-HTTP",
    provider=PROVIDER,
    header=published_header(
        "timestamp,ip,protocol,port,hostname,tag,asn,geo,region,city,naics,sic,http,"
        "http_code,http_reason,content_type,connection,www_authenticate,set_cookie,"
        "server,content_length,transfer_encoding,http_date"
    ),
    rules=rules(*_SCANNED_HOST, ("protocol", "protocol.transport", "lower")),
    constants=_classified(
        "vulnerable", "vulnerable-system", "accessible-http", protocol_application="http"
    ),
    required=("timestamp", "ip"),
    documentation=_DOCS,
)

SCAN_RDP = FeedSpec(
    name="scan_rdp",
    title="Accessible-RDP",
    provider=PROVIDER,
    header=published_header(
        "timestamp,ip,port,hostname,tag,handshake,asn,geo,region,city,rdp_protocol,"
        "cert_length,subject_common_name,issuer_common_name,cert_issue_date,"
        "cert_expiration_date,sha1_fingerprint,cert_serial_number,ssl_version,"
        "signature_algorithm,key_algorithm,sha256_fingerprint,sha512_fingerprint,"
        "md5_fingerprint,naics,sic,sector,tlsv13_support,tlsv13_cipher,"
        "cve20190708_vulnerable,bluekeep_vulnerable"
    ),
    rules=rules(*_SCANNED_HOST),
    constants=_classified(
        "vulnerable",
        "potentially-unwanted-accessible",
        "accessible-rdp",
        protocol_transport="tcp",
        protocol_application="rdp",
    ),
    required=("timestamp", "ip"),
    documentation=_DOCS,
)

SCAN_SSL_FREAK = FeedSpec(
    name="scan_ssl_freak",
    title="SSL-FREAK-Vulnerable-Servers",
    provider=PROVIDER,
    header=published_header(
        "timestamp,ip,port,hostname,tag,handshake,asn,geo,region,city,cipher_suite,"
        "cert_length,subject_common_name,issuer_common_name,cert_issue_date,"
        "cert_expiration_date,sha1_fingerprint,cert_serial_number,"
        "signature_algorithm,key_algorithm,subject_organization_name,"
        "subject_organization_unit_name,subject_country,"
        "subject_state_or_province_name,subject_locality_name,subject_street_address,"
        "subject_postal_code,subject_surname,subject_given_name,"
        "subject_email_address,subject_business_category,subject_serial_number,"
        "issuer_organization_name,issuer_organization_unit_name,issuer_country,"
        "issuer_state_or_province_name,issuer_locality_name,issuer_street_address,"
        "issuer_postal_code,issuer_surname,issuer_given_name,issuer_email_address,"
        "issuer_business_category,issuer_serial_number,naics,sic,freak_vulnerable,"
        "freak_cipher_suite,sector,sha256_fingerprint,sha512_fingerprint,"
        "md5_fingerprint,http_response_type,http_code,http_reason,content_type,"
        "http_connection,www_authenticate,set_cookie,server_type,content_length,"
        "transfer_encoding,http_date,cert_valid,self_signed,cert_expired,"
        "browser_trusted,validation_level,browser_error"
    ),
    rules=rules(*_SCANNED_HOST),
    constants=_classified(
        "vulnerable",
        "weak-crypto",
        "ssl-freak",
        protocol_transport="tcp",
        protocol_application="https",
    ),
    required=("timestamp", "ip"),
    documentation=_DOCS,
)

SCAN_TELNET = FeedSpec(
    name="scan_telnet",
    title="Accessible-Telnet",
    provider=PROVIDER,
    header=published_header(
        "timestamp,ip,protocol,port,hostname,tag,asn,geo,region,city,naics,sic,banner"
    ),
    rules=rules(*_SCANNED_HOST, ("protocol", "protocol.transport", "lower")),
    constants=_classified(
        "vulnerable",
        "potentially-unwanted-accessible",
        "accessible-telnet",
        protocol_application="telnet",
    ),
    required=("timestamp", "ip"),
    documentation=_DOCS,
)

SCAN_DNS = FeedSpec(
    name="scan_dns",
    title="DNS-Open-Resolvers",
    provider=PROVIDER,
    header=published_header(
        "timestamp,ip,protocol,port,hostname,tag,dns_version,asn,geo,region,city,"
        "min_amplification,p0f_genre,p0f_detail,naics,sic,sector"
    ),
    rules=rules(
        *_SCANNED_HOST,
        ("protocol", "protocol.transport", "lower"),
        ("p0f_genre", "os.name"),
        ("p0f_detail", "os.version"),
    ),
    constants=_classified(
        "vulnerable", "ddos-amplifier", "dns-open-resolver", protocol_application="dns"
    ),
    required=("timestamp", "ip"),
    documentation=_DOCS,
)

# --- infected systems: drones and sinkholes -----------------------------------------------

BOTNET_DRONE = FeedSpec(
    name="botnet_drone",
    title="Drone",
    provider=PROVIDER,
    header=published_header(
        "timestamp,ip,port,asn,geo,region,city,hostname,type,infection,url,agent,"
        "cc_ip,cc_port,cc_asn,cc_geo,cc_dns,count,proxy,application,p0f_genre,"
        "p0f_detail,machine_name,id,naics,sic,cc_naics,cc_sic,sector,cc_sector,"
        "ssl_cipher,family,tag,public_source"
    ),
    rules=rules(
        *_SCANNED_HOST,
        ("type", "protocol.transport", "lower"),
        ("application", "protocol.application", "lower"),
        ("infection", "malware.name", "lower"),
        ("infection", "classification.identifier", "lower"),
        ("url", "destination.url", "url_from_request", ("cc_dns", "cc_ip")),
        ("url", "extra.url"),
        ("cc_ip", "destination.ip"),
        ("cc_port", "destination.port"),
        ("cc_asn", "destination.asn", "zero_to_null"),
        ("cc_geo", "destination.geolocation.cc"),
        ("cc_dns", "destination.fqdn"),
        ("p0f_genre", "os.name"),
        ("p0f_detail", "os.version"),
    ),
    constants=_classified("malicious-code", "infected-system", "botnet-drone"),
    required=("timestamp", "ip"),
    documentation=_DOCS,
)

_SINKHOLE_RULES = (
    *_EVENT_SOURCE,
    *_EVENT_DESTINATION,
    ("infection", "malware.name", "lower"),
    ("tag", "classification.identifier", "lower"),
    ("infection", "classification.identifier", "lower"),
    ("application", "protocol.application", "lower"),
)

EVENT4_SINKHOLE = FeedSpec(
    name="event4_sinkhole",
    title="Sinkhole-Events",
    provider=PROVIDER,
    header=_EVENT4_HEADER,
    rules=rules(*_SINKHOLE_RULES),
    constants=_classified("malicious-code", "infected-system", "sinkhole"),
    required=("timestamp", "src_ip"),
    documentation=_DOCS,
)

EVENT4_SINKHOLE_HTTP = FeedSpec(
    name="event4_sinkhole_http",
    title="Sinkhole-Events-HTTP",
    provider=PROVIDER,
    header=(
        *_EVENT4_HEADER,
        *published_header("http_url,http_host,http_agent,forwarded_by,ssl_cipher,http_referer"),
    ),
    rules=rules(
        *_SINKHOLE_RULES,
        ("http_url", "destination.url", "url_from_request", ("http_host", "dst_ip")),
        ("http_url", "extra.http_url"),
        ("http_host", "destination.fqdn"),
    ),
    constants=_classified(
        "malicious-code", "infected-system", "sinkhole-http", protocol_application="http"
    ),
    required=("timestamp", "src_ip"),
    documentation=_DOCS,
)

SINKHOLE_HTTP_DRONE = FeedSpec(
    name="sinkhole_http_drone",
    title="Sinkhole-HTTP-Drone",
    provider=PROVIDER,
    header=published_header(
        "timestamp,ip,asn,geo,url,type,http_agent,tor,src_port,p0f_genre,p0f_detail,"
        "hostname,dst_port,http_host,http_referer,http_referer_ip,http_referer_asn,"
        "http_referer_geo,dst_ip,dst_asn,dst_geo,naics,sic,http_referer_naics,"
        "http_referer_sic,sector,ssl_cipher,application,version"
    ),
    rules=rules(
        ("timestamp", "time.source", "add_utc"),
        ("ip", "source.ip"),
        ("src_port", "source.port"),
        ("asn", "source.asn", "zero_to_null"),
        ("geo", "source.geolocation.cc"),
        ("hostname", "source.reverse_dns"),
        ("type", "malware.name", "lower"),
        ("type", "classification.identifier", "lower"),
        ("url", "destination.url", "url_from_request", ("http_host", "dst_ip")),
        ("url", "extra.url"),
        ("http_host", "destination.fqdn"),
        ("dst_ip", "destination.ip"),
        ("dst_port", "destination.port"),
        ("dst_asn", "destination.asn", "zero_to_null"),
        ("dst_geo", "destination.geolocation.cc"),
        ("p0f_genre", "os.name"),
        ("p0f_detail", "os.version"),
    ),
    constants=_classified(
        "malicious-code",
        "infected-system",
        "sinkhole-http-drone",
        protocol_transport="tcp",
        protocol_application="http",
    ),
    required=("timestamp", "ip"),
    documentation=_DOCS,
)

# --- honeypots ---------------------------------------------------------------------------

EVENT4_HONEYPOT_BRUTE_FORCE = FeedSpec(
    name="event4_honeypot_brute_force",
    title="Honeypot-Brute-Force-Events",
    provider=PROVIDER,
    header=(
        *_EVENT4_HEADER,
        *published_header(
            "service,start_time,end_time,client_version,username,password,payload_url,payload_md5"
        ),
    ),
    rules=rules(
        *_EVENT_SOURCE,
        *_EVENT_DESTINATION,
        ("infection", "classification.identifier", "lower"),
        ("application", "protocol.application", "lower"),
        ("username", "destination.account"),
    ),
    constants=_classified("intrusion-attempts", "brute-force", "brute-force"),
    required=("timestamp", "src_ip"),
    documentation=_DOCS,
)

REPORTS: Mapping[str, FeedSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            SCAN_HTTP,
            SCAN_RDP,
            SCAN_SSL_FREAK,
            SCAN_TELNET,
            SCAN_DNS,
            BOTNET_DRONE,
            EVENT4_SINKHOLE,
            EVENT4_SINKHOLE_HTTP,
            SINKHOLE_HTTP_DRONE,
            EVENT4_HONEYPOT_BRUTE_FORCE,
        )
    }
)
"""Every supported report, by its type as it appears in Shadowserver's file names."""
