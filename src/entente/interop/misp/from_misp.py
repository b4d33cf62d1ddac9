"""One MISP event (its `Event` object, a plain dict) as what Entente stores: pure, no database.

Bad parts of an event are reported one by one (`Rejection`, naming the MISP field such as
`Event.Attribute[3].value`) and the rest is kept; only an event without what Entente cannot
do without (`info`, `uuid`) is refused as a whole. TLP is read from the `tlp:*` tags (the
strictest wins); everything else in `Tag` and every galaxy cluster becomes an Entente tag.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ValidationError

from entente.core.errors import AppError, BadValue
from entente.interop.misp.mapping import (
    ANALYSIS_BY_ID,
    CATEGORY_BY_LABEL,
    COMPOSITE_PART,
    DEFAULT_TLP,
    DISTRIBUTION_BY_ID,
    IMPORTED_TYPES,
    SIGHTING_KIND_BY_TYPE,
    THREAT_LEVEL_BY_ID,
    TLP_BY_TAG,
)
from entente.sharing.choices import AnalysisState, SightingKind, ThreatLevel
from entente.sharing.indicators import Category, IndicatorType, canonicalise
from entente.sharing.schemas import IndicatorCreate
from entente.sharing.tags import canonical_tag
from entente.vocabulary.markings import TLP, Distribution

MIN_TITLE = 3
MAX_TITLE = 300
MAX_COMMENT = 5_000
MAX_SOURCE = 200


@dataclass(frozen=True, slots=True)
class Rejection:
    """A part of an event that was not imported, and why."""

    field: str
    value: str | None
    message: str


@dataclass(frozen=True, slots=True)
class IncomingSighting:
    kind: SightingKind
    observed_at: datetime
    source: str


@dataclass(slots=True)
class IncomingIndicator:
    place: str
    uuid: str | None
    item: IndicatorCreate
    sightings: list[IncomingSighting] = field(default_factory=list)


@dataclass(slots=True)
class IncomingEvent:
    """A MISP event as Entente will store it; the marking is settled later, with the database."""

    uuid: str
    title: str
    event_date: date
    threat_level: ThreatLevel
    analysis: AnalysisState
    published: bool
    timestamp: datetime | None
    tlp: TLP
    distribution: Distribution
    sharing_group_name: str | None
    creator: str
    sharing_group_ref: str = ""
    tags: list[str] = field(default_factory=list)
    indicators: list[IncomingIndicator] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def incoming_event(content: Any) -> IncomingEvent:
    """The event, or BadValue naming the MISP field that makes it unimportable."""
    if not isinstance(content, dict):
        raise BadValue("an Event object is missing", field="Event", value=None)
    title = _text(content.get("info")).strip()
    if len(title) < MIN_TITLE:
        raise BadValue("Event.info (the title) needs 3 characters or more", field="Event.info")
    event_uuid = _uuid(content.get("uuid"))
    if event_uuid is None:
        raise BadValue("Event.uuid is missing or not a UUID", field="Event.uuid")
    timestamp = _epoch(content.get("timestamp"))
    rejected: list[Rejection] = []
    tags, tlp = _tags(content, rejected)
    event = IncomingEvent(
        uuid=event_uuid,
        title=title[:MAX_TITLE],
        event_date=_date(content.get("date"), timestamp, rejected),
        threat_level=THREAT_LEVEL_BY_ID.get(
            _text(content.get("threat_level_id")), ThreatLevel.UNDEFINED
        ),
        analysis=ANALYSIS_BY_ID.get(_text(content.get("analysis")), AnalysisState.INITIAL),
        published=_flag(content.get("published")),
        timestamp=timestamp,
        tlp=tlp,
        distribution=DISTRIBUTION_BY_ID.get(
            _text(content.get("distribution")), Distribution.ORGANISATION
        ),
        sharing_group_name=_name_of(content.get("SharingGroup")) or None,
        creator=_name_of(content.get("Orgc")),
        sharing_group_ref=_text(content.get("sharing_group_id")),
        tags=tags,
        rejected=rejected,
    )
    event.indicators = _indicators(content, event)
    return event


def event_head(content: Any) -> tuple[str | None, datetime | None]:
    """The UUID and MISP timestamp of an event, read without converting the rest: enough
    to know an event is already here in this version."""
    if not isinstance(content, dict) or len(_text(content.get("info")).strip()) < MIN_TITLE:
        return None, None  # not importable: `incoming_event` says why
    return _uuid(content.get("uuid")), _epoch(content.get("timestamp"))


# ---- tags ------------------------------------------------------------------------------


def _tags(content: dict[str, Any], rejected: list[Rejection]) -> tuple[list[str], TLP]:
    """Entente tags and the strictest TLP among the event's tags; galaxies become tags too."""
    tags: dict[str, None] = {}
    tlps: list[TLP] = []
    for index, name in _tag_names(content.get("Tag")):
        place = f"Event.Tag[{index}].name"
        tlp = TLP_BY_TAG.get(name.strip().lower())
        if tlp is not None:
            tlps.append(tlp)
            continue
        _add_tag(tags, name, place, rejected)
    for place, name in _galaxy_tags(content.get("Galaxy")):
        _add_tag(tags, name, place, rejected)
    tlp = max(tlps, key=lambda t: t.rank) if tlps else DEFAULT_TLP
    return list(tags), tlp


