"""Taxonomies (TLP 2.0, PAP, admiralty scale, RSIT) kept as data files, and machine tags over them.

The files in `data/taxonomies/` follow the shape of MISP's taxonomies
(https://github.com/MISP/misp-taxonomies: namespace, description, predicates with
`expanded`/`description`/`colour`, optional values), so a MISP user can read them and a MISP
taxonomy can be dropped in with light edits. A tag is written as a MISP machine tag,
`namespace:predicate` or `namespace:predicate="value"` (https://www.misp-project.org/taxonomies.html).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from entente.core.errors import BadValue

DEFAULT_TAG_COLOUR = "#6C757D"


@dataclass(frozen=True)
class TaxonomyValue:
    """One value under a predicate, e.g. `c2-server` under RSIT's `malicious-code`."""

    value: str
    expanded: str
    description: str
    colour: str | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Predicate:
    """A predicate (RSIT: an incident class; TLP: a colour); `values` empty when it stands alone."""

    value: str
    expanded: str
    description: str
    colour: str | None = None
    exclusive: bool = False
    aliases: tuple[str, ...] = ()
    values: tuple[TaxonomyValue, ...] = ()

    def find_value(self, name: str) -> TaxonomyValue | None:
        """The value called `name` or one of its aliases, compared case-insensitively."""
        return _find(self.values, name)


@dataclass(frozen=True)
class Taxonomy:
    """A namespace of tags; `exclusive` means at most one of its tags on one object (TLP, PAP)."""

    namespace: str
    description: str
    version: int
    predicates: tuple[Predicate, ...]
    exclusive: bool = False
    colour: str = DEFAULT_TAG_COLOUR

    def find_predicate(self, name: str) -> Predicate | None:
        """The predicate called `name` or one of its aliases (TLP 1.0's `white`), any case."""
        return _find(self.predicates, name)


@dataclass(frozen=True)
class MachineTag:
    """A validated tag in its canonical spelling; `value` is None for `namespace:predicate` tags."""

    namespace: str
    predicate: str
    value: str | None = None

    def __str__(self) -> str:
        return format_machine_tag(self)


@dataclass(frozen=True)
class TagDisplay:
    """What the UI shows for a tag: a human label and a badge colour."""

    label: str
    colour: str


class _Named(Protocol):
    @property
    def value(self) -> str: ...
    @property
    def aliases(self) -> tuple[str, ...]: ...


_NamedT = TypeVar("_NamedT", bound=_Named)


def _find(items: tuple[_NamedT, ...], name: str) -> _NamedT | None:
    wanted = name.strip().lower()
    for item in items:
        if item.value == wanted or wanted in item.aliases:
            return item
    return None


# --- loading -----------------------------------------------------------------------------------


@cache
def load_taxonomies() -> Mapping[str, Taxonomy]:
    """The shipped taxonomies by namespace, read once per process (the files are read-only)."""
    directory = resources.files("entente.vocabulary").joinpath("data", "taxonomies")
    return MappingProxyType(read_taxonomies(directory))


def read_taxonomies(directory: Traversable) -> dict[str, Taxonomy]:
    """Every `*.json` taxonomy in `directory`; a malformed file raises BadValue naming the file."""
    taxonomies: dict[str, Taxonomy] = {}
    for entry in sorted(directory.iterdir(), key=lambda item: item.name):
        if not entry.name.endswith(".json"):
            continue
        try:
            taxonomy = _taxonomy_from_json(json.loads(entry.read_text("utf-8")))
        except (KeyError, TypeError, ValueError) as exc:
            message = f"malformed taxonomy file: {exc}"
            raise BadValue(message, field="taxonomy", value=entry.name) from exc
        if taxonomy.namespace in taxonomies:
            raise BadValue("duplicate taxonomy namespace", field="taxonomy", value=entry.name)
        taxonomies[taxonomy.namespace] = taxonomy
    return taxonomies


def _taxonomy_from_json(data: dict[str, Any]) -> Taxonomy:
    return Taxonomy(
        namespace=_name(data["namespace"]),
        description=str(data["description"]),
        version=int(data.get("version", 1)),
        predicates=tuple(_predicate_from_json(item) for item in data["predicates"]),
        exclusive=bool(data.get("exclusive", False)),
        colour=str(data.get("colour", DEFAULT_TAG_COLOUR)),
    )


