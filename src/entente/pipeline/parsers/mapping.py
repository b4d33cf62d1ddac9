"""A feed as a mapping (STYLE habit 3): source column -> vocabulary field, converter name,
constants, and the rest to `extra`; one polars engine runs every mapping.

A `FeedSpec` is pure data. `map_rows` turns a batch of source columns into a pipeline
batch in one `select`:

- each `Rule` maps a source column to a field through a named converter (`converters`),
  optionally only on rows where another column has a given value (`when`);
- several rules for one field are tried in order, the first non-empty value wins;
- `constants` fill a field where no rule gave a value (so a per-row value, such as a
  Shadowserver `tag`, overrides the report's default);
- every source column no rule reads goes to `extra.<column>`: nothing is dropped;
- `_file` and `_line` say where each row came from.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
import polars as pl

from entente.core.errors import BadValue, ParseError
from entente.pipeline.batches import FILE, LINE, StageOutput
from entente.pipeline.parsers.converters import converter
from entente.pipeline.parsers.csv_reading import CsvLayout, CsvReader
from entente.vocabulary.fields import EXTRA_PREFIX
from entente.vocabulary.fields import field as vocabulary_field


@dataclass(frozen=True, slots=True)
class Rule:
    """Source `column` -> vocabulary `field` through converter `convert`."""

    column: str
    field: str
    convert: str = "keep"
    arguments: tuple[str, ...] = ()
    when: tuple[str, str] | None = None
    """(column, value): the rule applies only to rows where that column holds exactly that
    value (as read, case-sensitive)."""

    def columns_read(self) -> tuple[str, ...]:
        """Every source column the rule reads."""
        read = [self.column]
        if converter(self.convert).arguments_are_columns:
            read.extend(self.arguments)
        if self.when is not None:
            read.append(self.when[0])
        return tuple(read)


def published_header(header: str) -> tuple[str, ...]:
    """Column names from a header line as the provider publishes it (comma-separated,
    optionally quoted): the tables then read like the files they describe."""
    return tuple(name.strip().strip('"') for name in header.split(","))


RuleLike = Rule | tuple[str, str] | tuple[str, str, str] | tuple[str, str, str, tuple[str, ...]]


def rules(*entries: RuleLike) -> tuple[Rule, ...]:
    """Rules from the short tuple forms `(column, field[, convert[, arguments]])`."""
    return tuple(entry if isinstance(entry, Rule) else Rule(*entry) for entry in entries)


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One feed format, declared: see the module docstring for how it is applied."""

    name: str
    """The parser's (or Shadowserver report's) name."""
    title: str
    """The feed's own name for it (`feed.name` unless a constant says otherwise)."""
    provider: str
    header: tuple[str, ...]
    """The columns as the provider publishes them (documentation and header detection)."""
    rules: tuple[Rule, ...]
    constants: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    required: tuple[str, ...] = ()
    """Columns a file must have (else `ParseError` naming the first missing)."""
    documentation: str = ""

    def columns_read(self) -> frozenset[str]:
        return frozenset(name for rule in self.rules for name in rule.columns_read())

    def extra_columns(self) -> tuple[str, ...]:
        """The published columns that no rule reads: they go to `extra.<column>`."""
        read = self.columns_read()
        return tuple(name for name in self.header if name not in read)

    def defaults(self) -> dict[str, str]:
        """The constants, with `feed.name` and `feed.provider` (when known) unless set."""
        feed = {"feed.name": self.title, "feed.provider": self.provider}
        return {**{name: value for name, value in feed.items() if value}, **self.constants}


def check_spec(spec: FeedSpec) -> None:
    """Refuse a spec naming an unknown field (`UnknownField`) or converter (`BadValue`)."""
    for rule in spec.rules:
        vocabulary_field(rule.field)
        converter(rule.convert)
        if rule.convert == "lookup" and any("=" not in item for item in rule.arguments):
            raise BadValue(
                f"lookup for {rule.field} needs from=to arguments",
                field=rule.field,
                value=rule.arguments,
            )
    for name in spec.constants:
        vocabulary_field(name)


def map_rows(
    rows: pl.DataFrame, spec: FeedSpec, file: str, lines: npt.NDArray[np.int64]
) -> pl.DataFrame:
    """A batch of source columns as a pipeline batch (see the module docstring)."""
    present = set(rows.columns)
    missing = sorted(spec.columns_read() - present)
    frame = rows.with_columns(pl.lit(None, dtype=pl.String).alias(name) for name in missing)
    outputs = _field_expressions(spec)
    produced = set(outputs)
    read = spec.columns_read()
    extras: list[pl.Expr] = []
    for name in rows.columns:
        if name in read:
            continue
        target = f"{EXTRA_PREFIX}{name}"
        if target in produced:
            raise ParseError(
                f"column {name!r} would overwrite the mapped field {target}",
                file=file,
                column=name,
            )
        produced.add(target)
        extras.append(pl.col(name).alias(target))
    return frame.select(
        *(expression.cast(pl.String).alias(name) for name, expression in outputs.items()),
        *extras,
        pl.lit(file, dtype=pl.String).alias(FILE),
        pl.Series(LINE, lines, dtype=pl.Int64),
    )


def _field_expressions(spec: FeedSpec) -> dict[str, pl.Expr]:
    found: dict[str, list[pl.Expr]] = {}
    for rule in spec.rules:
        value = converter(rule.convert).convert(pl.col(rule.column), rule.arguments)
        if rule.when is not None:
            column, wanted = rule.when
            value = pl.when(pl.col(column) == wanted).then(value).otherwise(None)
        found.setdefault(rule.field, []).append(value)
    for name, constant in spec.defaults().items():
        found.setdefault(name, []).append(pl.lit(constant, dtype=pl.String))
    return {
        name: values[0] if len(values) == 1 else pl.coalesce(values)
        for name, values in found.items()
    }


def map_batches(reader: CsvReader, spec: FeedSpec) -> Iterator[StageOutput]:
    """Every batch of an opened CSV file, mapped by `spec`."""
    reader.require(spec.required)
    for batch in reader.batches():
        yield StageOutput(map_rows(batch.rows, spec, reader.file, batch.lines), batch.quarantined)


def parse_csv_feed(path: Path, layout: CsvLayout, spec: FeedSpec) -> Iterator[StageOutput]:
    """Read a CSV file laid out as `layout` and map it by `spec`, a batch at a time."""
    with CsvReader(path, layout) as reader:
        yield from map_batches(reader, spec)