def _add_tag(tags: dict[str, None], name: str, place: str, rejected: list[Rejection]) -> None:
    try:
        tags[canonical_tag(name)] = None
    except BadValue as exc:
        rejected.append(Rejection(place, name[:200], exc.message))


def _tag_names(raw: Any) -> Iterator[tuple[int, str]]:
    for index, tag in enumerate(raw if isinstance(raw, list) else []):
        name = tag.get("name") if isinstance(tag, dict) else None
        if isinstance(name, str) and not _flag(tag.get("local")):
            yield index, name


def _galaxy_tags(raw: Any) -> Iterator[tuple[str, str]]:
    """`misp-galaxy:<type>="<value>"` per cluster: the tag MISP itself attaches a cluster by."""
    for g, galaxy in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(galaxy, dict):
            continue
        clusters = galaxy.get("GalaxyCluster")
        for c, cluster in enumerate(clusters if isinstance(clusters, list) else []):
            if not isinstance(cluster, dict):
                continue
            name = cluster.get("tag_name")
            if not isinstance(name, str) or not name:
                kind = _text(cluster.get("type")) or _text(galaxy.get("type"))
                name = f'misp-galaxy:{kind}="{_text(cluster.get("value"))}"'
            yield f"Event.Galaxy[{g}].GalaxyCluster[{c}]", name


# ---- attributes ------------------------------------------------------------------------


def _indicators(content: dict[str, Any], event: IncomingEvent) -> list[IncomingIndicator]:
    by_uuid: dict[str, IncomingIndicator] = {}
    found: list[IncomingIndicator] = []
    for place, attribute in _attributes(content):
        indicator = _indicator(place, attribute, event)
        if indicator is None:
            continue
        found.append(indicator)
        if indicator.uuid:
            by_uuid[indicator.uuid] = indicator
    # A restSearch dump may list sightings at the event level, naming their attribute.
    for index, raw in enumerate(_list(content.get("Sighting"))):
        target = by_uuid.get(_text(raw.get("attribute_uuid"))) if isinstance(raw, dict) else None
        if target is not None:
            _add_sighting(target, raw, f"Event.Sighting[{index}]", event.rejected)
    return found


