"""Plain lists: one IP address, network (CIDR), domain name or URL per line.

A line's value is its first word; anything after white space (optionally starting with
`#` or `;`) is a comment and goes to `extra.comment`. Lines starting with `#` or `;` are
comments, blank lines are skipped. Each value is typed by its shape, a whole chunk at a
time (regular expressions over the column):

| shape                                        | field          |
|----------------------------------------------|----------------|
| dotted quad (`192.0.2.1`) or IPv6 (`2001:db8::1`) | source.ip |
| either of those with `/prefix`               | source.network |
| `scheme://...` (`hxxp://` too)               | source.url     |
| dot-separated labels ending in a letter      | source.fqdn    |

A value of no such shape is quarantined; one of the right shape but wrong (`999.1.1.1`)
is kept as text for the normaliser to quarantine with its field named. Option
`constants` sets fields on every row (default: classification `other`/`undetermined`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl

from entente.pipeline.batches import FIELD, FILE, LINE, QUARANTINE_SCHEMA, RAW, REASON, StageOutput
from entente.pipeline.parsers.base import ParserOptions, check_options, mapping_option
from entente.pipeline.parsers.source_lines import HeaderStyle, SourceLines, TextLayout
from entente.vocabulary.fields import field as vocabulary_field

LAYOUT = TextLayout(quote=None, comment_prefixes=("#", ";"), header=HeaderStyle.NONE)
DEFAULT_CONSTANTS = {"classification.taxonomy": "other", "classification.type": "undetermined"}

_V4 = r"\d{1,3}(?:\.\d{1,3}){3}"
_V6 = rf"(?:[0-9A-Fa-f]{{0,4}}:){{2,7}}(?:[0-9A-Fa-f]{{0,4}}|{_V4})"
_LABEL = r"[\p{L}\p{N}_](?:[\p{L}\p{N}_-]*[\p{L}\p{N}_])?"
SHAPES = (
    ("source.ip", rf"^(?:{_V4}|{_V6})$"),
    ("source.network", rf"^(?:{_V4}|{_V6})/\d{{1,3}}$"),
    ("source.url", r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$"),
    ("source.fqdn", rf"^(?:{_LABEL}\.)+\p{{L}}[\p{{L}}\p{{N}}-]*\.?$"),
)
"""Each target field and the shape of value that goes there, tried in order."""
VALUE = "_value"


class ListParser:
    """Plain one-value-per-line lists (see the module docstring)."""

    name = "list"
    options = frozenset({"constants"})

    def parse(self, path: Path, options: ParserOptions) -> Iterator[StageOutput]:
        check_options(options, self.options)
        constants = {**DEFAULT_CONSTANTS, **mapping_option(options, "constants")}
        for name in constants:
            vocabulary_field(name)
        with SourceLines(path, LAYOUT) as lines:
            for frame, rejected in lines.line_batches():
                yield typed_lines(frame, constants, rejected)


def typed_lines(
    frame: pl.DataFrame, constants: dict[str, str], rejected: pl.DataFrame
) -> StageOutput:
    """Lines (`_raw`, `_file`, `_line`) typed by shape into a batch plus quarantine."""
    text = pl.col(RAW).str.strip_chars()
    split = frame.with_columns(
        text.str.extract(r"^(\S+)", 1).alias(VALUE),
        text.str.extract(r"^\S+\s+(?:[#;]\s*)?(.*\S)\s*$", 1).alias("extra.comment"),
    )
    shaped = split.with_columns(
        pl.when(pl.col(VALUE).str.contains(pattern)).then(pl.col(VALUE)).alias(name)
        for name, pattern in SHAPES
    )
    typed = pl.any_horizontal(pl.col(name).is_not_null() for name, _ in SHAPES)
    bad = shaped.filter(~typed).select(
        pl.col(FILE),
        pl.col(LINE),
        pl.col(RAW),
        pl.lit(None, dtype=pl.String).alias(FIELD),
        (
            pl.lit("not an IP address, network, domain name or URL: ")
            + pl.coalesce(pl.col(VALUE), pl.col(RAW))
        ).alias(REASON),
    )
    columns = {name: pl.col(name) for name, _ in SHAPES}
    columns["extra.comment"] = pl.col("extra.comment")
    for name, value in constants.items():
        constant = pl.lit(value, dtype=pl.String)
        columns[name] = pl.coalesce(columns[name], constant) if name in columns else constant
    kept = shaped.filter(typed).select(
        *(expression.alias(name) for name, expression in columns.items()),
        pl.col(FILE),
        pl.col(LINE),
    )
    quarantined = pl.concat([rejected, bad.cast(QUARANTINE_SCHEMA)]).sort(LINE)  # type: ignore[arg-type]
    return StageOutput(kept, quarantined)
