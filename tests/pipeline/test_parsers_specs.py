"""The declared feed specs: valid against the vocabulary, documented, and the engine's rules."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import numpy as np
import polars as pl
import pytest

from entente.core.errors import BadValue, ParseError, UnknownField
from entente.pipeline.batches import StageOutput
from entente.pipeline.parsers import InMemoryParser, parser, parsers
from entente.pipeline.parsers.abusech import PARSERS as ABUSECH
from entente.pipeline.parsers.converters import CONVERTERS, converter
from entente.pipeline.parsers.feed_docs import BEGIN, END, feeds_markdown, with_tables
from entente.pipeline.parsers.mapping import FeedSpec, Rule, check_spec, map_rows, rules
from entente.pipeline.parsers.shadowserver_reports import REPORTS

DOCS = Path(__file__).parents[2] / "docs" / "feeds.md"
SPECS = [*REPORTS.values(), *(abusech.spec for abusech in ABUSECH)]


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_every_declared_spec_names_vocabulary_fields_and_known_converters(spec: FeedSpec) -> None:
    check_spec(spec)
    read = spec.columns_read()
    assert set(spec.required) <= set(spec.header)
    assert read <= set(spec.header), f"rules read unpublished columns {read - set(spec.header)}"


def test_docs_hold_the_rendered_tables() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert feeds_markdown() in text, "regenerate: python -m entente.pipeline.parsers.feed_docs"


def test_rendered_tables_cover_every_spec_and_converter() -> None:
    rendered = feeds_markdown()
    for spec in SPECS:
        assert f"#### `{spec.name}`: {spec.title}" in rendered
    for name in CONVERTERS:
        assert f"| `{name}` |" in rendered
    assert "| `ioc_value` | `source.fqdn` | `keep` where `ioc_type` is `domain` |" in rendered
    assert "`url_from_request` (`cc_dns`, `cc_ip`)" in rendered


def test_with_tables_replaces_only_the_generated_part() -> None:
    page = f"# Title\n\nprose\n\n{BEGIN}\nold tables\n{END}\n\nafter\n"
    updated = with_tables(page)
    assert updated.startswith("# Title\n\nprose\n\n" + BEGIN)
    assert "old tables" not in updated and updated.endswith(END + "\n\nafter\n")


def test_registry_knows_every_parser() -> None:
    names = set(parsers())
    assert names == {
        "shadowserver",
        "urlhaus",
        "feodotracker",
        "threatfox",
        "sslbl",
        "sslbl_ip",
        "spamhaus_drop",
        "list",
        "generic_csv",
        "stix",
        "misp_feed",
    }
    assert all(parser(name).name == name for name in names)


def test_in_memory_parser_yields_what_it_was_given(tmp_path: Path) -> None:
    output = StageOutput(pl.DataFrame({"source.ip": ["192.0.2.1"]}), pl.DataFrame())
    fake = InMemoryParser("fake", [output])
    assert list(fake.parse(tmp_path / "unused", {})) == [output]


# --- the engine -------------------------------------------------------------------------------

SPEC = FeedSpec(
    name="test",
    title="Test feed",
    provider="Tests",
    header=("when", "ip", "kind", "value", "note"),
    rules=rules(
        ("when", "time.source", "add_utc"),
        ("ip", "source.ip"),
        Rule("value", "source.fqdn", when=("kind", "domain")),
        Rule("value", "source.url", when=("kind", "url")),
        ("kind", "classification.identifier", "lower"),
    ),
    constants=MappingProxyType(
        {"classification.type": "scanner", "classification.identifier": "default-id"}
    ),
)


def test_map_rows_applies_rules_conditions_constants_and_extra() -> None:
    rows = pl.DataFrame(
        {
            "when": ["2026-11-20 03:14:15", "2026-11-20"],
            "ip": ["192.0.2.1", None],
            "kind": ["Domain", "url"],
            "value": ["example.com", "http://example.com/x"],
            "note": ["a", "b"],
            "surprise": ["c", None],
        }
    )
    mapped = map_rows(rows, SPEC, "feed.csv", np.array([2, 5]))
    assert mapped.columns == [
        "time.source",
        "source.ip",
        "source.fqdn",
        "source.url",
        "classification.identifier",
        "feed.name",
        "feed.provider",
        "classification.type",
        "extra.note",
        "extra.surprise",
        "_file",
        "_line",
    ]
    assert mapped.row(0) == (
        "2026-11-20T03:14:15+00:00",
        "192.0.2.1",
        None,  # the condition compares the value as read: "Domain" is not "domain"
        None,
        "domain",
        "Test feed",
        "Tests",
        "scanner",
        "a",
        "c",
        "feed.csv",
        2,
    )
    assert mapped.row(1)[:4] == ("2026-11-20T00:00:00+00:00", None, None, "http://example.com/x")
    assert mapped.schema["_line"] == pl.Int64


def test_map_rows_fills_missing_optional_columns_and_uses_the_constant() -> None:
    rows = pl.DataFrame({"when": ["2026-11-20 03:14:15"], "ip": ["192.0.2.1"]})
    mapped = map_rows(rows, SPEC, "feed.csv", np.array([2]))
    assert mapped["classification.identifier"].to_list() == ["default-id"]
    assert mapped["source.fqdn"].to_list() == [None]


def test_map_rows_refuses_an_extra_column_that_would_overwrite_a_field() -> None:
    spec = FeedSpec("t", "T", "P", ("a",), rules(("a", "extra.b")))
    with pytest.raises(ParseError) as caught:
        map_rows(pl.DataFrame({"a": ["1"], "b": ["2"]}), spec, "f.csv", np.array([2]))
    assert caught.value.column == "b"


def test_check_spec_names_the_bad_field_or_converter() -> None:
    with pytest.raises(UnknownField) as unknown:
        check_spec(FeedSpec("t", "T", "P", ("a",), rules(("a", "source.addr"))))
    assert unknown.value.field == "source.addr"
    with pytest.raises(BadValue):
        check_spec(FeedSpec("t", "T", "P", ("a",), rules(("a", "source.ip", "nope"))))
    with pytest.raises(BadValue):
        check_spec(FeedSpec("t", "T", "P", ("a",), rules(("a", "status", "lookup", ("x",)))))
    with pytest.raises(UnknownField):
        check_spec(FeedSpec("t", "T", "P", (), (), constants=MappingProxyType({"severity.x": "1"})))


# --- converters ------------------------------------------------------------------------------


def convert(name: str, values: list[str | None], *arguments: str, **columns: list) -> list:
    frame = pl.DataFrame({"v": values, **columns}, schema_overrides={"v": pl.String})
    return frame.select(converter(name).convert(pl.col("v"), arguments)).to_series().to_list()


def test_add_utc() -> None:
    assert convert(
        "add_utc",
        [
            "2026-11-20 03:14:15",
            "2026-11-20T03:14:15Z",
            "2026-11-20 03:14:15 UTC",
            "2026-11-20",
            "2026-11-20T03:14:15+02:00",
            "junk",
            None,
        ],
    ) == [
        "2026-11-20T03:14:15+00:00",
        "2026-11-20T03:14:15+00:00",
        "2026-11-20T03:14:15+00:00",
        "2026-11-20T00:00:00+00:00",
        "2026-11-20T03:14:15+02:00",
        "junk",
        None,
    ]


def test_null_converters() -> None:
    assert convert("zero_to_null", ["0", " 0", "64496", None]) == [None, None, "64496", None]
    assert convert("placeholder_to_null", ["None", "n/a", "-", "", "x"]) == [
        None,
        None,
        None,
        None,
        "x",
    ]


def test_endpoint_converters() -> None:
    values = ["192.0.2.1:443", "[2001:db8::1]:8443", "2001:db8::1", "host.example:80", "x"]
    assert convert("endpoint_host", values) == [
        "192.0.2.1",
        "2001:db8::1",
        "2001:db8::1",
        "host.example",
        "x",
    ]
    assert convert("endpoint_port", values) == ["443", "8443", None, "80", None]


def test_url_from_request() -> None:
    values = ["GET /a?b=1 HTTP/1.1", "/x", "http://full.example/y", "/z", "garbage", None]
    hosts = ["h.example", None, "ignored.example", None, "h.example", "h.example"]
    ips = ["192.0.2.1", "192.0.2.2", None, None, None, None]
    assert convert("url_from_request", values, "host", "ip", host=hosts, ip=ips) == [
        "http://h.example/a?b=1",
        "http://192.0.2.2/x",
        "http://full.example/y",
        None,
        None,
        None,
    ]


def test_lookup() -> None:
    assert convert("lookup", ["Botnet_CC", "other", None], "botnet_cc=c2-server") == [
        "c2-server",
        None,
        None,
    ]
