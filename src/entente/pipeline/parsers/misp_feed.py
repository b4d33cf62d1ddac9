"""MISP feeds: the event files of a MISP feed directory, one row per attribute.

A MISP feed (as MISP and PyMISP's feed generator write it) is a directory of
`manifest.json` (the events' summaries), `hashes.csv` (an MD5 of each attribute value and
its event) and one `<event uuid>.json` per event, `{"Event": {"info": ..., "Tag": [...],
"Attribute": [...], "Object": [{"Attribute": [...]}, ...]}}`. The file is the unit:

- `manifest.json` and `hashes.csv` are the feed's index and yield nothing, so a directory
  feed pointed at a MISP feed reads each event exactly once, from its own file.
- an event file is streamed with ijson in three passes: the event's own fields and tags
  (wherever they stand in the file), then its attributes, then its objects' attributes.
  Each attribute becomes one row, fields by its type (`TYPE_FIELDS`); a type without a
  field still gives a row, with the value in `extra.value` (nothing is dropped). Attributes
  marked `deleted` are skipped; `to_ids: false` ones are kept, with `extra.to_ids`.
- TLP and classification come from the attribute's tags, else the event's (`tlp:amber`;
  `rsit:...="type"` and `ecsirt:...="..."` machine tags, see `rsit_words`).
- an attribute without a type or a value, or a composite type (`ip-dst|port`) whose value
  has no `|`, is quarantined with the reason.

`_line` is the attribute's position in the event: the event's own attributes 1..n in
order, then those of each object in order. A file that is not JSON is a `ParseError`
(line, column); JSON that is not a feed event (`{"response": [...]}` from the REST API,
say) is one too. The table is in docs/feeds.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from entente.core.errors import ParseError
from entente.pipeline.batches import StageOutput
from entente.pipeline.parsers.base import ParserOptions, check_options, mapping_option
from entente.pipeline.parsers.json_stream import (
    Rows,
    is_blank,
    joined,
    json_events,
    json_items,
    raw_text,
    text,
)
from entente.pipeline.parsers.rsit_words import classification, tag_word
from entente.vocabulary.markings import TLP

BLOCK_ATTRIBUTES = 50_000
INDEX_FILES = frozenset({"manifest.json", "hashes.csv"})
"""A MISP feed's index files: recognised by name, they give no rows."""
TYPE_FIELDS: Mapping[str, tuple[str, ...]] = {
    "ip-src": ("source.ip",),
    "ip-dst": ("source.ip",),
    "ip-src|port": ("source.ip", "source.port"),
    "ip-dst|port": ("source.ip", "source.port"),
    "domain": ("source.fqdn",),
    "hostname": ("source.fqdn",),
    "domain|ip": ("source.fqdn", "source.ip"),
    "hostname|port": ("source.fqdn", "source.port"),
    "url": ("source.url",),
    "uri": ("source.urlpath",),
    "link": ("event_description.url",),
    "md5": ("malware.hash.md5",),
    "sha1": ("malware.hash.sha1",),
    "sha256": ("malware.hash.sha256",),
    "filename|md5": ("extra.filename", "malware.hash.md5"),
    "filename|sha1": ("extra.filename", "malware.hash.sha1"),
    "filename|sha256": ("extra.filename", "malware.hash.sha256"),
    "malware-sample": ("extra.filename", "malware.hash.md5"),
    "email-src": ("source.account",),
    "email": ("source.account",),
    "email-dst": ("destination.account",),
    "AS": ("source.asn",),
}
"""MISP attribute types and the fields their value (or its `|`-separated parts) fills.
Both ip-src and ip-dst go to `source.ip`, as in IntelMQ's MISP parser: the row reports the
address the event is about (a C2 server is an `ip-dst`), which is what routing, matching
and de-duplication key on; `extra.misp_type` keeps the direction."""
THREAT_LEVELS = {"1": "high", "2": "medium", "3": "low", "4": "undefined"}
EVENT_FIELDS = {
    "Event.uuid": "uuid",
    "Event.info": "info",
    "Event.threat_level_id": "threat_level",
    "Event.date": "date",
    "Event.timestamp": "timestamp",
    "Event.Orgc.name": "orgc",
}
"""The event's own fields the rows carry (ijson prefix -> name)."""
COLUMNS = (
    "time.source",
    "source.ip",
    "source.network",
    "source.port",
    "source.fqdn",
    "source.url",
    "source.urlpath",
    "source.account",
    "source.asn",
    "destination.account",
    "malware.hash.md5",
    "malware.hash.sha1",
    "malware.hash.sha256",
    "classification.taxonomy",
    "classification.type",
    "tlp",
    "comment",
    "event_description.text",
    "event_description.url",
    "extra.value",
    "extra.misp_type",
    "extra.category",
    "extra.to_ids",
    "extra.filename",
    "extra.attribute_uuid",
    "extra.attribute_tags",
    "extra.object_name",
    "extra.object_relation",
    "extra.object_uuid",
    "extra.event_uuid",
    "extra.event_date",
    "extra.threat_level",
    "extra.orgc",
    "extra.event_tags",
)
"""The columns of every MISP batch, in order."""
DEFAULT_CONSTANTS = {"classification.type": "undetermined"}

Values = dict[str, str | None]


@dataclass(slots=True)
class _Event:
    """The event's own fields and tags, read in the first pass."""

    fields: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)

    def common(self) -> Values:
        """What every row of the event carries."""
        level = self.fields.get("threat_level")
        return {
            "event_description.text": self.fields.get("info"),
            "extra.event_uuid": self.fields.get("uuid"),
            "extra.event_date": self.fields.get("date"),
            "extra.threat_level": THREAT_LEVELS.get(level, level) if level else None,
            "extra.orgc": self.fields.get("orgc"),
            "extra.event_tags": joined(self.tags),
        }


