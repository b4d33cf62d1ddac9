"""STIX 2.1 (and 2.0) bundles: indicators, observables and observed data as pipeline rows.

The bundle is streamed with ijson, object by object, twice: a first pass notes what later
objects need from anywhere in the bundle (the TLP of each marking definition; the
observed-data objects that reference each observable), the second maps each object:

- `indicator` (pattern_type `stix`): its pattern reduced to observable values
  (`stix_patterns`), one row per observation, fields by `observation_fields`; a pattern
  that does not reduce quarantines the indicator with the reason. Other pattern types
  (YARA, Snort, Sigma...) are skipped: they name no value.
- observables (`ipv4-addr`, `ipv6-addr`, `domain-name`, `url`, `email-addr`, `file`,
  `artifact`): one row each, with the time and labels of an observed-data object that
  references them. A `file` with none of MD5, SHA-1, SHA-256 is skipped.
- `observed-data` with the deprecated embedded `objects`: one row per embedded observable.
  With `object_refs`, it gives no rows of its own: its observables are rows already.
- everything else (malware, threat-actor, report, relationship, sighting, identity,
  marking-definition, other observables) is context, not a row: skipped, not quarantined.

`_line` is the object's position in the bundle's `objects` (1-based): the rows of one
indicator share it. A syntax error stops the file before any batch, as a `ParseError`
naming the line and column (`json_stream`). The tables are in docs/feeds.md.
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
    json_items,
    raw_text,
    text,
)
from entente.pipeline.parsers.rsit_words import classification
from entente.pipeline.parsers.stix_patterns import (
    Comparison,
    Observation,
    Unreducible,
    reduce_pattern,
)
from entente.vocabulary.markings import TLP

BLOCK_ROWS = 50_000
"""Rows (and quarantined objects) per batch: about half a CSV block, a few tens of MiB of JSON."""
IP_TYPES = ("ipv4-addr", "ipv6-addr")
VALUE_FIELDS = {
    "ipv4-addr": "source.ip",
    "ipv6-addr": "source.ip",
    "domain-name": "source.fqdn",
    "url": "source.url",
    "email-addr": "source.account",
}
"""Observable types whose `value` is the row's observable, and its field."""
HASHED_TYPES = ("file", "artifact")
HASH_FIELDS = {
    "MD5": "malware.hash.md5",
    "SHA1": "malware.hash.sha1",
    "SHA256": "malware.hash.sha256",
}
"""Hash names (upper-case, without `-`), as in `hashes.'SHA-256'`, and their field."""
SENDER_PATHS = (("from_ref", "value"), ("sender_ref", "value"))
"""`email-message` paths naming the sender's address (`source.account`)."""
OBSERVABLE_FIELDS = (
    "source.ip",
    "source.network",
    "source.fqdn",
    "source.url",
    "source.account",
    "malware.hash.md5",
    "malware.hash.sha1",
    "malware.hash.sha256",
)
"""A row needs one of these: a port or a file name alone reports nothing."""
COLUMNS = (
    "time.source",
    *OBSERVABLE_FIELDS,
    "source.port",
    "classification.taxonomy",
    "classification.type",
    "feed.accuracy",
    "tlp",
    "event_description.text",
    "extra.stix_id",
    "extra.stix_type",
    "extra.name",
    "extra.created_by_ref",
    "extra.labels",
    "extra.indicator_types",
    "extra.pattern",
    "extra.observed_data_ref",
)
"""The columns of every STIX batch, in order."""
DEFAULT_CONSTANTS = {"classification.type": "undetermined"}
TLP_MARKINGS = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": TLP.CLEAR,  # TLP:WHITE
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": TLP.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": TLP.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": TLP.RED,
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": TLP.CLEAR,
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": TLP.GREEN,
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": TLP.AMBER,
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": TLP.AMBER_STRICT,
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": TLP.RED,
}
"""The TLP 1.0 markings STIX 2.1 predefines and the TLP 2.0 ones of the OASIS extension."""
_RANKS = {level: level.rank for level in TLP}
TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

Values = dict[str, str | None]


@dataclass(slots=True)
class _Observer:
    """An observed-data object, as the observables it references see it."""

    id: str | None
    first_observed: str | None
    context: Mapping[str, Any]


@dataclass(slots=True)
class BundleIndex:
    """What the first pass learns: the objects' count, TLP per marking definition, and the
    observed-data object (the first) referencing each observable."""

    objects: int = 0
    tlp: dict[str, TLP] = field(default_factory=lambda: dict(TLP_MARKINGS))
    observers: dict[str, _Observer] = field(default_factory=dict)

    def marking(self, item: Mapping[str, Any]) -> str | None:
        """The strictest TLP among the object's markings (None when it has none)."""
        refs = item.get("object_marking_refs")
        refs = refs if isinstance(refs, list) else []
        found = [self.tlp[ref] for ref in refs if isinstance(ref, str) and ref in self.tlp]
        return max(found, key=_RANKS.__getitem__).value if found else None


