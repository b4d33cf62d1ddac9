"""The field vocabulary loads from fields.yaml, generates consistent schemas and docs, and
refuses names outside it."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from entente.core.errors import BadValue, UnknownField
from entente.vocabulary.fields import (
    FIELDS,
    FieldType,
    _field_from_yaml,
    arrow_schema,
    classification_type_aliases,
    classification_types,
    country_codes,
    field,
    fields_markdown,
    polars_schema,
    unknown_country_codes,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "fields.md"

# A sample of IntelMQ harmonisation names and types (intelmq/etc/harmonization.conf, 3.5):
# IntelMQ users and exports rely on these meaning the same here.
INTELMQ_FIELDS = {
    "time.source": FieldType.DATETIME,
    "time.observation": FieldType.DATETIME,
    "source.ip": FieldType.IP_ADDRESS,
    "source.port": FieldType.PORT,
    "source.asn": FieldType.ASN,
    "source.network": FieldType.IP_NETWORK,
    "source.fqdn": FieldType.FQDN,
    "source.reverse_dns": FieldType.FQDN,
    "source.url": FieldType.URL,
    "source.geolocation.cc": FieldType.COUNTRY_CODE,
    "destination.ip": FieldType.IP_ADDRESS,
    "destination.port": FieldType.PORT,
    "classification.taxonomy": FieldType.CLASSIFICATION_TAXONOMY,
    "classification.type": FieldType.CLASSIFICATION_TYPE,
    "feed.accuracy": FieldType.FLOAT,
    "malware.hash.sha256": FieldType.HASH,
    "tlp": FieldType.TLP,
    "extra": FieldType.EXTRA,
}


def test_intelmq_names_keep_their_meaning() -> None:
    for name, kind in INTELMQ_FIELDS.items():
        assert FIELDS[name].type is kind, name
        assert FIELDS[name].intelmq, name


def test_every_field_is_named_typed_and_described() -> None:
    for name, spec in FIELDS.items():
        assert spec.name == name
        assert re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*", name), name
        assert spec.description.strip() and "\n" not in spec.description, name
        assert spec.type.description, spec.type


def test_constraints_sit_on_the_types_that_use_them() -> None:
    for spec in FIELDS.values():
        if spec.length is not None:
            assert spec.type is FieldType.HASH, spec.name
        if spec.choices:
            assert spec.type in {FieldType.STRING, FieldType.LOWERCASE_STRING}, spec.name
        if spec.minimum is not None or spec.maximum is not None:
            assert spec.type is FieldType.FLOAT, spec.name
            assert spec.minimum is not None and spec.maximum is not None
            assert spec.minimum < spec.maximum, spec.name
    assert [FIELDS[f"malware.hash.{name}"].length for name in ("md5", "sha1", "sha256")] == [
        32,
        40,
        64,
    ]
    assert (FIELDS["feed.accuracy"].minimum, FIELDS["feed.accuracy"].maximum) == (0, 100)


def test_polars_schema_types() -> None:
    schema = polars_schema()
    assert schema["source.ip"] == pl.String
    assert schema["source.network"] == pl.String
    assert schema["source.port"] == pl.Int32
    assert schema["source.asn"] == pl.Int64
    assert schema["time.source"] == pl.Datetime("us", "UTC")
    assert schema["feed.accuracy"] == pl.Float64
    assert schema["source.tor_node"] == pl.Boolean
    assert schema["classification.type"] == pl.String
    assert "extra" not in schema  # a prefix for free columns, not a column
    assert len(schema) == len(FIELDS) - 1


def test_arrow_schema_is_what_polars_writes() -> None:
    written = pl.DataFrame(schema=polars_schema()).to_arrow().schema
    generated = arrow_schema()
    assert generated.names == written.names
    for name in generated.names:
        assert generated.field(name).type == written.field(name).type, name
    metadata = generated.field("source.asn").metadata
    assert metadata[b"type"] == b"ASN"
    assert metadata[b"description"] == FIELDS["source.asn"].description.encode()


def test_field_lookup() -> None:
    assert field("source.ip") is FIELDS["source.ip"]
    extra = field("extra.naics")
    assert extra.name == "extra.naics"
    assert extra.type is FieldType.EXTRA


@pytest.mark.parametrize("name", ["source.ipp", "src_ip", "extra.", "Source.IP"])
def test_unknown_field_is_refused_with_a_hint(name: str) -> None:
    with pytest.raises(UnknownField) as error:
        field(name)
    assert error.value.field == name
    assert repr(name) in error.value.message


def test_unknown_field_suggests_close_names() -> None:
    with pytest.raises(UnknownField, match=r"did you mean source\.ip"):
        field("source.ipp")


def test_docs_page_is_generated_from_the_vocabulary() -> None:
    # Regenerate with: python -m entente.vocabulary.fields > docs/fields.md
    assert DOCS.read_text("utf-8") == fields_markdown()


def test_docs_list_every_field_and_type() -> None:
    text = fields_markdown()
    for name, spec in FIELDS.items():
        shown = f"`{name}.<name>`" if spec.type is FieldType.EXTRA else f"`{name}`"
        assert f"| {shown} | {spec.type.value} |" in text, name
    for kind in FieldType:
        assert f"| {kind.value} |" in text


def test_country_codes_cover_iso_3166_and_regional_codes() -> None:
    codes = country_codes()
    assert {"DE", "FR", "US", "CN", "BR"} <= codes  # member states
    assert {"HK", "TW", "PR", "GL", "AQ"} <= codes  # ISO territories outside the ITU
    assert {"EU", "AP", "XK"} <= codes
    assert len(codes) == 249 + 3
    assert all(re.fullmatch(r"[A-Z]{2}", code) for code in codes)
    assert unknown_country_codes() == {"ZZ"}
    assert not codes & unknown_country_codes()


def test_classification_aliases_point_at_rsit_types() -> None:
    types = classification_types()
    assert types["vulnerable-system"] == "vulnerable"
    assert types["scanner"] == "information-gathering"
    for old, new in classification_type_aliases().items():
        assert new in types, old
        assert old not in types, old  # an alias never shadows a real type


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "IPv4", "description": "an unknown type"},
        {"type": "String"},
        {"type": "Float", "description": "bad bound", "minimum": "low"},
    ],
)
def test_a_malformed_field_entry_names_the_field(spec: dict[str, object]) -> None:
    with pytest.raises(BadValue) as error:
        _field_from_yaml("source.broken", spec)
    assert error.value.field == "source.broken"