def read_event(path: Path) -> _Event:
    """The first pass: the event's fields and tags, wherever they stand in the file."""
    event = _Event()
    for prefix, kind, value in json_events(path):
        if not prefix:
            if kind == "map_key":
                event.keys.add(value)
            continue
        if kind not in ("string", "number", "boolean"):
            continue
        name = EVENT_FIELDS.get(prefix)
        if name is not None:
            event.fields[name] = str(value)
        elif prefix == "Event.Tag.item.name" and isinstance(value, str):
            event.tags.append(value)
    return event


@dataclass(frozen=True, slots=True)
class MispFeedParser:
    """MISP feed event files (see the module docstring); a batch every `block` rows."""

    block: int = BLOCK_ATTRIBUTES
    name: str = "misp_feed"
    options: frozenset[str] = frozenset({"constants"})

    def parse(self, path: Path, options: ParserOptions) -> Iterator[StageOutput]:
        check_options(options, self.options)
        rows = Rows(path, COLUMNS, {**DEFAULT_CONSTANTS, **mapping_option(options, "constants")})
        if path.name in INDEX_FILES or is_blank(path):
            return
        event = read_event(path)
        if "Event" not in event.keys:
            raise ParseError(
                'not a MISP feed event: no top-level "Event" object', file=str(path), line=1
            )
        common = event.common()
        position = 0
        for position, attribute in enumerate(json_items(path, "Event.Attribute.item"), 1):
            _attribute(attribute, position, f"Attribute[{position - 1}]", (event, common), rows)
            if len(rows) >= self.block:
                yield rows.take()
        for number, item in enumerate(json_items(path, "Event.Object.item")):
            attributes, deleted = _object_attributes(item)
            for index, attribute in enumerate(attributes):
                position += 1  # a deleted object's attributes keep their places
                if deleted:
                    continue
                where = f"Object[{number}].Attribute[{index}]"
                _attribute(attribute, position, where, (event, common | _object(item)), rows)
                if len(rows) >= self.block:
                    yield rows.take()
        if len(rows):
            yield rows.take()


def _object_attributes(item: Any) -> tuple[list[Any], bool]:
    """An object's attributes, and whether the object is deleted."""
    if not isinstance(item, dict):
        return [], False
    found = item.get("Attribute")
    return (found if isinstance(found, list) else []), _deleted(item)


def _object(item: Mapping[str, Any]) -> Values:
    return {
        "extra.object_name": text(item.get("name")),
        "extra.object_uuid": text(item.get("uuid")),
    }


def _deleted(item: Mapping[str, Any]) -> bool:
    return item.get("deleted") in (True, "1", 1, "true")


def _attribute(
    attribute: Any, position: int, where: str, context: tuple[_Event, Values], rows: Rows
) -> None:
    if not isinstance(attribute, dict):
        rows.reject(position, raw_text(where, attribute), "not a MISP attribute")
        return
    if _deleted(attribute):
        return
    kind, value = text(attribute.get("type")), text(attribute.get("value"))
    if not kind:
        rows.reject(position, raw_text(where, attribute), "attribute has no type", "type")
        return
    if not value:
        rows.reject(position, raw_text(where, attribute), f"{kind} attribute has no value", "value")
        return
    mapped = type_fields(kind, value)
    if mapped is None:
        reason = f"{kind} value {value!r} has no '|' between its parts"
        rows.reject(position, raw_text(where, attribute), reason, "value")
        return
    event, common = context
    tags = _tag_names(attribute.get("Tag"))
    taxonomy, classified = classification(_words(tags) + _words(event.tags)) or (None, None)
    rows.add(
        position,
        common
        | {
            "time.source": text(attribute.get("first_seen"))
            or text(attribute.get("timestamp"))
            or event.fields.get("timestamp"),
            "classification.taxonomy": taxonomy,
            "classification.type": classified,
            "tlp": _tlp(tags) or _tlp(event.tags),
            "comment": text(attribute.get("comment")) or None,
            "extra.value": value,
            "extra.misp_type": kind,
            "extra.category": text(attribute.get("category")),
            "extra.to_ids": text(attribute.get("to_ids")),
            "extra.attribute_uuid": text(attribute.get("uuid")),
            "extra.attribute_tags": joined(tags),
            "extra.object_relation": text(attribute.get("object_relation")),
        }
        | mapped,
    )


def type_fields(kind: str, value: str) -> Values | None:
    """The fields an attribute of type `kind` fills with `value`: {} for a type without
    fields, None for a composite type whose value has no `|`."""
    targets = TYPE_FIELDS.get(kind)
    if targets is None:
        return {}
    parts = value.rsplit("|", 1) if len(targets) == 2 else [value]
    if len(parts) != len(targets):
        return None
    return {
        ("source.network" if name == "source.ip" and "/" in part else name): part.strip()
        for name, part in zip(targets, parts, strict=True)
    }


def _tag_names(tags: object) -> list[str]:
    if not isinstance(tags, list):
        return []
    return [
        tag["name"] for tag in tags if isinstance(tag, dict) and isinstance(tag.get("name"), str)
    ]


def _words(tags: list[str]) -> list[str]:
    return [word for word in map(tag_word, tags) if word]


def _tlp(tags: list[str]) -> str | None:
    """The strictest `tlp:` tag's level (TLP 1.0 white is clear), or None."""
    levels = {member.value for member in TLP}
    found = [
        TLP(name)
        for tag in tags
        if tag.lower().startswith("tlp:")
        and (name := tag[4:].strip().lower().replace("white", "clear")) in levels
    ]
    return max(found, key=lambda level: level.rank).value if found else None
