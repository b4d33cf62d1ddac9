"""The vocabulary tables between MISP and Entente, both ways (docs/misp.md prints them).

MISP's names: https://www.misp-project.org/datamodels/ (attribute types and categories,
threat levels, analysis, distribution). A MISP type absent from `IMPORTED_TYPES` is not
guessed at: the attribute is skipped and listed in the import report, so nothing lands in
Entente under a type that would validate and correlate it wrongly.
"""

from __future__ import annotations

import uuid

from entente.sharing.choices import AnalysisState, SightingKind, ThreatLevel
from entente.sharing.indicators import Category, IndicatorType
from entente.vocabulary.markings import TLP, Distribution

# MISP attribute type -> Entente type. `None`: decided by the value (an address or a network).
# Composite types (`a|b`) keep the part named by `COMPOSITE_PART`.
IMPORTED_TYPES: dict[str, IndicatorType | None] = {
    "ip-src": None,
    "ip-dst": None,
    "ip-src|port": None,
    "ip-dst|port": None,
    "domain": IndicatorType.DOMAIN,
    "domain|ip": IndicatorType.DOMAIN,
    "hostname": IndicatorType.HOSTNAME,
    "hostname|port": IndicatorType.HOSTNAME,
    "url": IndicatorType.URL,
    "email": IndicatorType.EMAIL_SRC,
    "email-src": IndicatorType.EMAIL_SRC,
    "email-subject": IndicatorType.EMAIL_SUBJECT,
    "md5": IndicatorType.MD5,
    "sha1": IndicatorType.SHA1,
    "sha256": IndicatorType.SHA256,
    "ssdeep": IndicatorType.SSDEEP,
    "tlsh": IndicatorType.TLSH,
    "filename|md5": IndicatorType.MD5,
    "filename|sha1": IndicatorType.SHA1,
    "filename|sha256": IndicatorType.SHA256,
    "filename|ssdeep": IndicatorType.SSDEEP,
    "filename|tlsh": IndicatorType.TLSH,
    "filename": IndicatorType.FILENAME,
    "mutex": IndicatorType.MUTEX,
    "regkey": IndicatorType.REGKEY,
    "regkey|value": IndicatorType.REGKEY,
    "ja3-fingerprint-md5": IndicatorType.JA3,
    "vulnerability": IndicatorType.CVE,
    "AS": IndicatorType.ASN,
    "btc": IndicatorType.BTC,
    "text": IndicatorType.OTHER,
    "other": IndicatorType.OTHER,
    "comment": IndicatorType.OTHER,
}

# Which half of a composite value is the indicator: 0 the left, 1 the right.
COMPOSITE_PART: dict[str, int] = {
    "ip-src|port": 0,
    "ip-dst|port": 0,
    "domain|ip": 0,
    "hostname|port": 0,
    "filename|md5": 1,
    "filename|sha1": 1,
    "filename|sha256": 1,
    "filename|ssdeep": 1,
    "filename|tlsh": 1,
    "regkey|value": 0,
}

# Entente type -> MISP type on export. Addresses and networks leave as `ip-dst`: Entente does
# not record the direction, and a destination is what a blocking list wants.
EXPORTED_TYPES: dict[IndicatorType, str] = {
    IndicatorType.IPV4: "ip-dst",
    IndicatorType.IPV6: "ip-dst",
    IndicatorType.CIDR: "ip-dst",
    IndicatorType.DOMAIN: "domain",
    IndicatorType.HOSTNAME: "hostname",
    IndicatorType.URL: "url",
    IndicatorType.EMAIL_SRC: "email-src",
    IndicatorType.EMAIL_SUBJECT: "email-subject",
    IndicatorType.MD5: "md5",
    IndicatorType.SHA1: "sha1",
    IndicatorType.SHA256: "sha256",
    IndicatorType.SSDEEP: "ssdeep",
    IndicatorType.TLSH: "tlsh",
    IndicatorType.FILENAME: "filename",
    IndicatorType.MUTEX: "mutex",
    IndicatorType.REGKEY: "regkey",
    IndicatorType.JA3: "ja3-fingerprint-md5",
    IndicatorType.CVE: "vulnerability",
    IndicatorType.ASN: "AS",
    IndicatorType.BTC: "btc",
    IndicatorType.OTHER: "text",
}