def _attributes(content: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each attribute of the event and of its objects (deleted ones left out), and its place."""
    for index, attribute in enumerate(_list(content.get("Attribute"))):
        if isinstance(attribute, dict) and not _flag(attribute.get("deleted")):
            yield f"Event.Attribute[{index}]", attribute
    for o, item in enumerate(_list(content.get("Object"))):
        if not isinstance(item, dict) or _flag(item.get("deleted")):
            continue
        for index, attribute in enumerate(_list(item.get("Attribute"))):
            if isinstance(attribute, dict) and not _flag(attribute.get("deleted")):
                yield f"Event.Object[{o}].Attribute[{index}]", attribute


def _indicator(
    place: str, attribute: dict[str, Any], event: IncomingEvent
) -> IncomingIndicator | None:
    misp_type = _text(attribute.get("type"))
    raw_value = attribute.get("value")
    try:
        indicator_type, value = _typed_value(misp_type, raw_value)
        item = IndicatorCreate(
            type=indicator_type,
            value=value,
            category=_category(attribute.get("category"), indicator_type),
            to_ids=_flag(attribute.get("to_ids")),
            comment=_text(attribute.get("comment"))[:MAX_COMMENT],
            tlp=_attribute_tlp(attribute, event),
            first_seen=_seen(attribute.get("first_seen"), "first_seen"),
            last_seen=_seen(attribute.get("last_seen"), "last_seen"),
        )
    except AppError as exc:
        shown = exc.value if isinstance(exc.value, str) else _text(raw_value)
        event.rejected.append(Rejection(f"{place}.{exc.field}", shown[:200], exc.message))
        return None
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        event.rejected.append(Rejection(f"{place}.{where}", _text(raw_value)[:200], problem["msg"]))
        return None
    if item.first_seen and item.last_seen and item.last_seen < item.first_seen:
        shown = _text(attribute.get("last_seen"))
        event.rejected.append(
            Rejection(f"{place}.last_seen", shown, "last_seen is before first_seen")
        )
        return None
    indicator = IncomingIndicator(place, _uuid(attribute.get("uuid")), item)
    for index, raw in enumerate(_list(attribute.get("Sighting"))):
        _add_sighting(indicator, raw, f"{place}.Sighting[{index}]", event.rejected)
    return indicator


def _typed_value(misp_type: str, raw: Any) -> tuple[IndicatorType, str]:
    """The Entente type and canonical value of a MISP attribute, or BadValue saying why not."""
    if misp_type not in IMPORTED_TYPES:
        raise BadValue(
            f"MISP type {misp_type!r} has no Entente indicator type (docs/misp.md); skipped",
            field="type",
            value=misp_type,
        )
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise BadValue("the value is missing or not text", field="value", value=None)
    value = str(raw)
    if misp_type in COMPOSITE_PART:
        parts = value.split("|", 1)
        if len(parts) != 2:
            raise BadValue(
                f"a {misp_type} value has two parts joined by '|'", field="value", value=value
            )
        value = parts[COMPOSITE_PART[misp_type]]
    indicator_type = IMPORTED_TYPES[misp_type] or _address_type(value)
    return indicator_type, canonicalise(indicator_type, value)


def _address_type(value: str) -> IndicatorType:
    if "/" in value:
        return IndicatorType.CIDR
    return IndicatorType.IPV6 if ":" in value else IndicatorType.IPV4


def _category(raw: Any, indicator_type: IndicatorType) -> Category:
    if not isinstance(raw, str) or not raw:
        return indicator_type.default_category
    return CATEGORY_BY_LABEL.get(raw, Category.OTHER)


def _attribute_tlp(attribute: dict[str, Any], event: IncomingEvent) -> TLP:
    """The attribute's own TLP tag, never looser than the event's. An attribute MISP keeps
    to its organisation (distribution 0) or to another sharing group than its event's is
    TLP:RED here: Entente's indicators share their event's audience, and RED is the only
    way to narrow it to the owner (fail closed)."""
    tlps = [event.tlp]
    tlps += [
        TLP_BY_TAG[name.strip().lower()]
        for _, name in _tag_names(attribute.get("Tag"))
        if name.strip().lower() in TLP_BY_TAG
    ]
    distribution = _text(attribute.get("distribution"))
    own_group = _text(attribute.get("sharing_group_id"))
    if distribution == "0" or (distribution == "4" and own_group != event.sharing_group_ref):
        tlps.append(TLP.RED)
    return max(tlps, key=lambda t: t.rank)


def _add_sighting(
    target: IncomingIndicator, raw: Any, place: str, rejected: list[Rejection]
) -> None:
    if not isinstance(raw, dict):
        return
    observed_at = _epoch(raw.get("date_sighting"))
    kind = SIGHTING_KIND_BY_TYPE.get(_text(raw.get("type")) or "0")
    if observed_at is None or kind is None:
        rejected.append(Rejection(place, None, "a sighting needs a type 0-2 and a date_sighting"))
        return
    source = _text(raw.get("source")) or _name_of(raw.get("Organisation"))
    target.sightings.append(IncomingSighting(kind, observed_at, source[:MAX_SOURCE]))


# ---- scalars ---------------------------------------------------------------------------


def _list(raw: Any) -> list[Any]:
    return raw if isinstance(raw, list) else []


def _text(raw: Any) -> str:
    if raw is None or isinstance(raw, dict | list):
        return ""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def _name_of(raw: Any) -> str:
    """The `name` of a nested MISP object (Orgc, SharingGroup, Organisation), or ""."""
    return _text(raw.get("name")) if isinstance(raw, dict) else ""


def _flag(raw: Any) -> bool:
    """MISP writes booleans as true/false, 1/0 or "1"/"0" depending on its version."""
    if isinstance(raw, str):
        return raw.strip().lower() in {"1", "true"}
    return bool(raw)


def _uuid(raw: Any) -> str | None:
    try:
        return str(uuid.UUID(str(raw))) if raw else None
    except ValueError:
        return None


def _epoch(raw: Any) -> datetime | None:
    try:
        seconds = int(float(raw))
    except (TypeError, ValueError):
        return None
    if seconds <= 0:
        return None
    return datetime.fromtimestamp(seconds, UTC)


def _date(raw: Any, timestamp: datetime | None, rejected: list[Rejection]) -> date:
    if isinstance(raw, str) and raw:
        try:
            return date.fromisoformat(raw[:10])
        except ValueError:
            rejected.append(Rejection("Event.date", raw[:40], "not a YYYY-MM-DD date"))
    return (timestamp or datetime.now(UTC)).date()


def _seen(raw: Any, name: str) -> datetime | None:
    if raw in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(raw))
    except ValueError:
        raise BadValue(f"{name} is not an ISO 8601 time", field=name, value=str(raw)) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
