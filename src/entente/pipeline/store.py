"""The columnar event store: Hive-partitioned Parquet files, written atomically, read with DuckDB.

Layout (engine-neutral, so DuckDB, Spark or Trino read it as it is; see docs/event-store.md):

    <root>/events/day=2024-05-01/feed=shadowserver-scan/part-<uuid>.parquet

`day` is the UTC day of `time.source` (else `time.observation`); `feed` is `feed.name`.
Partition values are escaped the way Hive escapes them (`/` becomes `%2F`), and a missing
value is Hive's `__HIVE_DEFAULT_PARTITION__`, which the engines read back as NULL.

Why every file is written to a hidden temp file, fsynced and renamed into place: a killed
ingest must never leave a half-written part that a later read trips over; a leftover temp
file is invisible to reads (they only look at `part-*.parquet`) and `recover` removes it.
Compaction replaces many parts by one; a journal names the parts it replaces, so a reader
never counts a row twice, even when a compaction died between its rename and its deletes.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from entente.core.errors import BadValue, Conflict, ServiceUnavailable
from entente.pipeline.batches import (
    FILE,
    KEY,
    LINE,
    MATCHED_EVENTS,
    MATCHED_INDICATORS,
    ORGANISATION,
    ROUTED_BY,
)

STORED_BOOKKEEPING = frozenset(
    {FILE, LINE, ORGANISATION, ROUTED_BY, KEY, MATCHED_INDICATORS, MATCHED_EVENTS}
)
"""The `_`-prefixed columns worth keeping with a stored row; the others are per-stage scratch."""
TIME_SOURCE = "time.source"
TIME_OBSERVATION = "time.observation"
FEED_NAME = "feed.name"
DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"
"""Hive's name for a NULL partition value; DuckDB, Spark and Trino all read it as NULL."""
PART_GLOB = "part-*.parquet"

# Hive's FileUtils.escapePathName set: what must not appear raw in a `key=value` path part.
_HIVE_ESCAPED = frozenset("\"#%'*/:=?\\\x7f{[]^")
_JOURNAL_GLOB = ".compact-*.json"
_LOCK_NAME = ".compact.lock"
_TEMP_SUFFIX = ".tmp"
_DAY_COLUMN = "__day"
_FEED_COLUMN = "__feed"
# `hive_types`: a feed called "2024" must stay a string, and `day` must be a DATE.
_SCAN = (
    "read_parquet($files, hive_partitioning = true, union_by_name = true, "
    "hive_types = {'day': DATE, 'feed': VARCHAR})"
)
_FILTER_COLUMNS = {
    "organisation_id": ORGANISATION,
    "taxonomy": "classification.taxonomy",
    "type": "classification.type",
    "identifier": "classification.identifier",
    "country": "source.geolocation.cc",
    "source_ip": "source.ip",
}
_SUMMARY_GROUPS = (
    (ORGANISATION, "BIGINT"),
    ("classification.taxonomy", "VARCHAR"),
    ("classification.type", "VARCHAR"),
    ("classification.identifier", "VARCHAR"),
    (FEED_NAME, "VARCHAR"),
)
DAILY_COUNTS_SCHEMA = pl.Schema({"day": pl.Date, "count": pl.Int64})
COUNTRY_COUNTS_SCHEMA = pl.Schema({"source.geolocation.cc": pl.String, "count": pl.Int64})
SUMMARY_SCHEMA = pl.Schema(
    {
        ORGANISATION: pl.Int64(),
        "classification.taxonomy": pl.String(),
        "classification.type": pl.String(),
        "classification.identifier": pl.String(),
        FEED_NAME: pl.String(),
        "day": pl.Date(),
        "count": pl.Int64(),
        "first_seen": pl.Datetime("us", "UTC"),
        "last_seen": pl.Datetime("us", "UTC"),
        "samples": pl.List(pl.String),
    }
)