# Entente's category labels are MISP's category names; MISP's others arrive as `other`.
CATEGORY_BY_LABEL: dict[str, Category] = {category.label: category for category in Category}

THREAT_LEVEL_BY_ID: dict[str, ThreatLevel] = {
    "1": ThreatLevel.HIGH,
    "2": ThreatLevel.MEDIUM,
    "3": ThreatLevel.LOW,
    "4": ThreatLevel.UNDEFINED,
}
THREAT_LEVEL_IDS: dict[ThreatLevel, str] = {level: key for key, level in THREAT_LEVEL_BY_ID.items()}

ANALYSIS_BY_ID: dict[str, AnalysisState] = {
    "0": AnalysisState.INITIAL,
    "1": AnalysisState.ONGOING,
    "2": AnalysisState.COMPLETE,
}
ANALYSIS_IDS: dict[AnalysisState, str] = {state: key for key, state in ANALYSIS_BY_ID.items()}

# MISP event distribution -> Entente. 1 "this community" and 2 "connected communities" both
# reach the partnership's members, no further; 3 "all communities" is Entente's public.
# 4 is a sharing group, resolved by name (`convert.incoming_marking`).
DISTRIBUTION_BY_ID: dict[str, Distribution] = {
    "0": Distribution.ORGANISATION,
    "1": Distribution.ALL_MEMBERS,
    "2": Distribution.ALL_MEMBERS,
    "3": Distribution.PUBLIC,
    "4": Distribution.SHARING_GROUP,
}
DISTRIBUTION_IDS: dict[Distribution, str] = {
    Distribution.ORGANISATION: "0",
    Distribution.ALL_MEMBERS: "1",
    Distribution.PUBLIC: "3",
    Distribution.SHARING_GROUP: "4",
}
# Where a distribution the TLP forbids narrows to, step by step, until the pair is allowed.
NARROWER: dict[Distribution, Distribution] = {
    Distribution.PUBLIC: Distribution.ALL_MEMBERS,
    Distribution.ALL_MEMBERS: Distribution.ORGANISATION,
    Distribution.SHARING_GROUP: Distribution.ORGANISATION,
}

# TLP tags (1.0 and 2.0 spellings) -> TLP 2.0; tlp:white is TLP 1.0's name for CLEAR.
TLP_BY_TAG: dict[str, TLP] = {
    "tlp:white": TLP.CLEAR,
    "tlp:clear": TLP.CLEAR,
    "tlp:green": TLP.GREEN,
    "tlp:amber": TLP.AMBER,
    "tlp:amber+strict": TLP.AMBER_STRICT,
    "tlp:red": TLP.RED,
}
# An event without a TLP tag reaches the partnership's organisations at most, until a
# person decides otherwise (as the STIX import does).
DEFAULT_TLP = TLP.AMBER

SIGHTING_KIND_BY_TYPE: dict[str, SightingKind] = {
    "0": SightingKind.SEEN,
    "1": SightingKind.FALSE_POSITIVE,
    "2": SightingKind.EXPIRED,
}
SIGHTING_TYPES: dict[SightingKind, str] = {kind: key for key, kind in SIGHTING_KIND_BY_TYPE.items()}

# Organisations and sharing groups carry no UUID in Entente; an export names them by a
# UUIDv5 in this namespace, so the same one has the same UUID in every export.
ENTENTE_NAMESPACE = uuid.UUID("5b0b7a0e-6f4e-5d1c-9a0e-2f6f1d3c9e11")


def organisation_uuid(organisation_id: int) -> str:
    return str(uuid.uuid5(ENTENTE_NAMESPACE, f"organisation:{organisation_id}"))


def sharing_group_uuid(name: str) -> str:
    return str(uuid.uuid5(ENTENTE_NAMESPACE, f"sharing-group:{name}"))


def tlp_tag(tlp: TLP) -> str:
    return f"tlp:{tlp.value}"