def index_bundle(path: Path) -> BundleIndex:
    """The first pass (see `BundleIndex`); a syntax error anywhere is a `ParseError`."""
    index = BundleIndex()
    for item in json_items(path, "objects.item"):
        index.objects += 1
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "marking-definition" and isinstance(item.get("id"), str):
            level = marking_tlp(item)
            if level is not None:
                index.tlp[item["id"]] = level
        elif kind == "observed-data" and isinstance(item.get("object_refs"), list):
            observer = _Observer(text(item.get("id")), _first_observed(item), _context(item))
            for ref in item["object_refs"]:
                if isinstance(ref, str):
                    index.observers.setdefault(ref, observer)
    return index


def marking_tlp(item: Mapping[str, Any]) -> TLP | None:
    """The TLP level a marking definition sets: TLP 1.0 `definition.tlp`, the TLP 2.0
    extension's `tlp_2_0`, or a `TLP:<LEVEL>` name."""
    candidates = []
    definition = item.get("definition")
    if isinstance(definition, dict):
        candidates.append(definition.get("tlp"))
    extensions = item.get("extensions")
    if isinstance(extensions, dict) and isinstance(extensions.get(TLP2_EXTENSION), dict):
        candidates.append(extensions[TLP2_EXTENSION].get("tlp_2_0"))
    name = item.get("name")
    if isinstance(name, str) and name.upper().startswith("TLP:"):
        candidates.append(name[4:])
    for candidate in candidates:
        if isinstance(candidate, str):
            level = candidate.strip().lower().replace("white", "clear")
            if level in {member.value for member in TLP}:
                return TLP(level)
    return None


def _first_observed(item: Mapping[str, Any]) -> str | None:
    return text(item.get("first_observed")) or text(item.get("modified"))


