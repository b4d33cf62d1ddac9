"""One Entente event as MISP event JSON (plain dicts): pure, no database.

The caller (`exports`) has already read everything through the access predicate; this only
shapes it. Every event carries its TLP as a `tlp:*` tag first; an indicator stricter than its
event carries its own. Organisations and sharing groups get stable UUIDv5s (`mapping`).
Who reported a sighting is not written: in Entente only the owner and the reporter see it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from entente.interop.misp.mapping import (
    ANALYSIS_IDS,
    DISTRIBUTION_IDS,
    ENTENTE_NAMESPACE,
    EXPORTED_TYPES,
    SIGHTING_TYPES,
    THREAT_LEVEL_IDS,
    organisation_uuid,
    sharing_group_uuid,
    tlp_tag,
)
from entente.sharing.models import Event, Indicator, Sighting
from entente.vocabulary.markings import TLP

# MISP's default attribute distribution: "inherit the event's".
INHERIT = "5"


@dataclass(slots=True)
class EventParts:
    """What one viewer may see of an event, read by `exports`."""

    event: Event
    owner_name: str
    tags: list[str]
    indicators: Sequence[Indicator]
    sightings: dict[int, list[Sighting]] = field(default_factory=dict)
    sharing_group_name: str | None = None


def epoch(moment: datetime | None) -> str:
    """MISP's timestamps: seconds since the epoch, as text."""
    return str(int(moment.timestamp())) if moment is not None else "0"


def tag_objects(tlp: TLP, tags: Sequence[str]) -> list[dict[str, Any]]:
    """The TLP tag first, then the event's tags, as MISP Tag objects."""
    return [{"name": name, "local": False} for name in (tlp_tag(tlp), *tags)]


def organisation_object(organisation_id: int, name: str) -> dict[str, str]:
    return {"name": name, "uuid": organisation_uuid(organisation_id)}


def event_object(parts: EventParts) -> dict[str, Any]:
    """The `Event` object of MISP's `{"Event": {...}}`."""
    event = parts.event
    organisation = organisation_object(event.owner_organisation_id, parts.owner_name)
    content: dict[str, Any] = {
        "uuid": event.uuid,
        "info": event.title,
        "date": event.event_date.isoformat(),
        "threat_level_id": THREAT_LEVEL_IDS[event.threat_level],
        "analysis": ANALYSIS_IDS[event.analysis],
        "published": event.published,
        "timestamp": epoch(event.updated_at),
        "publish_timestamp": epoch(event.published_at),
        "distribution": DISTRIBUTION_IDS[event.distribution],
        "sharing_group_id": "0",
        "Orgc": organisation,
        "Org": organisation,
        "Tag": tag_objects(event.tlp, parts.tags),
        "Attribute": [
            attribute_object(indicator, event.tlp, parts.sightings.get(indicator.id, []))
            for indicator in parts.indicators
        ],
        "Object": [],
        "Galaxy": [],
    }
    if parts.sharing_group_name is not None:
        content["SharingGroup"] = {
            "name": parts.sharing_group_name,
            "uuid": sharing_group_uuid(parts.sharing_group_name),
        }
    return content


def attribute_object(
    indicator: Indicator, event_tlp: TLP, sightings: Sequence[Sighting]
) -> dict[str, Any]:
    content: dict[str, Any] = {
        "uuid": indicator.uuid,
        "type": EXPORTED_TYPES[indicator.type],
        "category": indicator.category.label,
        "value": indicator.value,
        "to_ids": indicator.to_ids,
        "comment": indicator.comment,
        "timestamp": epoch(indicator.created_at),
        "distribution": INHERIT,
        "disable_correlation": False,
        "deleted": False,
    }
    if indicator.first_seen is not None:
        content["first_seen"] = indicator.first_seen.isoformat()
    if indicator.last_seen is not None:
        content["last_seen"] = indicator.last_seen.isoformat()
    if indicator.tlp is not event_tlp:
        content["Tag"] = tag_objects(indicator.tlp, [])
    if sightings:
        content["Sighting"] = [sighting_object(s, indicator.uuid) for s in sightings]
    return content


def sighting_object(sighting: Sighting, attribute_uuid: str) -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid5(ENTENTE_NAMESPACE, f"sighting:{sighting.id}")),
        "type": SIGHTING_TYPES[sighting.kind],
        "date_sighting": epoch(sighting.observed_at),
        "source": sighting.source,
        "attribute_uuid": attribute_uuid,
    }


def manifest_entry(parts: EventParts) -> dict[str, Any]:
    """What a feed's manifest.json says of one event, as MISP's own feed generator writes."""
    event = parts.event
    return {
        "info": event.title,
        "date": event.event_date.isoformat(),
        "analysis": ANALYSIS_IDS[event.analysis],
        "threat_level_id": THREAT_LEVEL_IDS[event.threat_level],
        "timestamp": epoch(event.updated_at),
        "publish_timestamp": epoch(event.published_at),
        "Orgc": organisation_object(event.owner_organisation_id, parts.owner_name),
        "Tag": tag_objects(event.tlp, parts.tags),
    }
