"""Entente's shared objects as STIX 2.1 objects: pure functions, no database, no I/O.

| Entente                           | STIX 2.1                                                   |
|-----------------------------------|------------------------------------------------------------|
| event, published                  | report (`published`, `report_types: threat-report`)        |
| event, unpublished                | grouping (`context: suspicious-activity`)                  |
| owner / reporting organisation    | identity (`identity_class: organization`)                  |
| indicator with a pattern type     | indicator (`pattern_type: stix`), `entente:*` labels       |
| ... observed (first or last seen) | + observed-data and its SCO, indicator `based-on` it       |
| indicator of type cve             | vulnerability with a `cve` external reference             |
| indicator of type other           | note on the event's report or grouping                     |
| sighting "seen"                   | sighting                                                   |
| sighting "false positive"         | opinion `strongly-disagree`                                |
| sighting "expired"                | opinion `disagree`                                         |
| TLP                               | the official TLP 2.0 marking definitions (`markings`)      |
| owner's tags                      | labels of the report or grouping                           |

Ids are derived from Entente's UUIDs (`identifiers.derived_id`), timestamps from the rows,
so exporting the same rows twice gives the same objects. Who reported a sighting is shown
only when the caller says so (`reporter`), as the sharing rules show it only to the
indicator's owner and to the reporter (`sharing.sightings`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from entente.interop.identifiers import derived_id, stix_timestamp
from entente.interop.markings import TLP2_MARKING_IDS
from entente.interop.patterns import indicator_pattern, observable
from entente.members.models import Organisation
from entente.sharing.choices import AnalysisState, SightingKind, ThreatLevel
from entente.sharing.indicators import Category, IndicatorType
from entente.sharing.models import Event
from entente.vocabulary.markings import TLP

# STIX integers of `count` stop below a billion (section 5.8).
MAX_SIGHTING_COUNT = 999_999_999
LABEL_PREFIX = "entente:"


class Indicator(Protocol):
    """What conversion reads of an indicator: the ORM row, or a lighter row of its columns."""

    @property
    def uuid(self) -> str: ...
    @property
    def type(self) -> IndicatorType: ...
    @property
    def value(self) -> str: ...
    @property
    def category(self) -> Category: ...
    @property
    def to_ids(self) -> bool: ...
    @property
    def comment(self) -> str: ...
    @property
    def tlp(self) -> TLP: ...
    @property
    def first_seen(self) -> datetime | None: ...
    @property
    def last_seen(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime: ...


class Sighting(Protocol):
    """What conversion reads of a sighting."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> SightingKind: ...
    @property
    def source(self) -> str: ...
    @property
    def count(self) -> int: ...
    @property
    def observed_at(self) -> datetime: ...
    @property
    def created_at(self) -> datetime: ...


def identity_id(organisation_name: str) -> str:
    """Organisations have no UUID; the name is unique on a hub and the same across hubs."""
    return derived_id("identity", "organisation", organisation_name)


def identity_object(organisation: Organisation) -> dict[str, Any]:
    created = stix_timestamp(organisation.created_at)
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": identity_id(organisation.name),
        "created": created,
        "modified": created,
        "name": organisation.name,
        "identity_class": "organization",
    }


def container_type(event: Event) -> str:
    return "report" if event.published else "grouping"


def container_id(event: Event) -> str:
    return derived_id(container_type(event), event.uuid)


def label(name: str, value: str) -> str:
    """A machine-tag label, `entente:name="value"`, as MISP writes `misp:type="..."`."""
    return f'{LABEL_PREFIX}{name}="{value}"'


def event_labels(event: Event, tags: Sequence[str]) -> list[str]:
    labels = list(tags)
    if event.threat_level is not ThreatLevel.UNDEFINED:
        labels.append(label("threat-level", event.threat_level.value))
    if event.analysis is not AnalysisState.INITIAL:
        labels.append(label("analysis", event.analysis.value))
    return labels


def container_object(event: Event, owner_identity: str, tags: Sequence[str]) -> dict[str, Any]:
    """The event's report or grouping, without `object_refs` (the exporter streams those)."""
    head: dict[str, Any] = {
        "type": container_type(event),
        "spec_version": "2.1",
        "id": container_id(event),
        "created_by_ref": owner_identity,
        "created": stix_timestamp(event.created_at),
        "modified": stix_timestamp(max(event.updated_at, event.created_at)),
        "name": event.title,
    }
    if event.description:
        head["description"] = event.description
    if event.published and event.published_at is not None:
        head["report_types"] = ["threat-report"]
        head["published"] = stix_timestamp(event.published_at)
    else:
        head["context"] = "suspicious-activity"
    labels = event_labels(event, tags)
    if labels:
        head["labels"] = labels
    head["external_references"] = [{"source_name": "entente", "external_id": event.uuid}]
    head["object_marking_refs"] = [TLP2_MARKING_IDS[event.tlp]]
    return head


@dataclass(frozen=True, slots=True)
class EventContext:
    """What the objects of one event refer to: its container and its owner's identity."""

    container_id: str
    owner_identity: str


def default_description(indicator_type: IndicatorType, value: str) -> str:
    """The description written when an indicator has no comment (STIX asks for one)."""
    shown = value if len(value) <= 200 else value[:197] + "..."
    return f"{indicator_type.label}: {shown}"


def indicator_labels(indicator: Indicator) -> list[str]:
    return [
        label("type", indicator.type.value),
        label("category", indicator.category.value),
        label("to_ids", "true" if indicator.to_ids else "false"),
    ]


