"""Any CSV file with a header line, mapped by the feed's configuration.

Options:

- `mapping` (required): `{source column: vocabulary field}`; a field may be `extra.<name>`.
  Every mapped column must be in the header (`ParseError` naming it); the other columns
  go to `extra.<column>`.
- `converters`: `{source column: converter name}` (see docs/feeds.md), default `keep`.
- `constants`: `{vocabulary field: value}` set on every row (a mapped value wins).
- `delimiter`: one character; by default sniffed from the header among `,` `;` tab `|`.

An unknown field raises `UnknownField` naming it (with close matches); an unknown
converter or a bad option value raises `BadValue` naming the option.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

from entente.core.errors import BadValue
from entente.pipeline.batches import StageOutput
from entente.pipeline.parsers.base import (
    ParserOptions,
    check_options,
    mapping_option,
    string_option,
)
from entente.pipeline.parsers.csv_reading import SNIFFED_DELIMITERS, CsvLayout
from entente.pipeline.parsers.mapping import FeedSpec, Rule, check_spec, parse_csv_feed
from entente.pipeline.parsers.source_lines import TextLayout


class GenericCsvParser:
    """CSV with a header, mapped by options (see the module docstring)."""

    name = "generic_csv"
    options = frozenset({"mapping", "converters", "constants", "delimiter"})

    def parse(self, path: Path, options: ParserOptions) -> Iterator[StageOutput]:
        check_options(options, self.options)
        spec = spec_from_options(options)
        yield from parse_csv_feed(path, layout_from_options(options, spec), spec)


def spec_from_options(options: ParserOptions) -> FeedSpec:
    """The feed spec the options describe, checked against the vocabulary."""
    mapping = mapping_option(options, "mapping")
    if not mapping:
        raise BadValue(
            "the generic CSV parser needs a mapping {source column: field}",
            field="options.mapping",
        )
    converters = mapping_option(options, "converters")
    unmapped = sorted(set(converters) - set(mapping))
    if unmapped:
        raise BadValue(
            f"converter given for unmapped column {unmapped[0]!r}",
            field="options.converters",
            value=unmapped[0],
        )
    spec = FeedSpec(
        name="generic_csv",
        title="",
        provider="",
        header=tuple(mapping),
        rules=tuple(
            Rule(column, target, converters.get(column, "keep"))
            for column, target in mapping.items()
        ),
        constants=MappingProxyType(mapping_option(options, "constants")),
        required=tuple(mapping),
    )
    check_spec(spec)
    return spec


def layout_from_options(options: ParserOptions, spec: FeedSpec) -> CsvLayout:
    """A first-line-header layout, with the option's delimiter or a sniffed one."""
    delimiter = string_option(options, "delimiter")
    if delimiter is None:
        return CsvLayout(TextLayout(), required=spec.required, sniff_delimiter=SNIFFED_DELIMITERS)
    if len(delimiter) != 1 or delimiter in {'"', "\n", "\r"}:
        raise BadValue(
            "the delimiter must be one character (not a quote or line end)",
            field="options.delimiter",
            value=delimiter,
        )
    return CsvLayout(TextLayout(delimiter=delimiter), required=spec.required)
