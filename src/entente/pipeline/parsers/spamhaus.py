"""Spamhaus DROP (and the former EDROP): netblocks "hijacked or leased by professional spam
or cyber-crime operations", in either of Spamhaus's two formats:

- text (`drop.txt`, `edrop.txt`): `; ` comment lines, then `prefix ; SBLnnnnnn` per line;
  the `; Last-Modified:` comment becomes every row's `time.source`.
- JSON lines (`drop_v4.json`, `drop_v6.json`): one object per line,
  `{"cidr": "192.0.2.0/24", "sblid": "SBL000001", "rir": "ripencc"}`, ending with a
  `{"type": "metadata", ...}` object, which is file metadata, not a data line.

The format is told by the first data line (`{` starts JSON). A line without a prefix (or
a JSON line without `cidr`) is quarantined with its raw text.
"""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path

import polars as pl

from entente.pipeline.batches import FIELD, FILE, LINE, QUARANTINE_SCHEMA, RAW, REASON, StageOutput
from entente.pipeline.parsers.base import ParserOptions, check_options
from entente.pipeline.parsers.source_lines import HeaderStyle, SourceLines, TextLayout

LAYOUT = TextLayout(quote=None, comment_prefixes=(";",), header=HeaderStyle.NONE)
CONSTANTS = {
    "classification.taxonomy": "abusive-content",
    "classification.type": "spam",
    "classification.identifier": "spamhaus-drop",
    "feed.provider": "Spamhaus",
    "feed.name": "DROP",
}
RIRS = {
    "afrinic": "AFRINIC",
    "apnic": "APNIC",
    "arin": "ARIN",
    "lacnic": "LACNIC",
    "ripencc": "RIPE",
}
"""Spamhaus's `rir` values as the vocabulary's registry names (others go on unchanged)."""
FIELDS = ("source.network", "extra.sblid", "source.registry", "time.source")
"""The fields every Spamhaus batch has, in order."""


class SpamhausDropParser:
    """Spamhaus DROP lists, text or JSON lines (see the module docstring)."""

    name = "spamhaus_drop"
    options: frozenset[str] = frozenset()

    def parse(self, path: Path, options: ParserOptions) -> Iterator[StageOutput]:
        check_options(options, self.options)
        with SourceLines(path, LAYOUT) as lines:
            lines.prime()
            modified = last_modified(lines.leading_comments)
            json_lines: bool | None = None
            for frame, rejected in lines.line_batches():
                if json_lines is None and frame.height:
                    json_lines = str(frame[RAW][0]).lstrip().startswith("{")
                rows = _json_rows(frame) if json_lines else _text_rows(frame, modified)
                yield _split(rows, rejected)


def last_modified(comments: list[str]) -> str | None:
    """The `; Last-Modified:` date of a DROP text file, as ISO 8601 (None if absent)."""
    for comment in comments:
        _, found, value = comment.partition("Last-Modified:")
        if found:
            try:
                return parsedate_to_datetime(value.strip()).isoformat()
            except (TypeError, ValueError):
                return None
    return None


def _text_rows(frame: pl.DataFrame, modified: str | None) -> pl.DataFrame:
    parts = pl.col(RAW).str.split_exact(";", 1)
    network = parts.struct.field("field_0").str.strip_chars()
    return frame.with_columns(
        pl.when(network != "").then(network).alias("source.network"),
        parts.struct.field("field_1").str.strip_chars().alias("extra.sblid"),
        pl.lit(None, dtype=pl.String).alias("source.registry"),
        pl.lit(modified, dtype=pl.String).alias("time.source"),
        pl.lit(False).alias("metadata"),
    )


def _json_rows(frame: pl.DataFrame) -> pl.DataFrame:
    raw = pl.col(RAW)
    return frame.with_columns(
        raw.str.json_path_match("$.cidr").alias("source.network"),
        raw.str.json_path_match("$.sblid").alias("extra.sblid"),
        raw.str.json_path_match("$.rir").str.to_lowercase().replace(RIRS).alias("source.registry"),
        pl.lit(None, dtype=pl.String).alias("time.source"),
        (raw.str.json_path_match("$.type") == "metadata").fill_null(False).alias("metadata"),
    )


def _split(rows: pl.DataFrame, rejected: pl.DataFrame) -> StageOutput:
    data = rows.filter(~pl.col("metadata"))
    good = pl.col("source.network").is_not_null()
    kept = data.filter(good).select(
        *(pl.col(name).cast(pl.String) for name in FIELDS),
        *(pl.lit(value, dtype=pl.String).alias(name) for name, value in CONSTANTS.items()),
        pl.col(FILE),
        pl.col(LINE),
    )
    bad = data.filter(~good).select(
        pl.col(FILE),
        pl.col(LINE),
        pl.col(RAW),
        pl.lit(None, dtype=pl.String).alias(FIELD),
        pl.lit("not a DROP entry: no network prefix").alias(REASON),
    )
    quarantined = pl.concat([rejected, bad.cast(QUARANTINE_SCHEMA)])  # type: ignore[arg-type]
    return StageOutput(kept, quarantined.sort(LINE))