@dataclass(frozen=True, slots=True)
class EventFilters:
    """Which stored events a read covers; `None` means "any". Days are inclusive UTC days.

    A day range leaves out rows without any time (the NULL `day` partition).
    """

    day_from: date | None = None
    day_to: date | None = None
    feed: str | None = None
    organisation_id: int | None = None
    taxonomy: str | None = None
    type: str | None = None
    identifier: str | None = None
    country: str | None = None
    source_ip: str | None = None


@dataclass(slots=True)
class _Selection:
    """The part files a read covers, the columns they hold, and its WHERE clause with values."""

    files: list[str]
    columns: frozenset[str]
    where: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def column(self, name: str, sql_type: str) -> str:
        """`name` quoted, or a typed NULL where no file has it (schemas evolve per feed)."""
        return quote_identifier(name) if name in self.columns else f"CAST(NULL AS {sql_type})"

    @property
    def where_sql(self) -> str:
        return " AND ".join(self.where) or "TRUE"


def quote_identifier(name: str) -> str:
    """A column name as a SQL identifier: field names have dots, so they are always quoted."""
    return '"' + name.replace('"', '""') + '"'


def escape_partition_value(value: str | None) -> str:
    """A partition value as a path part, escaped as Hive does (and DuckDB/Spark unescape)."""
    if value is None or value == "":
        return DEFAULT_PARTITION
    return "".join(
        f"%{ord(char):02X}" if char in _HIVE_ESCAPED or ord(char) < 0x20 else char for char in value
    )


def day_partition_value(day: date | None) -> str:
    return DEFAULT_PARTITION if day is None else day.isoformat()


def event_day(batch: pl.DataFrame) -> pl.Expr:
    """The UTC day a row is filed under: `time.source`, else `time.observation`."""
    days = [_day_of(batch, name) for name in (TIME_SOURCE, TIME_OBSERVATION) if name in batch]
    return pl.coalesce(days) if days else pl.lit(None, dtype=pl.Date)


def _day_of(batch: pl.DataFrame, name: str) -> pl.Expr:
    dtype = batch.schema[name]
    if isinstance(dtype, pl.Datetime):
        column = pl.col(name)
        # A naive datetime is taken as UTC, the vocabulary's convention for times.
        aware = column.dt.convert_time_zone("UTC") if dtype.time_zone else column
        return aware.dt.date()
    if dtype == pl.Date:
        return pl.col(name)
    if dtype == pl.Null:
        return pl.lit(None, dtype=pl.Date)
    raise BadValue(f"{name} must be a datetime column, not {dtype}", field=name, value=str(dtype))


def write_file_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Have `write` fill a hidden temp file beside `path`, fsync it, then rename it over `path`.

    Readers see the old file or the new one, never a torn one; a crash leaves at most a
    `.tmp` file that `remove_stale_temp_files` deletes.
    """
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}{_TEMP_SUFFIX}")
    try:
        with _storage_errors():
            write(temp)
            _fsync(temp)
            os.replace(temp, path)
            _fsync(path.parent)
    finally:
        temp.unlink(missing_ok=True)


def write_parquet_atomically(frame: pl.DataFrame, path: Path) -> None:
    """Write `frame` as the Parquet file `path`, atomically (see `write_file_atomically`)."""
    # zstd at level 1: as small as the default level within 2%, and a fifth faster to write.
    write_file_atomically(
        path, lambda temp: frame.write_parquet(temp, compression="zstd", compression_level=1)
    )


def remove_stale_temp_files(directory: Path, older_than: timedelta) -> int:
    """Delete temp files under `directory` left by writers that died; returns how many.

    Only files older than `older_than` go: a younger one may belong to a live writer.
    """
    removed = 0
    for temp in directory.rglob(f".*{_TEMP_SUFFIX}"):
        removed += _remove_if_older(temp, older_than)
    return removed


def _remove_if_older(path: Path, older_than: timedelta) -> int:
    try:
        if time.time() - path.stat().st_mtime < older_than.total_seconds():
            return 0
        path.unlink()
    except FileNotFoundError:
        return 0
    return 1


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextmanager
def _storage_errors() -> Iterator[None]:
    """Disk errors (full, read-only, permissions) become our error, naming the store."""
    try:
        yield
    except OSError as exc:
        raise ServiceUnavailable(f"event store not writable: {exc}") from exc


@contextmanager
def read_only_duckdb() -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh in-memory DuckDB (one per read: connections must not be shared across threads).

    Times come back in UTC whatever the server's zone; DuckDB errors (an unreadable file)
    become `ServiceUnavailable`.
    """
    connection = duckdb.connect()
    try:
        connection.execute("SET TimeZone = 'UTC'")
        # A read binds the files (footers) once to learn their columns, then queries them.
        connection.execute("SET parquet_metadata_cache = true")
        yield connection
    except duckdb.Error as exc:
        raise ServiceUnavailable(f"pipeline store unreadable: {exc}") from exc
    finally:
        connection.close()


