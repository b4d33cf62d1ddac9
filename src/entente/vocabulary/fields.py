"""The field vocabulary of the pipeline, read from `data/fields.yaml`, and what is generated
from it: the polars and Arrow schemas of a batch, and the `docs/fields.md` page.

Why one data file: a field is named, typed and described once, so the normaliser, the
stored Parquet schema and the documentation cannot disagree (STYLE habit 2). Names follow
IntelMQ's harmonisation (intelmq/etc/harmonization.conf), so IntelMQ users and exports map
one to one; columns a feed carries beyond the vocabulary go to `extra.<name>`.
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]
import yaml  # type: ignore[import-untyped]

from entente.core.errors import BadValue, UnknownField
from entente.vocabulary.taxonomies import load_taxonomies

EXTRA_PREFIX = "extra."


class FieldType(StrEnum):
    """The value types of the vocabulary; each says how values are checked and stored."""

    STRING = "String"
    LOWERCASE_STRING = "LowercaseString"
    FLOAT = "Float"
    BOOLEAN = "Boolean"
    PORT = "Port"
    ASN = "ASN"
    IP_ADDRESS = "IPAddress"
    IP_NETWORK = "IPNetwork"
    FQDN = "FQDN"
    URL = "URL"
    DATETIME = "DateTime"
    COUNTRY_CODE = "CountryCode"
    CLASSIFICATION_TAXONOMY = "ClassificationTaxonomy"
    CLASSIFICATION_TYPE = "ClassificationType"
    HASH = "Hash"
    TLP = "TLP"
    EXTRA = "Extra"

    @property
    def polars_type(self) -> pl.DataType:
        """How a column of this type is stored; addresses stay canonical text (see addresses.py
        for the numeric form lookups use)."""
        return _POLARS_TYPES.get(self, pl.String())

    @property
    def arrow_type(self) -> pa.DataType:
        # The types polars hands to Arrow (large_string for String), so a batch written by
        # polars and the schema below agree without a cast.
        return _ARROW_TYPES.get(self, pa.large_string())

    @property
    def description(self) -> str:
        return str(_type_specs()[self.value]["description"])


_POLARS_TYPES: dict[FieldType, pl.DataType] = {
    FieldType.FLOAT: pl.Float64(),
    FieldType.BOOLEAN: pl.Boolean(),
    FieldType.PORT: pl.Int32(),
    FieldType.ASN: pl.Int64(),
    FieldType.DATETIME: pl.Datetime("us", "UTC"),
}
_ARROW_TYPES: dict[FieldType, pa.DataType] = {
    FieldType.FLOAT: pa.float64(),
    FieldType.BOOLEAN: pa.bool_(),
    FieldType.PORT: pa.int32(),
    FieldType.ASN: pa.int64(),
    FieldType.DATETIME: pa.timestamp("us", tz="UTC"),
}


@dataclass(frozen=True, slots=True)
class Field:
    """One vocabulary field: its type, what it means, and the constraints its values meet.

    `minimum`/`maximum` bound Float fields, `length` is a Hash's number of hex digits,
    `choices` the allowed values of a String field (matched case-insensitively, stored as
    spelled here). `intelmq` is False for the few fields IntelMQ's harmonisation lacks.
    """

    name: str
    type: FieldType
    description: str
    minimum: float | None = None
    maximum: float | None = None
    length: int | None = None
    choices: tuple[str, ...] = ()
    intelmq: bool = True

    @property
    def polars_type(self) -> pl.DataType:
        return self.type.polars_type

    @property
    def constraints(self) -> str:
        """The constraints in words, for docs and error messages ("" when there are none)."""
        parts = []
        if self.minimum is not None and self.maximum is not None:
            parts.append(f"{_number(self.minimum)} to {_number(self.maximum)}")
        if self.length is not None:
            parts.append(f"{self.length} hex digits")
        if self.choices:
            parts.append("one of " + ", ".join(self.choices))
        return "; ".join(parts)


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


# --- loading -----------------------------------------------------------------------------------


@cache
def _document() -> Mapping[str, Any]:
    text = resources.files("entente.vocabulary").joinpath("data", "fields.yaml").read_text("utf-8")
    document = yaml.safe_load(text)
    if not isinstance(document, dict) or not {"types", "fields"} <= document.keys():
        raise BadValue("fields.yaml needs `types` and `fields`", field="vocabulary")
    return MappingProxyType(document)


def _type_specs() -> Mapping[str, Mapping[str, Any]]:
    specs: Mapping[str, Mapping[str, Any]] = _document()["types"]
    return specs


def _field_from_yaml(name: str, spec: Mapping[str, Any]) -> Field:
    try:
        kind = FieldType(spec["type"])
        return Field(
            name=name,
            type=kind,
            description=str(spec["description"]),
            minimum=_optional_float(spec.get("minimum")),
            maximum=_optional_float(spec.get("maximum")),
            length=int(spec["length"]) if "length" in spec else None,
            choices=tuple(str(choice) for choice in spec.get("choices", ())),
            intelmq=bool(spec.get("intelmq", True)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BadValue(f"malformed field in fields.yaml: {exc}", field=name) from exc


def _optional_float(value: object) -> float | None:
    return None if value is None else float(str(value))


def _read_fields() -> Mapping[str, Field]:
    fields = {name: _field_from_yaml(name, spec) for name, spec in _document()["fields"].items()}
    missing = {kind.value for kind in FieldType} - set(_type_specs())
    if missing:
        raise BadValue(f"fields.yaml does not describe types {sorted(missing)}", field="types")
    return MappingProxyType(fields)


FIELDS: Mapping[str, Field] = _read_fields()
"""Every vocabulary field by name, in the order of fields.yaml."""


def is_extra(name: str) -> bool:
    """Whether `name` is a free-form `extra.<name>` column."""
    return name.startswith(EXTRA_PREFIX) and len(name) > len(EXTRA_PREFIX)


def field(name: str) -> Field:
    """The field called `name`; an `extra.<name>` column is described by the `extra` field."""
    found = FIELDS.get(name)
    if found is not None:
        return found
    if is_extra(name):
        return replace(FIELDS["extra"], name=name)
    close = difflib.get_close_matches(name, list(FIELDS), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; use {EXTRA_PREFIX}<name>"
    raise UnknownField(f"unknown field {name!r}{hint}", field=name, value=name)


# --- what the types allow (data the normaliser checks against) ---------------------------------


@cache
def country_codes() -> frozenset[str]:
    """The codes a CountryCode accepts: the member states (ISO 3166-1) plus the other
    territories and regional codes listed in fields.yaml."""
    table = resources.files("entente.members").joinpath("data", "member_states.csv")
    member_states = {row["alpha2"] for row in csv.DictReader(io.StringIO(table.read_text("utf-8")))}
    also = _type_specs()["CountryCode"].get("also_allowed", ())
    return frozenset(member_states | {str(code) for code in also})


def unknown_country_codes() -> frozenset[str]:
    """Codes that mean "country unknown"; they become null rather than an error."""
    return frozenset(str(code) for code in _type_specs()["CountryCode"].get("unknown", ()))


@cache
def classification_types() -> Mapping[str, str]:
    """Each RSIT incident type with the incident class (taxonomy) it belongs to."""
    rsit = load_taxonomies()["rsit"]
    return MappingProxyType(
        {
            value.value: predicate.value
            for predicate in rsit.predicates
            for value in predicate.values
        }
    )


def classification_taxonomies() -> tuple[str, ...]:
    """The RSIT incident classes, the values `classification.taxonomy` takes."""
    return tuple(predicate.value for predicate in load_taxonomies()["rsit"].predicates)


def classification_type_aliases() -> Mapping[str, str]:
    """Older spellings of incident types (IntelMQ's `botnet drone`, ...) and the type meant."""
    aliases = _type_specs()["ClassificationType"].get("aliases", {})
    return MappingProxyType({str(old).lower(): str(new) for old, new in aliases.items()})


# --- generated schemas -------------------------------------------------------------------------


def _stored_fields() -> list[Field]:
    # `extra` is a prefix for free columns, not a column of its own.
    return [item for item in FIELDS.values() if item.type is not FieldType.EXTRA]


def polars_schema() -> pl.Schema:
    """The polars types of every vocabulary column, as a normalised batch carries them."""
    return pl.Schema({item.name: item.polars_type for item in _stored_fields()})


def arrow_schema() -> pa.Schema:
    """The Arrow schema of the vocabulary columns, each field carrying its type and description."""
    return pa.schema(
        [
            pa.field(
                item.name,
                item.type.arrow_type,
                metadata={"type": item.type.value, "description": item.description},
            )
            for item in _stored_fields()
        ]
    )


# --- generated documentation -------------------------------------------------------------------

_DOCS_INTRO = """\
# Field vocabulary

<!-- Generated from src/entente/vocabulary/data/fields.yaml; do not edit by hand.
     Regenerate with: python -m entente.vocabulary.fields > docs/fields.md -->

Every event the early-warning pipeline handles is a set of the fields below. The names are
those of IntelMQ's harmonisation, so IntelMQ users and exports find the fields they know;
fields marked "no" under IntelMQ are Entente's additions. A column a feed carries that has
no field here is kept as `extra.<name>`; nothing is dropped.

The normaliser checks every value against its field's type and stores it in canonical form.
An empty value becomes empty (null), not an error. A row with a value that does not fit goes
to quarantine, with the field and the value in its reason (for example
`source.port: '70000' is not a port (0 to 65535)`); the rest of the batch goes on.
"""


def _type_rows() -> list[str]:
    rows = ["| Type | Stored as | Accepts and stores |", "|---|---|---|"]
    for kind in FieldType:
        stored = "as the feed gives it" if kind is FieldType.EXTRA else f"`{kind.arrow_type}`"
        rows.append(f"| {kind.value} | {stored} | {kind.description} |")
    return rows


def _field_rows() -> list[str]:
    lines: list[str] = []
    group = ""
    for item in FIELDS.values():
        head = item.name.split(".", 1)[0]
        if head != group:
            group = head
            lines += ["", f"### {group}", ""]
            lines += [
                "| Field | Type | Constraints | IntelMQ | Description |",
                "|---|---|---|---|---|",
            ]
        name = f"`{item.name}.<name>`" if item.type is FieldType.EXTRA else f"`{item.name}`"
        intelmq = "yes" if item.intelmq else "no"
        lines.append(
            f"| {name} | {item.type.value} | {item.constraints} | {intelmq} | {item.description} |"
        )
    return lines


def _value_lists() -> list[str]:
    codes = sorted(country_codes())
    aliases = sorted(classification_type_aliases().items())
    return [
        "## Allowed values",
        "",
        "**CountryCode** accepts the ISO 3166-1 alpha-2 codes of the member states, the other",
        "ISO 3166-1 territories, `EU` and `AP` (regional allocations, as MaxMind and the RIRs",
        "report them) and `XK` (Kosovo). "
        + ", ".join(f"`{code}`" for code in sorted(unknown_country_codes()))
        + " (unknown) becomes empty. All accepted codes:",
        "",
        " ".join(codes),
        "",
        "**ClassificationTaxonomy** and **ClassificationType** take the RSIT incident classes and",
        "types listed in [taxonomies](taxonomies.md) (`rsit`), in any case and with spaces for",
        "hyphens (`Malicious Code`). These older spellings of types are read as:",
        "",
        "| Spelling | Type |",
        "|---|---|",
        *(f"| `{old}` | `{new}` |" for old, new in aliases),
        "",
        "A type fills an empty `classification.taxonomy` with its class; a row whose taxonomy",
        "and type disagree goes to quarantine.",
    ]


def fields_markdown() -> str:
    """The text of docs/fields.md, generated so the docs never drift from fields.yaml."""
    lines = [_DOCS_INTRO, "## Types", "", *_type_rows(), "", "## Fields", *_field_rows(), ""]
    lines += _value_lists()
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(fields_markdown(), end="")