def _predicate_from_json(data: dict[str, Any]) -> Predicate:
    return Predicate(
        value=_name(data["value"]),
        expanded=str(data["expanded"]),
        description=str(data.get("description", "")),
        colour=data.get("colour"),
        exclusive=bool(data.get("exclusive", False)),
        aliases=tuple(_name(alias) for alias in data.get("aliases", ())),
        values=tuple(_value_from_json(item) for item in data.get("values", ())),
    )


def _value_from_json(data: dict[str, Any]) -> TaxonomyValue:
    return TaxonomyValue(
        value=_name(data["value"]),
        expanded=str(data["expanded"]),
        description=str(data.get("description", "")),
        colour=data.get("colour"),
        aliases=tuple(_name(alias) for alias in data.get("aliases", ())),
    )


_NAME = re.compile(r"[a-z0-9][a-z0-9+._-]*")


def _name(raw: object) -> str:
    # Names are stored lower-case so that matching a tag is one comparison, whatever its spelling.
    if not isinstance(raw, str) or not _NAME.fullmatch(raw.lower()):
        raise ValueError(f"bad name {raw!r}: lower-case letters, digits and + . _ - only")
    return raw.lower()


# --- machine tags ------------------------------------------------------------------------------

_MACHINE_TAG = re.compile(r'\s*([^:="\s]+):([^="\s]+)(?:="([^"]*)")?\s*')


def parse_machine_tag(text: str) -> MachineTag:
    """Read `ns:predicate` or `ns:predicate="value"` into its canonical form, or raise BadValue."""
    match = _MACHINE_TAG.fullmatch(text)
    if match is None:
        raise BadValue('not a machine tag (namespace:predicate="value")', field="tag", value=text)
    namespace, predicate_name, value_name = match.groups()
    taxonomy = load_taxonomies().get(namespace.lower())
    if taxonomy is None:
        raise BadValue(f"unknown taxonomy namespace {namespace!r}", field="tag", value=text)
    predicate = taxonomy.find_predicate(predicate_name)
    if predicate is None:
        message = f"unknown predicate {predicate_name!r} in {taxonomy.namespace}"
        raise BadValue(message, field="tag", value=text)
    if value_name is None:
        return MachineTag(taxonomy.namespace, predicate.value)
    value = predicate.find_value(value_name)
    if value is None:
        message = f"unknown value {value_name!r} for {taxonomy.namespace}:{predicate.value}"
        raise BadValue(message, field="tag", value=text)
    return MachineTag(taxonomy.namespace, predicate.value, value.value)


def format_machine_tag(tag: MachineTag) -> str:
    """The canonical text of a tag: `ns:predicate` or `ns:predicate="value"`."""
    head = f"{tag.namespace}:{tag.predicate}"
    return head if tag.value is None else f'{head}="{tag.value}"'


def describe_tag(tag: MachineTag | str) -> TagDisplay:
    """Label and badge colour of a tag; the most specific colour wins (value > predicate > ns)."""
    # Re-parsing a MachineTag built by hand validates it the same way as typed text.
    parsed = parse_machine_tag(tag if isinstance(tag, str) else format_machine_tag(tag))
    taxonomy = load_taxonomies()[parsed.namespace]
    predicate = taxonomy.find_predicate(parsed.predicate)
    assert predicate is not None  # parse_machine_tag has checked it
    value = predicate.find_value(parsed.value) if parsed.value is not None else None
    if value is None:
        return TagDisplay(predicate.expanded, predicate.colour or taxonomy.colour)
    label = f"{predicate.expanded}: {value.expanded}"
    return TagDisplay(label, value.colour or predicate.colour or taxonomy.colour)


def all_machine_tags() -> list[MachineTag]:
    """Every tag the taxonomies allow (predicates alone and with each value), e.g. for a picker."""
    tags: list[MachineTag] = []
    for taxonomy in load_taxonomies().values():
        for predicate in taxonomy.predicates:
            tags.append(MachineTag(taxonomy.namespace, predicate.value))
            tags.extend(
                MachineTag(taxonomy.namespace, predicate.value, value.value)
                for value in predicate.values
            )
    return tags