def part_name() -> str:
    return f"part-{uuid.uuid4().hex}.parquet"


def live_parts(directory: Path) -> list[Path]:
    """The part files of one partition directory that hold its rows, sorted by name.

    Parts that a committed compaction replaced (its merged file exists) are left out, so a
    compaction that died before deleting them does not double-count rows.
    """
    if not directory.is_dir():
        return []
    replaced: set[str] = set()
    for journal in directory.glob(_JOURNAL_GLOB):
        entry = _read_journal(journal)
        if entry is not None and (directory / entry["by"]).exists():
            replaced.update(entry["replaces"])
    return sorted(part for part in directory.glob(PART_GLOB) if part.name not in replaced)


def _read_journal(journal: Path) -> dict[str, Any] | None:
    try:
        entry: dict[str, Any] = json.loads(journal.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return entry


class EventStore:
    """Pipeline events as Hive-partitioned Parquet under `root/events`, queried with DuckDB.

    Writers only ever add files, so any number of ingest workers may write at once; reads
    see whole files only. Every read takes typed filters and binds values as parameters.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.events = root / "events"

    def partition_dir(self, day: date | None, feed: str | None) -> Path:
        return (
            self.events / f"day={day_partition_value(day)}" / f"feed={escape_partition_value(feed)}"
        )

    def partition_files(self, day: date | None, feed: str | None) -> list[Path]:
        """The live part files of one (day, feed) partition."""
        return live_parts(self.partition_dir(day, feed))

    def feed_files(self, feed: str | None) -> list[Path]:
        """The live part files of one feed over every day (None: rows without a feed name)."""
        if not self.events.is_dir():
            return []
        name = f"feed={escape_partition_value(feed)}"
        return [
            part
            for day_dir in sorted(self.events.glob("day=*"))
            for part in live_parts(day_dir / name)
        ]

    def files(self, filters: EventFilters = EventFilters()) -> list[Path]:
        """The live part files of the partitions the filters' day range and feed select."""
        if not self.events.is_dir():
            return []
        feed_dir = f"feed={escape_partition_value(filters.feed)}" if filters.feed else None
        found: list[Path] = []
        for day_dir in sorted(self.events.glob("day=*")):
            if not _day_selected(day_dir.name.removeprefix("day="), filters):
                continue
            for directory in sorted(day_dir.glob("feed=*")):
                if feed_dir is None or directory.name == feed_dir:
                    found.extend(live_parts(directory))
        return found

    def write(self, batch: pl.DataFrame, part: str | None = None) -> int:
        """Append the batch's rows, one new part file per (day, feed); returns rows written.

        `part` names the part files (default: a fresh `part-<uuid>.parquet`). A writer that
        may run the same batch again (a stream worker after a crash) names them after the
        batch, so the re-run replaces its parts rather than adding to them.
        """
        if part is not None and (Path(part).name != part or not fnmatch(part, PART_GLOB)):
            raise BadValue(f"a part name must match {PART_GLOB}", field="part", value=part)
        if batch.height == 0:
            return 0
        kept = [name for name in batch.columns if _is_stored(name)]
        placed = batch.select(
            *kept,
            event_day(batch).alias(_DAY_COLUMN),
            _feed_of(batch).alias(_FEED_COLUMN),
        )
        # One file per distinct (day, feed): a loop over a handful of partitions, not rows.
        for (day, feed), rows in _partitions(placed).items():
            directory = self.partition_dir(day, feed)
            with _storage_errors():
                directory.mkdir(parents=True, exist_ok=True)
            write_parquet_atomically(rows, directory / (part or part_name()))
        return batch.height

    def count(
        self,
        day_from: date | None,
        day_to: date | None,
        feed: str | None = None,
        organisation_id: int | None = None,
    ) -> int:
        """How many events lie in the day range (inclusive), optionally of one feed or member."""
        return self.total(EventFilters(day_from, day_to, feed, organisation_id))

    def total(self, filters: EventFilters) -> int:
        """How many events match the filters (the total behind a paginated `rows`)."""
        frame = self._query(filters, _count_query)
        return 0 if frame is None else int(frame.item())

    def rows(self, filters: EventFilters, limit: int = 50, offset: int = 0) -> pl.DataFrame:
        """One page of matching events, newest first (by `time.source`, then position)."""
        _check_page(limit, offset)
        frame = self._query(filters, lambda selection: _page_query(selection, limit, offset))
        return pl.DataFrame() if frame is None else frame

    def daily_counts(self, filters: EventFilters) -> pl.DataFrame:
        """Events per UTC day (`day`, `count`), oldest first: the trend charts' data."""
        return _typed(self._query(filters, _daily_query), DAILY_COUNTS_SCHEMA)

    def by_country(self, filters: EventFilters) -> pl.DataFrame:
        """Events per `source.geolocation.cc` (`count`), largest first: the world map's data."""
        return _typed(self._query(filters, _country_query), COUNTRY_COUNTS_SCHEMA)

    def summaries(self, filters: EventFilters, samples: int = 3) -> pl.DataFrame:
        """Events grouped as alerts group them (member, classification, feed, day).

        Each group has its `count`, `first_seen`/`last_seen` (`time.source`, else
        `time.observation`) and up to
        `samples` of its newest rows as JSON objects, for the alerts service to upsert.
        """
        _check_page(samples, 0)
        frame = self._query(filters, lambda selection: _summary_query(selection, samples))
        return _typed(frame, SUMMARY_SCHEMA)

    def compact(self, day: date | None, feed: str | None) -> int:
        """Merge a partition's part files into one; returns how many parts were merged.

        Ingest writes one part per batch, and many small files slow every read. A journal
        written before the merged file appears names the parts it replaces, so a crash at
        any point leaves either the old parts or the merged one visible, never both.
        """
        directory = self.partition_dir(day, feed)
        with self._compaction_lock(directory):
            parts = live_parts(directory)
            if len(parts) < 2:
                return 0
            merged = pl.concat(
                [pl.read_parquet(part, hive_partitioning=False) for part in parts],
                how="diagonal_relaxed",
            )
            target = directory / part_name()
            journal = directory / f".compact-{uuid.uuid4().hex}.json"
            entry = {"by": target.name, "replaces": [part.name for part in parts]}
            write_file_atomically(journal, lambda path: path.write_text(json.dumps(entry)))
            write_parquet_atomically(merged, target)
            _finish_compaction(directory, journal, entry)
        return len(parts)

    def recover(self, older_than: timedelta = timedelta(hours=1)) -> int:
        """Clean up after killed writers and compactions; returns how many files went.

        Finishes compactions whose merged file exists, drops journals, temp files and locks
        older than `older_than` (younger ones may belong to a live process).
        """
        if not self.events.is_dir():
            return 0
        removed = remove_stale_temp_files(self.events, older_than)
        for directory in self.events.glob("day=*/feed=*"):
            for journal in directory.glob(_JOURNAL_GLOB):
                entry = _read_journal(journal)
                if entry is not None and (directory / entry["by"]).exists():
                    removed += _finish_compaction(directory, journal, entry)
                else:
                    removed += _remove_if_older(journal, older_than)
            removed += _remove_if_older(directory / _LOCK_NAME, older_than)
        return removed

    def _query(self, filters: EventFilters, build: _QueryBuilder) -> pl.DataFrame | None:
        """Run the query `build` makes for the filters' files; None when nothing can match."""
        with read_only_duckdb() as connection:
            files = [str(path) for path in self.files(filters)]
            if not files:
                return None
            scan = connection.sql(f"SELECT * FROM {_SCAN}", params={"files": files})
            selection = _Selection(files, frozenset(scan.columns), params={"files": files})
            if not _add_filters(selection, filters):
                return None
            sql, params = build(selection)
            frame: pl.DataFrame = connection.sql(sql, params=params).pl()
        return frame

    @contextmanager
    def _compaction_lock(self, directory: Path) -> Iterator[None]:
        """One compaction per partition at a time (writers need no lock: they add files)."""
        lock = directory / _LOCK_NAME
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError as exc:
            raise Conflict(f"partition {directory} is already being compacted") from exc
        except FileNotFoundError:
            yield  # no such partition: nothing to compact
            return
        os.close(descriptor)
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)


