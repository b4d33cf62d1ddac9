"""De-duplication: drop rows seen earlier in the batch or already in the event store.

A row's key is a 64-bit hash (polars `hash_rows`, fixed seed) of its feed, its *window*
(the UTC day of `time.source`, else `time.observation`, in buckets of `window` days counted
from 1970-01-01) and its key fields (by default the row's observable: address, port,
network, name, URL, account or hash; and `classification.identifier`). The key is stored
with the row (`_dedup_key`), so the keys to compare against are read back from what really
got stored: re-running a file adds nothing, and a killed ingest re-run ends in the same
state.

Why fixed windows rather than "within N days of the last report": a fixed window makes
the result the same however a file is split into batches, in whatever order, and on
whichever worker: a sliding window's answer depends on what was kept before.

Why a version file: polars guarantees `hash` values only within one version, so the polars
version, seed and recipe the keys were made with are recorded per feed; when they differ,
the feed's stored keys are recomputed from its stored rows before anything is compared.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from entente.core.errors import BadValue
from entente.pipeline.batches import KEY
from entente.pipeline.store import (
    FEED_NAME,
    EventStore,
    escape_partition_value,
    event_day,
    write_file_atomically,
    write_parquet_atomically,
)

KEY_SEED = 0x656E74656E7465
"""Fixed, so keys are the same in every process (polars' default seeds are per-process)."""
KEY_SCHEME = 1
"""Bump when the way keys are built changes, so stored keys get recomputed."""
DEFAULT_KEY_FIELDS = (
    "source.ip",
    "source.port",
    "source.network",
    "source.fqdn",
    "source.url",
    "source.account",
    "malware.hash.md5",
    "malware.hash.sha1",
    "malware.hash.sha256",
    "classification.identifier",
    FEED_NAME,
)
"""The observable a row reports, what it was classified as, and the feed. Why every kind
of observable and not just the address and port: rows of indicator feeds (STIX, MISP,
abuse.ch) often carry no address, and a key without their URL or hash folded them all into
one. A field the feed lacks is null in every row, so it changes nothing."""
DEFAULT_WINDOW = timedelta(days=1)

Keys = npt.NDArray[np.uint64]
Partition = tuple[date | None, str | None]


@dataclass(frozen=True, slots=True)
class KeyRecipe:
    """What a feed's stored keys were computed with; any change means recomputing them."""

    key_fields: tuple[str, ...]
    window_days: int
    polars: str = pl.__version__
    seed: int = KEY_SEED
    scheme: int = KEY_SCHEME

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "key_fields": list(self.key_fields)}


def key_recipe_path(store: EventStore, feed: str | None) -> Path:
    """Where the recipe of a feed's stored keys is recorded (beside, not inside, the events)."""
    return store.root / "dedup" / f"feed={escape_partition_value(feed)}.json"