def _context(item: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of an object its rows carry (kept small: the first pass holds many)."""
    keys = ("labels", "object_marking_refs", "created_by_ref", "confidence")
    return {key: item[key] for key in keys if key in item}


@dataclass(frozen=True, slots=True)
class StixParser:
    """STIX bundles (see the module docstring); a batch every `block` rows."""

    block: int = BLOCK_ROWS
    name: str = "stix"
    options: frozenset[str] = frozenset({"constants"})

    def parse(self, path: Path, options: ParserOptions) -> Iterator[StageOutput]:
        check_options(options, self.options)
        rows = Rows(path, COLUMNS, {**DEFAULT_CONSTANTS, **mapping_option(options, "constants")})
        if is_blank(path):
            return
        index = index_bundle(path)
        if index.objects == 0:
            _check_bundle(path)
            return
        for position, item in enumerate(json_items(path, "objects.item"), start=1):
            _map_object(item, position, index, rows)
            if len(rows) >= self.block:
                yield rows.take()
        if len(rows):
            yield rows.take()


def _check_bundle(path: Path) -> None:
    """Refuse a file without objects that is not a bundle (an empty bundle is fine)."""
    if "bundle" not in list(json_items(path, "type")):
        raise ParseError(
            'not a STIX bundle: no top-level "type": "bundle" and no "objects" list',
            file=str(path),
            line=1,
        )


def _map_object(item: Any, position: int, index: BundleIndex, rows: Rows) -> None:
    where = f"objects[{position - 1}]"
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        rows.reject(position, raw_text(where, item), "not a STIX object: no type", "type")
        return
    kind = item["type"]
    if kind == "indicator":
        _indicator(item, position, index, rows)
    elif kind == "observed-data" and isinstance(item.get("objects"), dict):
        common = _common(item, index) | {"time.source": _first_observed(item)}
        for key, embedded in item["objects"].items():
            if isinstance(embedded, dict):
                _observable(embedded, position, f"{where}.objects.{key}", common, rows)
    elif kind in VALUE_FIELDS or kind in HASHED_TYPES:
        _observable(item, position, where, _observable_common(item, index), rows)


def _common(item: Mapping[str, Any], index: BundleIndex) -> Values:
    """What every row of an object carries: classification, TLP, identity, labels."""
    words = [word for key in ("indicator_types", "labels") for word in _words(item.get(key))]
    taxonomy, kind = classification(words) or (None, None)
    return {
        "classification.taxonomy": taxonomy,
        "classification.type": kind,
        "feed.accuracy": text(item.get("confidence")),
        "tlp": index.marking(item),
        "event_description.text": text(item.get("description")),
        "extra.stix_id": text(item.get("id")),
        "extra.stix_type": text(item.get("type")),
        "extra.name": text(item.get("name")),
        "extra.created_by_ref": text(item.get("created_by_ref")),
        "extra.labels": joined(item.get("labels")),
        "extra.indicator_types": joined(item.get("indicator_types")),
    }


def _words(values: object) -> list[str]:
    return [value for value in values if isinstance(value, str)] if isinstance(values, list) else []


def _indicator(item: dict[str, Any], position: int, index: BundleIndex, rows: Rows) -> None:
    if item.get("pattern_type", "stix") != "stix":
        return
    pattern = item.get("pattern")
    where = f"objects[{position - 1}]"
    if not isinstance(pattern, str):
        rows.reject(position, raw_text(where, item), "indicator has no pattern", "pattern")
        return
    version = "2.1" if item.get("spec_version") == "2.1" else "2.0"
    try:
        found = [observation_fields(seen) for seen in reduce_pattern(pattern, version)]
    except Unreducible as exc:
        rows.reject(position, raw_text(where, item), f"pattern {pattern!r}: {exc}", "pattern")
        return
    common = _common(item, index)
    common["time.source"] = (
        text(item.get("valid_from")) or text(item.get("modified")) or text(item.get("created"))
    )
    common["extra.pattern"] = pattern
    for values in found:
        rows.add(position, common | values)


def _observable_common(item: Mapping[str, Any], index: BundleIndex) -> Values:
    """A top-level observable's context: its observed-data object's, where one names it."""
    observer = index.observers.get(str(item.get("id")))
    if observer is None:
        return _common(item, index)
    common = _common({**observer.context, **item}, index)
    common["time.source"] = observer.first_observed
    common["extra.observed_data_ref"] = observer.id
    return common


def _observable(
    item: Mapping[str, Any], position: int, where: str, common: Values, rows: Rows
) -> None:
    kind = text(item.get("type"))
    if kind in VALUE_FIELDS:
        value = text(item.get("value"))
        if not value:
            rows.reject(position, raw_text(where, item), f"{kind} has no value", "value")
            return
        rows.add(position, common | {_value_field(kind, value, "="): value})
    elif kind in HASHED_TYPES and isinstance(item.get("hashes"), dict):
        hashes = {
            HASH_FIELDS[_hash_key(name)]: text(value)
            for name, value in item["hashes"].items()
            if _hash_key(name) in HASH_FIELDS
        }
        if hashes:
            rows.add(position, common | hashes)


def _hash_key(name: str) -> str:
    return name.upper().replace("-", "").replace("_", "")


def _value_field(kind: str, value: str, operator: str) -> str:
    if kind in IP_TYPES and (operator == "ISSUBSET" or "/" in value):
        return "source.network"
    return VALUE_FIELDS[kind]


def observation_fields(observation: Observation) -> Values:
    """The fields of the row one observation gives; `Unreducible` when it names no
    observable field, or two values for one field."""
    kind = observation[0].object_type
    side = _traffic_side(observation) if kind == "network-traffic" else ""
    ref_types = {
        seen.path[0]: seen.value
        for seen in observation
        if len(seen.path) == 2 and seen.path[1] == "type"
    }
    values: Values = {}
    for seen in observation:
        target = _comparison_field(seen, side, ref_types)
        if target is None:
            continue
        earlier = values.setdefault(target, seen.value)
        if earlier != seen.value:
            raise Unreducible(f"two values for {target}: {earlier!r} and {seen.value!r}")
    if not any(name in OBSERVABLE_FIELDS for name in values):
        first = observation[0]
        raise Unreducible(f"no vocabulary field for {first.object_type}:{'.'.join(first.path)}")
    return values


def _traffic_side(observation: Observation) -> str:
    """`dst` or `src`: the end of a network-traffic object the row reports (the destination
    when the pattern names it, as a C2 indicator does)."""
    named = {seen.path[0] for seen in observation}
    return "src" if "src_ref" in named and "dst_ref" not in named else "dst"


def _comparison_field(seen: Comparison, side: str, ref_types: Mapping[str, str]) -> str | None:
    kind, path, operator = seen.object_type, seen.path, seen.operator
    if kind == "network-traffic" and path == (f"{side}_ref", "value"):
        if ref_types.get(f"{side}_ref") == "domain-name":
            return "source.fqdn" if operator == "=" else None
        return _value_field("ipv4-addr", seen.value, operator)
    if path == ("value",) and kind in VALUE_FIELDS:
        if operator == "ISSUBSET" and kind not in IP_TYPES:
            return None
        return _value_field(kind, seen.value, operator)
    if operator != "=":
        return None
    if kind in HASHED_TYPES and len(path) == 2 and path[0] == "hashes":
        return HASH_FIELDS.get(_hash_key(path[1]))
    if kind == "email-message" and path in SENDER_PATHS:
        return "source.account"
    if kind == "network-traffic" and path == (f"{side}_port",):
        return "source.port"
    return None