def _finish_compaction(directory: Path, journal: Path, entry: dict[str, Any]) -> int:
    removed = 0
    with _storage_errors():
        for name in entry["replaces"]:
            part = directory / name
            if part.exists():
                part.unlink(missing_ok=True)
                removed += 1
        _fsync(directory)
        journal.unlink(missing_ok=True)
    return removed


def _day_selected(value: str, filters: EventFilters) -> bool:
    if filters.day_from is None and filters.day_to is None:
        return True
    if value == DEFAULT_PARTITION:
        return False
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return False  # not a directory this store wrote
    return (filters.day_from is None or day >= filters.day_from) and (
        filters.day_to is None or day <= filters.day_to
    )


def _partitions(placed: pl.DataFrame) -> dict[tuple[Any, ...], pl.DataFrame]:
    """The rows of each (day, feed), without the two key columns.

    Why the one-partition case apart: a feed's batch is nearly always one day of one report,
    and `partition_by` hashes and gathers every row even then (a tenth of the write's CPU).
    `rechunk` keeps the file what `partition_by` made it: one chunk, so one row group.
    """
    day, feed = placed.get_column(_DAY_COLUMN), placed.get_column(_FEED_COLUMN)
    if day.n_unique() == 1 and feed.n_unique() == 1:  # a null counts as one value
        return {(day[0], feed[0]): placed.drop(_DAY_COLUMN, _FEED_COLUMN).rechunk()}
    return placed.partition_by(_DAY_COLUMN, _FEED_COLUMN, as_dict=True, include_key=False)