def _common(indicator: Indicator, stix_type: str, context: EventContext) -> dict[str, Any]:
    created = stix_timestamp(indicator.created_at)
    return {
        "type": stix_type,
        "spec_version": "2.1",
        "id": derived_id(stix_type, indicator.uuid),
        "created_by_ref": context.owner_identity,
        "created": created,
        "modified": created,
    }


def _marked(stix_object: dict[str, Any], tlp: TLP) -> dict[str, Any]:
    stix_object["object_marking_refs"] = [TLP2_MARKING_IDS[tlp]]
    return stix_object


def indicator_objects(indicator: Indicator, context: EventContext) -> list[dict[str, Any]]:
    """The STIX objects of one indicator, its main object first (what sightings point to)."""
    if indicator.type is IndicatorType.CVE:
        return [_vulnerability(indicator, context)]
    pattern = indicator_pattern(indicator.type, indicator.value)
    if pattern is None:
        return [_note(indicator, context)]
    main = _common(indicator, "indicator", context)
    main["name"] = indicator.value
    main["description"] = indicator.comment or default_description(indicator.type, indicator.value)
    main["indicator_types"] = ["malicious-activity"]
    main["pattern"] = pattern
    main["pattern_type"] = "stix"
    main["pattern_version"] = "2.1"
    first_seen = indicator.first_seen
    main["valid_from"] = stix_timestamp(first_seen) if first_seen else main["created"]
    main["labels"] = indicator_labels(indicator)
    return [_marked(main, indicator.tlp), *_observation(indicator, context, main["id"])]


def _observation(
    indicator: Indicator, context: EventContext, indicator_ref: str
) -> list[dict[str, Any]]:
    """Observed data for an indicator seen between known times, where a core SCO exists."""
    if indicator.first_seen is None and indicator.last_seen is None:
        return []
    sco = observable(indicator.type, indicator.value)
    if sco is None:
        return []
    first = indicator.first_seen or indicator.last_seen
    last = indicator.last_seen or indicator.first_seen
    assert first is not None and last is not None
    observed = _common(indicator, "observed-data", context)
    observed["first_observed"] = stix_timestamp(first)
    observed["last_observed"] = stix_timestamp(max(first, last))
    observed["number_observed"] = 1
    observed["object_refs"] = [sco["id"]]
    observed["labels"] = indicator_labels(indicator)
    based_on = _common(indicator, "relationship", context)
    based_on["id"] = derived_id("relationship", indicator.uuid, "based-on")
    based_on["relationship_type"] = "based-on"
    based_on["source_ref"] = indicator_ref
    based_on["target_ref"] = observed["id"]
    return [_marked(item, indicator.tlp) for item in (sco, observed, based_on)]


def _vulnerability(indicator: Indicator, context: EventContext) -> dict[str, Any]:
    vulnerability = _common(indicator, "vulnerability", context)
    vulnerability["name"] = indicator.value
    if indicator.comment:
        vulnerability["description"] = indicator.comment
    vulnerability["labels"] = indicator_labels(indicator)
    vulnerability["external_references"] = [{"source_name": "cve", "external_id": indicator.value}]
    return _marked(vulnerability, indicator.tlp)


def _note(indicator: Indicator, context: EventContext) -> dict[str, Any]:
    """A value of no STIX pattern type is a note on the event: kept, never matched."""
    note = _common(indicator, "note", context)
    note["abstract"] = indicator.comment or indicator.type.label
    note["content"] = indicator.value
    note["object_refs"] = [context.container_id]
    note["labels"] = indicator_labels(indicator)
    return _marked(note, indicator.tlp)


_OPINIONS = {
    SightingKind.FALSE_POSITIVE: ("strongly-disagree", "false positive"),
    SightingKind.EXPIRED: ("disagree", "expired: no longer seen"),
}


def sighting_object(
    sighting: Sighting, indicator: Indicator, target_ref: str, reporter: str | None
) -> dict[str, Any]:
    """A sighting (seen) or an opinion (false positive, expired) of the indicator's object.

    `reporter` is the reporting organisation's identity id, given only to those the sharing
    rules show the reporter to; without it the object names nobody.
    """
    created = stix_timestamp(sighting.created_at)
    stix_type = "sighting" if sighting.kind is SightingKind.SEEN else "opinion"
    item: dict[str, Any] = {
        "type": stix_type,
        "spec_version": "2.1",
        "id": derived_id(stix_type, indicator.uuid, str(sighting.id)),
        "created": created,
        "modified": created,
    }
    if reporter is not None:
        item["created_by_ref"] = reporter
    observed = stix_timestamp(sighting.observed_at)
    if sighting.kind is SightingKind.SEEN:
        item["first_seen"] = observed
        item["last_seen"] = observed
        item["count"] = min(sighting.count, MAX_SIGHTING_COUNT)
        item["sighting_of_ref"] = target_ref
        if reporter is not None:
            item["where_sighted_refs"] = [reporter]
        if sighting.source:
            item["description"] = sighting.source
    else:
        opinion, reason = _OPINIONS[sighting.kind]
        source = f" ({sighting.source})" if sighting.source else ""
        item["opinion"] = opinion
        item["explanation"] = f"{reason}{source}, {sighting.count} time(s), at {observed}"
        item["object_refs"] = [target_ref]
    return _marked(item, indicator.tlp)
