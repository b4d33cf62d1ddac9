"""De-duplication: repeats within a batch, across runs and restarts, windows, key recipes."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entente.core.errors import BadValue
from entente.pipeline.batches import KEY
from entente.pipeline.dedup import Deduplicator, key_recipe_path
from entente.pipeline.store import EventFilters, EventStore, write_parquet_atomically

Row = tuple[str, int, str, date]


def batch(rows: list[Row], feed: str = "scan", first_line: int = 1) -> pl.DataFrame:
    """Events from (ip, port, identifier, day) tuples, numbered from `first_line`."""
    return pl.DataFrame(
        {
            "source.ip": [row[0] for row in rows],
            "source.port": [row[1] for row in rows],
            "classification.identifier": [row[2] for row in rows],
            "time.source": [
                datetime(row[3].year, row[3].month, row[3].day, 12, tzinfo=UTC) for row in rows
            ],
            "feed.name": [feed] * len(rows),
            "_line": list(range(first_line, first_line + len(rows))),
        },
        schema_overrides={"time.source": pl.Datetime("us", "UTC")},
    )


def ingest(store: EventStore, dedup: Deduplicator, rows: pl.DataFrame) -> tuple[int, int]:
    kept, dropped = dedup.drop_seen(rows)
    store.write(kept)
    return kept.height, dropped


def stored_keys(store: EventStore) -> list[int]:
    files = store.files()
    if not files:
        return []
    return pl.concat(
        [pl.read_parquet(path, columns=[KEY], hive_partitioning=False) for path in files]
    )[KEY].to_list()


def stored_lines(store: EventStore) -> list[int]:
    return sorted(store.rows(EventFilters(), limit=10_000).get_column("_line").to_list())


MAY_1 = date(2024, 5, 1)
A = ("192.0.2.1", 53, "open-dns", MAY_1)
B = ("192.0.2.2", 53, "open-dns", MAY_1)
C = ("192.0.2.1", 22, "ssh", MAY_1)


def test_repeats_within_a_batch_keep_their_first_row(tmp_path: Path) -> None:
    dedup = Deduplicator(EventStore(tmp_path))
    kept, dropped = dedup.drop_seen(batch([A, B, A, C, B, A]))
    assert dropped == 3
    assert kept.get_column("_line").to_list() == [1, 2, 4]
    assert kept.schema[KEY] == pl.UInt64
    assert kept.get_column(KEY).n_unique() == 3


def test_rerunning_the_same_file_adds_nothing(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    rows = batch([A, B, C, A])

    assert ingest(store, Deduplicator(store), rows) == (3, 1)
    assert ingest(store, Deduplicator(store), rows) == (0, 4)
    assert store.total(EventFilters()) == 3


def test_later_batches_of_one_run_are_checked_against_earlier_ones(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    dedup = Deduplicator(store)
    # Not written in between: the run remembers what it kept.
    first, _ = dedup.drop_seen(batch([A, B]))
    second, dropped = dedup.drop_seen(batch([B, C], first_line=3))
    assert dropped == 1
    assert second.get_column("_line").to_list() == [4]
    assert first.height == 2


def test_a_killed_ingest_rerun_ends_as_an_uninterrupted_one(tmp_path: Path) -> None:
    rows = batch([A, B, A, C, B, ("198.51.100.7", 80, "http", MAY_1)])
    clean = EventStore(tmp_path / "clean")
    ingest(clean, Deduplicator(clean), rows)

    store = EventStore(tmp_path / "killed")
    kept, _ = Deduplicator(store).drop_seen(rows)
    store.write(kept.head(2))  # the process died after writing part of what it kept
    ingest(store, Deduplicator(store), rows)

    assert stored_lines(store) == stored_lines(clean) == [1, 2, 4, 6]
    assert sorted(stored_keys(store)) == sorted(stored_keys(clean))


def test_the_default_window_is_the_utc_day(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    before_midnight = batch([A]).with_columns(
        pl.lit(datetime(2024, 5, 1, 23, 59, tzinfo=UTC)).alias("time.source")
    )
    after_midnight = batch([A]).with_columns(
        pl.lit(datetime(2024, 5, 2, 0, 1, tzinfo=UTC)).alias("time.source")
    )
    later_that_day = batch([A]).with_columns(
        pl.lit(datetime(2024, 5, 2, 18, 0, tzinfo=UTC)).alias("time.source")
    )
    assert ingest(store, Deduplicator(store), before_midnight) == (1, 0)
    assert ingest(store, Deduplicator(store), after_midnight) == (1, 0)
    assert ingest(store, Deduplicator(store), later_that_day) == (0, 1)


def test_a_week_window_spans_day_partitions_and_ends_at_its_boundary(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    week = timedelta(days=7)
    # Windows are counted from 1970-01-01, so find the first and last day of one.
    start = MAY_1 - timedelta(days=(MAY_1 - date(1970, 1, 1)).days % 7)
    last = start + timedelta(days=6)

    def on(day: date) -> pl.DataFrame:
        return batch([(A[0], A[1], A[2], day)])

    assert ingest(store, Deduplicator(store, window=week), on(start)) == (1, 0)
    # Six days later, another day partition, the same window: read from the store.
    assert ingest(store, Deduplicator(store, window=week), on(last)) == (0, 1)
    # The next day starts the next window.
    assert ingest(store, Deduplicator(store, window=week), on(last + timedelta(days=1))) == (1, 0)
    assert store.total(EventFilters()) == 2


@pytest.mark.parametrize(
    "field", ["source.url", "source.fqdn", "malware.hash.sha256", "source.network"]
)
def test_rows_without_an_address_are_told_apart_by_their_observable(
    tmp_path: Path, field: str
) -> None:
    # Indicator feeds (STIX, MISP, abuse.ch) give URLs or hashes and no address.
    rows = pl.DataFrame(
        {
            field: ["one", "two", "one", "three"],
            "classification.identifier": ["phishing"] * 4,
            "time.source": [datetime(2024, 5, 1, 12, tzinfo=UTC)] * 4,
            "feed.name": ["indicators"] * 4,
            "_line": [1, 2, 3, 4],
        }
    )
    kept, dropped = Deduplicator(EventStore(tmp_path)).drop_seen(rows)
    assert kept.get_column("_line").to_list() == [1, 2, 4]
    assert dropped == 1


def test_the_feed_is_always_part_of_the_key(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    dedup = Deduplicator(store, key_fields=("source.ip",))
    rows = pl.concat([batch([A], feed="one"), batch([C], feed="two"), batch([C], feed="one")])
    kept, dropped = dedup.drop_seen(rows)
    assert dropped == 1  # A and C share the IP: dropped only within feed "one"
    assert kept.get_column("feed.name").to_list() == ["one", "two"]


def test_rows_without_a_time_are_deduplicated_among_themselves(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    rows = batch([A, A, B]).with_columns(
        pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("time.source")
    )
    assert ingest(store, Deduplicator(store), rows) == (2, 1)
    assert ingest(store, Deduplicator(store), rows) == (0, 3)


def test_parts_stored_without_keys_are_still_compared(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    ingest(store, Deduplicator(store), batch([A]))  # records the feed's key recipe
    store.write(batch([B, C], first_line=2))  # written around the de-duplicator
    assert ingest(store, Deduplicator(store), batch([A, B, C])) == (0, 3)


def test_an_empty_batch_passes_through(tmp_path: Path) -> None:
    kept, dropped = Deduplicator(EventStore(tmp_path)).drop_seen(batch([]))
    assert (kept.height, dropped) == (0, 0)
    assert KEY in kept.columns


@pytest.mark.parametrize("window", [timedelta(0), timedelta(hours=12), timedelta(days=1, hours=1)])
def test_a_window_must_be_whole_days(tmp_path: Path, window: timedelta) -> None:
    with pytest.raises(BadValue) as error:
        Deduplicator(EventStore(tmp_path), window=window)
    assert error.value.field == "window"


def test_keys_are_the_same_in_another_process(tmp_path: Path) -> None:
    rows = batch([A, B, C])
    rows.write_parquet(tmp_path / "rows.parquet")
    script = (
        "import sys, polars as pl\n"
        "from pathlib import Path\n"
        "from entente.pipeline.dedup import Deduplicator\n"
        "from entente.pipeline.store import EventStore\n"
        "rows = pl.read_parquet(sys.argv[1])\n"
        "print(Deduplicator(EventStore(Path(sys.argv[2]))).keys(rows).to_list())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "rows.parquet"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout) == Deduplicator(EventStore(tmp_path)).keys(rows).to_list()


def test_keys_made_by_another_polars_version_are_recomputed(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    rows = batch([A, B, C])
    ingest(store, Deduplicator(store), rows)
    # What an upgrade looks like: the recorded version differs and the stored hashes
    # (here zeroed) no longer match what this polars computes.
    recipe = key_recipe_path(store, "scan")
    recorded = json.loads(recipe.read_text())
    recipe.write_text(json.dumps({**recorded, "polars": "0.0.1"}))
    for path in store.files():
        write_parquet_atomically(
            pl.read_parquet(path, hive_partitioning=False).with_columns(
                pl.lit(0, dtype=pl.UInt64).alias(KEY)
            ),
            path,
        )

    dedup = Deduplicator(store)
    assert ingest(store, dedup, rows) == (0, 3)
    assert json.loads(recipe.read_text())["polars"] == pl.__version__
    assert sorted(stored_keys(store)) == sorted(dedup.keys(rows).to_list())


def test_stored_keys_are_trusted_while_the_recipe_matches(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    rows = batch([A, B])
    ingest(store, Deduplicator(store), rows)
    for path in store.files():
        write_parquet_atomically(
            pl.read_parquet(path, hive_partitioning=False).with_columns(
                pl.lit(0, dtype=pl.UInt64).alias(KEY)
            ),
            path,
        )
    # Same recipe, so no recompute: the zeroed keys are what the store says it holds.
    assert ingest(store, Deduplicator(store), rows) == (2, 0)


def test_changing_the_key_fields_recomputes_the_stored_keys(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    ingest(store, Deduplicator(store), batch([A]))
    by_ip = Deduplicator(store, key_fields=("source.ip", "feed.name"))
    # Same IP, other port and identifier: a repeat under the new recipe.
    assert ingest(store, by_ip, batch([C], first_line=2)) == (0, 1)
    assert json.loads(key_recipe_path(store, "scan").read_text())["key_fields"] == [
        "feed.name",
        "source.ip",
    ]


IPS = st.sampled_from(["192.0.2.1", "192.0.2.2", "2001:db8::1"])
ROWS = st.lists(
    st.tuples(
        IPS,
        st.sampled_from([22, 53]),
        st.sampled_from(["ssh", "open-dns"]),
        st.sampled_from([MAY_1, date(2024, 5, 2), date(2024, 5, 9)]),
    ),
    min_size=1,
    max_size=40,
)


@settings(
    max_examples=max(10, settings().max_examples // 10),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    rows=ROWS,
    cuts=st.lists(st.integers(0, 40), max_size=5),
    restarts=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_any_chunking_stores_each_distinct_key_once(
    rows: list[Row], cuts: list[int], restarts: list[bool]
) -> None:
    everything = batch(rows)
    bounds = sorted({0, len(rows), *(cut for cut in cuts if cut < len(rows))})
    with tempfile.TemporaryDirectory() as directory:
        store = EventStore(Path(directory))
        dedup = Deduplicator(store)
        for index, (begin, end) in enumerate(itertools.pairwise(bounds)):
            if restarts[index]:
                dedup = Deduplicator(store)  # a new ingest run on the same store
            ingest(store, dedup, everything.slice(begin, end - begin))

        keys = stored_keys(store)
        expected = dedup.keys(everything)
        assert sorted(keys) == sorted(expected.unique().to_list())
        # And the row kept for each key is its first in the file, however it was cut.
        first_lines = everything.filter(expected.is_first_distinct()).get_column("_line")
        assert stored_lines(store) == sorted(first_lines.to_list())