def _is_stored(name: str) -> bool:
    return not name.startswith("_") or name in STORED_BOOKKEEPING


def _feed_of(batch: pl.DataFrame) -> pl.Expr:
    if FEED_NAME not in batch.columns:
        return pl.lit(None, dtype=pl.String)
    return pl.col(FEED_NAME).cast(pl.String)


def _check_page(limit: int, offset: int) -> None:
    if limit < 0:
        raise BadValue(f"limit must be 0 or more, not {limit}", field="limit", value=limit)
    if offset < 0:
        raise BadValue(f"offset must be 0 or more, not {offset}", field="offset", value=offset)


_QueryBuilder = Callable[[_Selection], tuple[str, dict[str, Any]]]


def _add_filters(selection: _Selection, filters: EventFilters) -> bool:
    """Add the filters' row conditions; False when a filtered column is in no file."""
    for attribute, column in _FILTER_COLUMNS.items():
        value = getattr(filters, attribute)
        if value is None:
            continue
        if column not in selection.columns:
            return False  # no stored row has the column, so none has the wanted value
        selection.where.append(f"{quote_identifier(column)} = ${attribute}")
        selection.params[attribute] = value
    return True


def _count_query(selection: _Selection) -> tuple[str, dict[str, Any]]:
    return f"SELECT count(*) FROM {_SCAN} WHERE {selection.where_sql}", selection.params


