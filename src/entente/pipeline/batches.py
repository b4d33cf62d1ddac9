"""Bookkeeping columns every pipeline batch carries, and a stage's output.

Why `_`-prefixed names: vocabulary fields are dotted lower-case names (`source.ip`) and
unmapped source columns go to `extra.<name>`, so a leading underscore can never collide
with either, and the store drops these columns (except `_line`/`_file`) before writing.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

FILE = "_file"
"""The source the row was read from (a path or a feed's name for uploads)."""
LINE = "_line"
"""1-based line (CSV, lists) or record number (JSON) of the row in its source."""
RAW = "_raw"
"""What an analyst sees in quarantine: the line as read when the parser could not split it,
else the row's mapped values as JSON (`raw_json`). Kept rows do not carry it: building the
text of millions of good rows would cost more than the rest of a stage."""
REASON = "_reason"
"""Why a row was quarantined, naming the field and the value."""
FIELD = "_field"
"""The vocabulary field (or source column) that made the row bad."""
ORGANISATION = "_organisation_id"
"""The organisation the row is routed to (null: unrouted)."""
ROUTED_BY = "_routed_by"
"""How the row was routed: prefix, asn, domain or country (null: unrouted)."""

MATCHED_INDICATORS = "_matched_indicator_ids"
"""Ids (List[Int64]) of the shared indicators the row matched, as its routed member may see them."""
MATCHED_EVENTS = "_matched_event_ids"
"""Ids (List[Int64]) of those indicators' events."""
KEY = "_dedup_key"
"""The row's de-duplication key (UInt64), stored with the row so re-runs can skip it."""

QUARANTINE_SCHEMA = {
    FILE: pl.String,
    LINE: pl.Int64,
    RAW: pl.String,
    FIELD: pl.String,
    REASON: pl.String,
}


def empty_quarantine() -> pl.DataFrame:
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)


def raw_json(batch: pl.DataFrame) -> pl.Expr:
    """The row's non-bookkeeping columns as one JSON object: the `_raw` of a quarantined row,
    which re-processing reads back."""
    fields = [name for name in batch.columns if not name.startswith("_")]
    return pl.struct([pl.col(name).cast(pl.String) for name in fields]).struct.json_encode()


def quarantine(
    batch: pl.DataFrame, bad: pl.Series | pl.Expr, field: str, reason: pl.Expr
) -> pl.DataFrame:
    """The rows of `batch` where `bad` holds, as quarantine rows naming `field` and `reason`.

    `_raw` is kept when the batch has it (the parser's raw line), else built by `raw_json`.
    """
    rows = batch.filter(bad)
    raw = pl.col(RAW) if RAW in rows.columns else raw_json(rows)
    file = pl.col(FILE) if FILE in rows.columns else pl.lit(None, dtype=pl.String)
    line = pl.col(LINE) if LINE in rows.columns else pl.lit(None, dtype=pl.Int64)
    return rows.select(
        file.cast(pl.String).alias(FILE),
        line.cast(pl.Int64).alias(LINE),
        raw.cast(pl.String).alias(RAW),
        pl.lit(field, dtype=pl.String).alias(FIELD),
        reason.cast(pl.String).alias(REASON),
    )


@dataclass(frozen=True, slots=True)
class StageOutput:
    """What a stage hands on: the rows it keeps and the rows it put aside (with reasons).

    `quarantined` has exactly the `QUARANTINE_SCHEMA` columns.
    """

    kept: pl.DataFrame
    quarantined: pl.DataFrame
