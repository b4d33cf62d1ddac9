"""STIX 2.1 objects read into Entente's shapes: checks and classification, no database, no I/O.

`check_object` looks at one object of a bundle and says what it is to Entente:

- rejected, naming the object's id and the property at fault (not a STIX 2.1 object, a
  required property missing, a malformed id or timestamp, an invalid pattern, a value an
  Entente type refuses);
- skipped: the official TLP 2.0 marking definitions, which every export writes itself;
- stored, with the Entente indicators to make from it: an indicator whose pattern is a
  simple comparison (or an OR of them) on a path Entente has a type for, and a
  vulnerability naming a CVE. Everything else is stored as it came (`StixRole.KEPT`).

The required properties are those of STIX 2.1 sections 4 to 7, checked here rather than by
`stix2.parse`, which costs about a millisecond an object and would make importing the
MITRE ATT&CK bundle take most of a minute.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from entente.core.errors import BadValue
from entente.interop.choices import StixRole
from entente.interop.identifiers import STIX_ID, parse_timestamp
from entente.interop.markings import TLP2_MARKING_IDS, object_tlp
from entente.interop.patterns import (
    BEST_EFFORT_PATHS,
    pattern_problem,
    simple_comparisons,
    type_of_path,
)
from entente.interop.to_stix import LABEL_PREFIX, default_description
from entente.sharing.indicators import Category, IndicatorType, canonicalise
from entente.vocabulary.markings import TLP

EnumT = TypeVar("EnumT", bound=StrEnum)

SPEC_VERSION = "2.1"
_SDO_REQUIRED: dict[str, tuple[str, ...]] = {
    "attack-pattern": ("name",),
    "campaign": ("name",),
    "course-of-action": ("name",),
    "grouping": ("context", "object_refs"),
    "identity": ("name",),
    "incident": ("name",),
    "indicator": ("pattern", "pattern_type", "valid_from"),
    "infrastructure": ("name",),
    "intrusion-set": ("name",),
    "location": (),
    "malware": ("is_family",),
    "malware-analysis": ("product",),
    "note": ("content", "object_refs"),
    "observed-data": ("first_observed", "last_observed", "number_observed"),
    "opinion": ("opinion", "object_refs"),
    "report": ("name", "published", "object_refs"),
    "threat-actor": ("name",),
    "tool": ("name",),
    "vulnerability": ("name",),
    "relationship": ("relationship_type", "source_ref", "target_ref"),
    "sighting": ("sighting_of_ref",),
    "language-content": ("object_ref", "contents"),
    "extension-definition": ("name", "schema", "version", "extension_types", "created_by_ref"),
}
# STIX 2.1 section 6: cyber observables have no created/modified and may omit spec_version.
OBSERVABLE_TYPES = frozenset(
    {
        "artifact",
        "autonomous-system",
        "directory",
        "domain-name",
        "email-addr",
        "email-message",
        "file",
        "ipv4-addr",
        "ipv6-addr",
        "mac-addr",
        "mutex",
        "network-traffic",
        "process",
        "software",
        "url",
        "user-account",
        "windows-registry-key",
        "x509-certificate",
    }
)
_OFFICIAL_TLP_IDS = frozenset(TLP2_MARKING_IDS.values())
_LABEL = re.compile(rf'{LABEL_PREFIX}([a-z_-]+)="([^"]*)"')
_CVE_SOURCES = frozenset({"cve", "nvd"})


@dataclass(frozen=True, slots=True)
class Rejected:
    """An object that is not imported, with where and why."""

    index: int
    object_id: str | None
    field: str | None
    message: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """An object Entente writes itself (an official TLP 2.0 marking definition)."""

    index: int
    object_id: str


@dataclass(frozen=True, slots=True)
class IndicatorValue:
    """One Entente indicator to make from a stored object."""

    type: IndicatorType
    value: str
    category: Category
    to_ids: bool
    comment: str


@dataclass(slots=True)
class Incoming:
    """A valid object, as it will be stored, with the Entente indicators it gives."""

    index: int
    stix_id: str
    type: str
    spec_version: str
    created: datetime | None
    modified: datetime | None
    tlp: TLP | None
    body: str
    content: dict[str, Any]
    role: StixRole = StixRole.KEPT
    values: list[IndicatorValue] = field(default_factory=list)


Checked = Incoming | Rejected | Skipped


def check_object(content: object, index: int) -> Checked:
    """What the `index`-th object of a bundle is to Entente (see the module docstring)."""
    if not isinstance(content, dict):
        return Rejected(index, None, None, "an object of a bundle is a JSON object")
    object_id = content.get("id") if isinstance(content.get("id"), str) else None
    try:
        incoming = _checked(content, index)
    except BadValue as exc:
        return Rejected(index, object_id, exc.field, exc.message)
    if incoming.type == "marking-definition" and incoming.stix_id in _OFFICIAL_TLP_IDS:
        return Skipped(index, incoming.stix_id)
    return incoming


def _checked(content: dict[str, Any], index: int) -> Incoming:
    stix_type = _required_text(content, "type")
    stix_id = _required_text(content, "id")
    match = STIX_ID.fullmatch(stix_id)
    if match is None or match.group("type") != stix_type:
        raise BadValue(
            f"id {stix_id!r} is not '{stix_type}--' followed by a UUID", field="id", value=stix_id
        )
    if stix_type == "bundle":
        raise BadValue("a bundle cannot hold another bundle", field="type", value=stix_type)
    # A custom type is read as an observable when it has no `created` (an SCO's shape).
    observable = stix_type in OBSERVABLE_TYPES or (
        stix_type not in _SDO_REQUIRED
        and stix_type != "marking-definition"
        and "created" not in content
    )
    spec_version = content.get("spec_version", SPEC_VERSION if observable else None)
    if spec_version is None:
        raise BadValue("spec_version is missing (STIX 2.1 requires it)", field="spec_version")
    if spec_version != SPEC_VERSION:
        raise BadValue(
            f"spec_version {spec_version!r} is not '2.1'; Entente reads STIX 2.1",
            field="spec_version",
            value=spec_version,
        )
    created = modified = None
    if not observable:
        created = _timestamp(content, "created")
        if stix_type != "marking-definition":
            modified = _timestamp(content, "modified")
            if modified < created:
                raise BadValue("modified is before created", field="modified")
        for name in _SDO_REQUIRED.get(stix_type, ()):
            if content.get(name) in (None, "", []):
                raise BadValue(f"{name} is missing (required for {stix_type})", field=name)
    incoming = Incoming(
        index=index,
        stix_id=stix_id,
        type=stix_type,
        spec_version=spec_version,
        created=created,
        modified=modified,
        tlp=object_tlp(content),
        body=json.dumps(content, separators=(",", ":"), ensure_ascii=False),
        content=content,
    )
    _classify(incoming)
    return incoming


def _required_text(content: dict[str, Any], name: str) -> str:
    value = content.get(name)
    if not isinstance(value, str) or not value:
        raise BadValue(f"{name} is missing", field=name)
    return value


def _timestamp(content: dict[str, Any], name: str) -> datetime:
    if name not in content:
        raise BadValue(f"{name} is missing", field=name)
    try:
        return parse_timestamp(content[name])
    except ValueError as exc:
        raise BadValue(str(exc), field=name, value=content[name]) from None


# ---- classification -------------------------------------------------------------------------


def _classify(incoming: Incoming) -> None:
    content = incoming.content
    if content.get("revoked") is True:
        return  # a withdrawn object is kept for the record, never made an indicator
    if incoming.type == "indicator":
        _classify_indicator(incoming)
    elif incoming.type == "vulnerability":
        _classify_vulnerability(incoming)


def _classify_indicator(incoming: Incoming) -> None:
    content = incoming.content
    pattern = content["pattern"]
    if not isinstance(pattern, str):
        raise BadValue("pattern is not a string", field="pattern")
    if content["pattern_type"] != "stix":
        return  # sigma, yara, snort...: kept as they came
    comparisons = simple_comparisons(pattern)
    if comparisons is None:
        problem = pattern_problem(pattern)
        if problem is not None:
            raise BadValue(f"invalid STIX pattern: {problem}", field="pattern", value=pattern)
        return  # a valid pattern beyond one comparison or an OR of them: kept
    labels = entente_labels(content)
    hint = enum_value(IndicatorType, labels.get("type"))
    values: list[IndicatorValue] = []
    for path, raw in comparisons:
        indicator_type = type_of_path(path, raw, hint)
        if indicator_type is None:
            return  # a path Entente has no type for: kept
        try:
            value = canonicalise(indicator_type, str(raw))
        except BadValue as exc:
            if path in BEST_EFFORT_PATHS:
                return
            raise BadValue(f"{path}: {exc.message}", field="pattern", value=raw) from None
        values.append(_value(indicator_type, value, labels, content))
    incoming.role = StixRole.INDICATOR
    incoming.values = values


def _classify_vulnerability(incoming: Incoming) -> None:
    references = incoming.content.get("external_references") or []
    cves = [
        reference.get("external_id")
        for reference in references
        if isinstance(reference, dict) and reference.get("source_name") in _CVE_SOURCES
    ]
    if len(cves) != 1 or not isinstance(cves[0], str):
        return
    try:
        value = canonicalise(IndicatorType.CVE, cves[0])
    except BadValue:
        return  # an NVD reference that is no CVE id: kept as it came
    labels = entente_labels(incoming.content)
    incoming.role = StixRole.INDICATOR
    incoming.values = [_value(IndicatorType.CVE, value, labels, incoming.content)]


def _value(
    indicator_type: IndicatorType, value: str, labels: dict[str, str], content: dict[str, Any]
) -> IndicatorValue:
    description = content.get("description")
    comment = description if isinstance(description, str) else ""
    if comment == default_description(indicator_type, value):
        comment = ""
    return IndicatorValue(
        type=indicator_type,
        value=value,
        category=enum_value(Category, labels.get("category")) or indicator_type.default_category,
        # A STIX indicator is meant for detection unless its producer says otherwise.
        to_ids=labels.get("to_ids", "true") != "false",
        comment=comment[:5_000],
    )


def entente_labels(content: dict[str, Any]) -> dict[str, str]:
    """The `entente:name="value"` labels an Entente export writes, by name."""
    found: dict[str, str] = {}
    for item in content.get("labels") or []:
        if isinstance(item, str) and (match := _LABEL.fullmatch(item)):
            found[match.group(1)] = match.group(2)
    return found


def enum_value(kind: type[EnumT], value: str | None) -> EnumT | None:
    """The member of `kind` with this value, None for a missing or unknown one."""
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        return None