def _page_query(selection: _Selection, limit: int, offset: int) -> tuple[str, dict[str, Any]]:
    order = ["day DESC NULLS LAST"] + [
        f"{quote_identifier(name)} {direction}"
        for name, direction in (
            (TIME_SOURCE, "DESC NULLS LAST"),
            (TIME_OBSERVATION, "DESC NULLS LAST"),
            (FILE, "ASC"),
            (LINE, "ASC"),
        )
        if name in selection.columns
    ]
    sql = (
        f"SELECT * EXCLUDE (day, feed) FROM {_SCAN} WHERE {selection.where_sql} "
        f"ORDER BY {', '.join(order)} LIMIT $limit OFFSET $offset"
    )
    return sql, {**selection.params, "limit": limit, "offset": offset}


def _daily_query(selection: _Selection) -> tuple[str, dict[str, Any]]:
    sql = (
        f"SELECT day, count(*) AS count FROM {_SCAN} WHERE {selection.where_sql} "
        "GROUP BY day ORDER BY day NULLS FIRST"
    )
    return sql, selection.params


def _country_query(selection: _Selection) -> tuple[str, dict[str, Any]]:
    country = selection.column("source.geolocation.cc", "VARCHAR")
    sql = (
        f'SELECT {country} AS "source.geolocation.cc", count(*) AS count FROM {_SCAN} '
        f"WHERE {selection.where_sql} GROUP BY 1 ORDER BY count DESC, 1 NULLS LAST"
    )
    return sql, selection.params


def _summary_query(selection: _Selection, samples: int) -> tuple[str, dict[str, Any]]:
    groups = ", ".join(
        f"{selection.column(name, sql_type)} AS {quote_identifier(name)}"
        for name, sql_type in _SUMMARY_GROUPS
    )
    names = ", ".join(quote_identifier(name) for name, _ in _SUMMARY_GROUPS)
    seen = (
        f"coalesce({selection.column(TIME_SOURCE, 'TIMESTAMPTZ')}, "
        f"{selection.column(TIME_OBSERVATION, 'TIMESTAMPTZ')})"
    )
    # The partition columns are dropped from the sample rows: `feed.name` says the same.
    sql = f"""
        WITH base AS (SELECT * FROM {_SCAN} WHERE {selection.where_sql}),
        numbered AS (
            SELECT {groups}, base.day AS day, {seen} AS seen,
                row_number() OVER (
                    PARTITION BY {names}, base.day ORDER BY {seen} DESC NULLS LAST
                ) AS sample_rank,
                json_merge_patch(to_json(base), '{{"day": null, "feed": null}}') AS sample
            FROM base)
        SELECT {names}, day, count(*) AS count, min(seen) AS first_seen,
            max(seen) AS last_seen,
            coalesce(list(sample ORDER BY sample_rank)
                FILTER (WHERE sample_rank <= $samples), []) AS samples
        FROM numbered GROUP BY ALL ORDER BY day DESC NULLS LAST, count DESC, {names}
    """
    return sql, {**selection.params, "samples": samples}


def _typed(frame: pl.DataFrame | None, schema: pl.Schema) -> pl.DataFrame:
    """A result with fixed column types, also when empty (charts read the schema)."""
    if frame is None or frame.height == 0:
        return pl.DataFrame(schema=schema)
    return frame.cast(schema)