class Deduplicator:
    """Drops repeats of a key within a window, against the batch itself and the store.

    Use one per ingest run: it caches the stored keys of the partitions it has looked at
    and adds the keys of the rows it keeps, assuming they get written. If the run fails,
    throw it away; a new one reads the keys of what was actually stored. One recipe per
    feed: two workers with different key fields for the same feed would keep recomputing.
    """

    def __init__(
        self,
        store: EventStore,
        key_fields: Sequence[str] = DEFAULT_KEY_FIELDS,
        window: timedelta = DEFAULT_WINDOW,
    ) -> None:
        if window.days < 1 or window != timedelta(days=window.days):
            raise BadValue(
                f"window must be a whole number of days, 1 or more, not {window}",
                field="window",
                value=str(window),
            )
        if any(not name for name in key_fields):
            raise BadValue("key fields must be field names", field="key_fields", value=key_fields)
        # The feed is always part of the key: keys are stored and compared per feed.
        fields = tuple(dict.fromkeys([FEED_NAME, *key_fields]))
        self.store = store
        self.recipe = KeyRecipe(key_fields=fields, window_days=window.days)
        # Keys hash the feed and window in, so one sorted array serves every partition: a
        # key of one feed or window never equals another's (but for a 2**-64 chance).
        self._seen = SortedRuns()
        self._loaded: set[Partition] = set()
        self._checked_feeds: set[str | None] = set()

    def keys(self, batch: pl.DataFrame) -> pl.Series:
        """Each row's key (UInt64, named `_dedup_key`)."""
        # Values go in as text so a port read as Int32 in one file and Int64 in the next
        # still gets the same key; the window goes in as its number.
        window = (event_day(batch).cast(pl.Int32) // self.recipe.window_days).alias("__window")
        values = [
            (pl.col(name) if name in batch.columns else pl.lit(None)).cast(pl.String).alias(name)
            for name in self.recipe.key_fields
        ]
        return batch.select(window, *values).hash_rows(KEY_SEED).alias(KEY)

    def drop_seen(self, batch: pl.DataFrame) -> tuple[pl.DataFrame, int]:
        """The rows whose key is new (first of the batch, not stored in their window) with
        their `_dedup_key`, and how many were dropped."""
        if batch.height == 0:
            return batch.with_columns(pl.Series(KEY, [], dtype=pl.UInt64)), 0
        keys = self.keys(batch)
        for partition in self._window_partitions(batch):
            self._load(partition)
        first, distinct = _first_occurrences(keys.to_numpy())
        fresh = ~self._seen.contains(distinct)
        keep = np.zeros(batch.height, dtype=np.bool_)
        keep[first[fresh]] = True
        # Remembered now, as if written: the next batch of the run must not repeat them.
        self._seen.add(distinct[fresh])
        kept = batch.with_columns(keys).filter(pl.Series(keep))
        return kept, batch.height - kept.height

    def _window_partitions(self, batch: pl.DataFrame) -> Iterator[Partition]:
        """Every (day, feed) partition sharing a window with a row of the batch."""
        width = self.recipe.window_days
        seen: set[Partition] = set()
        # A loop over the batch's few distinct (day, feed) pairs and their window's days.
        for day, feed in _distinct_partitions(batch):
            self._ensure_recipe(feed)
            for window_day in [None] if day is None else _window_days(day, width):
                if (window_day, feed) not in seen:
                    seen.add((window_day, feed))
                    yield window_day, feed

    def _load(self, partition: Partition) -> None:
        """Add a partition's stored keys, read once per run (the `_dedup_key` column only)."""
        if partition in self._loaded:
            return
        chunks = [self._file_keys(path) for path in self.store.partition_files(*partition)]
        if chunks:
            stored = pl.Series(np.concatenate(chunks), dtype=pl.UInt64).sort().to_numpy()
            self._seen.add(stored)
        self._loaded.add(partition)

    def _file_keys(self, path: Path) -> Keys:
        if KEY in pl.read_parquet_schema(path):
            column = pl.read_parquet(path, columns=[KEY], hive_partitioning=False)
            return column.get_column(KEY).drop_nulls().to_numpy()
        # A part written without de-duplication: its keys come from its rows.
        return self.keys(pl.read_parquet(path, hive_partitioning=False)).to_numpy()

    def _ensure_recipe(self, feed: str | None) -> None:
        """Recompute the feed's stored keys if they were made another way, once per run."""
        if feed in self._checked_feeds:
            return
        path = key_recipe_path(self.store, feed)
        wanted = self.recipe.as_json()
        if _read_recipe(path) != wanted:
            self._recompute(feed)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_file_atomically(path, lambda temp: temp.write_text(json.dumps(wanted)))
        self._checked_feeds.add(feed)

    def _recompute(self, feed: str | None) -> None:
        """Rewrite `_dedup_key` in every stored part of the feed, each file atomically."""
        for path in self.store.feed_files(feed):
            rows = pl.read_parquet(path, hive_partitioning=False)
            write_parquet_atomically(rows.with_columns(self.keys(rows)), path)


def _read_recipe(path: Path) -> dict[str, Any] | None:
    try:
        recipe: dict[str, Any] = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return recipe


def _distinct_partitions(batch: pl.DataFrame) -> list[Partition]:
    """The batch's distinct (day, feed) pairs, cheaply in the usual one-feed batch."""
    days = batch.select(event_day(batch).alias("day")).get_column("day")
    if FEED_NAME not in batch.columns:
        return [(day, None) for day in days.unique().to_list()]
    feeds = batch.get_column(FEED_NAME).cast(pl.String)
    only = feeds[0]
    if feeds.null_count() == 0 and bool((feeds == only).all()):
        return [(day, only) for day in days.unique().to_list()]
    pairs = pl.DataFrame({"day": days, "feed": feeds}).unique()
    return [(day, feed) for day, feed in pairs.iter_rows()]


def _window_days(day: date, width: int) -> list[date]:
    """The days of the fixed window `day` falls in (windows count from 1970-01-01)."""
    offset = (day - date(1970, 1, 1)).days
    start = day - timedelta(days=offset % width)
    return [start + timedelta(days=step) for step in range(width)]


def _first_occurrences(keys: Keys) -> tuple[npt.NDArray[np.int64], Keys]:
    """The index of each distinct key's first row, and the distinct keys, sorted alike.

    Sort-based rather than a hash set: polars' multi-threaded arg_sort plus a run scan is
    about twice as fast as `is_first_distinct` on millions of keys, and yields the sorted
    distinct keys the store lookup needs anyway.
    """
    order = pl.Series(keys).arg_sort().to_numpy().astype(np.int64)
    ordered = keys[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    # arg_sort need not be stable, so the first row of a run is its smallest index.
    first = np.minimum.reduceat(order, starts)
    return first, ordered[starts]


class SortedRuns:
    """A growing set of keys as a few sorted runs of doubling sizes (a log-structured merge).

    Merging every batch's keys into one sorted array copied all keys seen so far per batch,
    so a long file cost quadratic time; here each key is merged about log2(batches) times,
    and a lookup is one binary search per run (a few).
    """

    def __init__(self) -> None:
        self.runs: list[Keys] = []

    def add(self, keys: Keys) -> None:
        """Add sorted, distinct keys."""
        if len(keys) == 0:
            return
        run = keys
        # Merge with the newest runs while they are no larger: sizes stay roughly doubling.
        while self.runs and len(self.runs[-1]) <= len(run):
            run = _merge_sorted(self.runs.pop(), run)
        self.runs.append(run)

    def contains(self, wanted: Keys) -> npt.NDArray[np.bool_]:
        """Which of `wanted` are in the set."""
        found = np.zeros(len(wanted), dtype=np.bool_)
        for run in self.runs:
            found |= _sorted_contains(run, wanted)
        return found


def _merge_sorted(left: Keys, right: Keys) -> Keys:
    """Two sorted arrays as one: timsort (numpy's stable sort) merges two runs in one pass."""
    if len(right) == 0:
        return left
    return np.sort(np.concatenate([left, right]), kind="stable")


def _sorted_contains(stored: Keys, wanted: Keys) -> npt.NDArray[np.bool_]:
    """Which of `wanted` are in the sorted array `stored`."""
    if len(stored) == 0:
        return np.zeros(len(wanted), dtype=np.bool_)
    found = np.searchsorted(stored, wanted)
    np.minimum(found, len(stored) - 1, out=found)
    return np.asarray(stored[found] == wanted)
