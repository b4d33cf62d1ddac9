"""The quarantine store: rows a stage put aside, with their reason, until re-processed.

Layout: `<root>/quarantine/feed=<name>/part-<uuid>.parquet`, each row a `QUARANTINE_SCHEMA`
row plus `id` (a UUID, so an analyst can pick rows to re-process), `feed.name` and
`quarantined_at`. Files are written atomically like the event store's.

Re-processing: `rows_for_reprocessing` turns the `_raw` JSON of picked rows (the mapped
values a stage could not accept, see `batches.raw_json`) back into columns for the
pipeline; only once they are stored again does the caller `remove` them, so a crash in
between leaves them in quarantine rather than losing them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from entente.core.errors import BadValue
from entente.pipeline.batches import FIELD, FILE, LINE, QUARANTINE_SCHEMA, RAW, REASON
from entente.pipeline.store import (
    FEED_NAME,
    PART_GLOB,
    escape_partition_value,
    part_name,
    read_only_duckdb,
    remove_stale_temp_files,
    write_parquet_atomically,
)

ID = "id"
QUARANTINED_AT = "quarantined_at"
QUARANTINE_ID = "_quarantine_id"
"""The quarantine row a re-processed row came from (bookkeeping: the store drops it)."""
STORED_SCHEMA = pl.Schema(
    {
        ID: pl.String(),
        FEED_NAME: pl.String(),
        QUARANTINED_AT: pl.Datetime("us", "UTC"),
        **{name: dtype() for name, dtype in QUARANTINE_SCHEMA.items()},
    }
)
REASON_COUNTS_SCHEMA = pl.Schema({FIELD: pl.String(), REASON: pl.String(), "count": pl.Int64()})
_SCAN = "read_parquet($files, union_by_name = true, hive_partitioning = false)"
_ORDER = f'"{QUARANTINED_AT}" DESC, "{FILE}", "{LINE}", "{ID}"'
_SEARCHED = (RAW, REASON, FILE)

Ids = Sequence[str]
FileNames = list[str]  # named here: inside the class `list` is the method


class QuarantineStore:
    """Quarantined rows per feed as Parquet under `root/quarantine`, read with DuckDB."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.quarantine = root / "quarantine"

    def add(self, feed: str, rows: pl.DataFrame) -> int:
        """Quarantine `rows` (the `QUARANTINE_SCHEMA` columns) of `feed`; returns how many."""
        missing = [name for name in QUARANTINE_SCHEMA if name not in rows.columns]
        if missing:
            raise BadValue(
                f"quarantine rows lack the columns {', '.join(missing)}",
                field=missing[0],
                value=missing,
            )
        if rows.height == 0:
            return 0
        stored = rows.select(
            _new_ids(rows.height).alias(ID),
            pl.lit(feed, dtype=pl.String).alias(FEED_NAME),
            pl.lit(datetime.now(UTC), dtype=pl.Datetime("us", "UTC")).alias(QUARANTINED_AT),
            *(pl.col(name).cast(dtype) for name, dtype in QUARANTINE_SCHEMA.items()),
        )
        directory = self._feed_dir(feed)
        directory.mkdir(parents=True, exist_ok=True)
        write_parquet_atomically(stored, directory / part_name())
        return rows.height

    def list(
        self,
        feed: str | None = None,
        field: str | None = None,
        q: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[pl.DataFrame, int]:
        """One page of quarantined rows, newest first, and how many match in all.

        `field` picks rows put aside for that field; `q` is text searched (any case) in
        the raw row, the reason and the file name.
        """
        if limit < 0 or offset < 0:
            raise BadValue("limit and offset must be 0 or more", field="limit", value=limit)
        files = self._files(feed)
        if not files:
            return pl.DataFrame(schema=STORED_SCHEMA), 0
        where, params = _conditions(field, q)
        params["files"] = files
        with read_only_duckdb() as connection:
            count = connection.sql(f"SELECT count(*) FROM {_SCAN} WHERE {where}", params=params)
            total = int(count.pl().item())
            page = connection.sql(
                f"SELECT * FROM {_SCAN} WHERE {where} ORDER BY {_ORDER} "
                "LIMIT $limit OFFSET $offset",
                params={**params, "limit": limit, "offset": offset},
            ).pl()
        return _typed(page, STORED_SCHEMA), total

    def counts_by_reason(self, feed: str | None = None) -> pl.DataFrame:
        """How many rows are quarantined for each (`_field`, `_reason`), most first."""
        files = self._files(feed)
        if not files:
            return pl.DataFrame(schema=REASON_COUNTS_SCHEMA)
        sql = (
            f'SELECT "{FIELD}", "{REASON}", count(*) AS count FROM {_SCAN} '
            f'GROUP BY ALL ORDER BY count DESC, "{FIELD}" NULLS LAST, "{REASON}" NULLS LAST'
        )
        with read_only_duckdb() as connection:
            frame = connection.sql(sql, params={"files": files}).pl()
        return _typed(frame, REASON_COUNTS_SCHEMA)

    def rows_for_reprocessing(self, feed: str, ids: Ids) -> pl.DataFrame:
        """The picked rows' `_raw` JSON back as columns, with `_file`, `_line` and
        `_quarantine_id`, in file order.

        Rows whose `_raw` is not a JSON object (a line the parser could not split) are
        left out: they need their file parsed again, not their values re-normalised.
        """
        empty = pl.DataFrame(schema={QUARANTINE_ID: pl.String, FILE: pl.String, LINE: pl.Int64})
        files = self._files(feed)
        if not files or not ids:
            return empty
        sql = (
            f'SELECT "{ID}" AS "{QUARANTINE_ID}", "{FILE}", "{LINE}", "{RAW}" FROM {_SCAN} '
            f'WHERE "{ID}" IN (SELECT unnest($ids)) AND json_valid("{RAW}") '
            f'AND json_type("{RAW}") = \'OBJECT\' ORDER BY "{FILE}", "{LINE}", "{ID}"'
        )
        with read_only_duckdb() as connection:
            picked: pl.DataFrame = connection.sql(
                sql, params={"files": files, "ids": list(ids)}
            ).pl()
        if picked.height == 0:
            return empty
        values = picked.get_column(RAW).str.json_decode(infer_schema_length=None)
        decoded: pl.DataFrame = values.struct.unnest()
        return pl.concat([decoded, picked.drop(RAW)], how="horizontal")

    def remove(self, ids: Ids) -> int:
        """Delete the rows with these ids (re-ingested); returns how many went.

        Each affected file is rewritten atomically without them, or deleted when empty.
        """
        files = self._files(None)
        if not files or not ids:
            return 0
        sql = (
            "SELECT DISTINCT filename FROM read_parquet($files, union_by_name = true, "
            f'hive_partitioning = false, filename = true) WHERE "{ID}" IN (SELECT unnest($ids))'
        )
        with read_only_duckdb() as connection:
            affected = connection.sql(sql, params={"files": files, "ids": list(ids)}).fetchall()
        wanted = pl.Series(list(ids), dtype=pl.String)
        removed = 0
        # A loop over the few files holding the picked rows, not over rows.
        for (name,) in affected:
            path = Path(name)
            rows = pl.read_parquet(path, hive_partitioning=False)
            kept = rows.filter(~pl.col(ID).is_in(wanted.implode()))
            removed += rows.height - kept.height
            if kept.height:
                write_parquet_atomically(kept, path)
            else:
                path.unlink(missing_ok=True)
        return removed

    def recover(self, older_than: timedelta = timedelta(hours=1)) -> int:
        """Delete temp files of writers that died; returns how many."""
        if not self.quarantine.is_dir():
            return 0
        return remove_stale_temp_files(self.quarantine, older_than)

    def _feed_dir(self, feed: str | None) -> Path:
        return self.quarantine / f"feed={escape_partition_value(feed)}"

    def _files(self, feed: str | None) -> FileNames:
        if feed is not None:
            return [str(path) for path in sorted(self._feed_dir(feed).glob(PART_GLOB))]
        return [str(path) for path in sorted(self.quarantine.glob(f"feed=*/{PART_GLOB}"))]


def _conditions(field: str | None, q: str | None) -> tuple[str, dict[str, Any]]:
    """The WHERE clause of a listing; values are bound, never spliced into the SQL."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if field is not None:
        where.append(f'"{FIELD}" = $field')
        params["field"] = field
    if q:
        searched = " OR ".join(f'contains(lower("{name}"), lower($q))' for name in _SEARCHED)
        where.append(f"({searched})")
        params["q"] = q
    return " AND ".join(where) or "TRUE", params


_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _new_ids(count: int) -> pl.Series:
    """`count` random version-4 UUIDs as text, made in one vectorised pass."""
    raw = np.frombuffer(os.urandom(16 * count), dtype=np.uint8).reshape(count, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    # Hex digits through a lookup table: viewing the raw bytes as numpy "S16" would drop a
    # trailing NUL byte (1 id in 256), leaving a malformed id.
    digits = _HEX_DIGITS[np.stack([raw >> 4, raw & 0x0F], axis=2).reshape(count, 32)]
    text = pl.Series(digits.view("S32").ravel(), dtype=pl.Binary).cast(pl.String)
    groups = [text.str.slice(start, length) for start, length in _UUID_GROUPS]
    return pl.select(pl.concat_str(groups, separator="-").alias(ID)).to_series()


_UUID_GROUPS = ((0, 8), (8, 4), (12, 4), (16, 4), (20, 12))


def _typed(frame: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    if frame.height == 0:
        return pl.DataFrame(schema=schema)
    return frame.cast({name: dtype for name, dtype in schema.items() if name in frame.columns})
