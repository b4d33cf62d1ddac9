"""The event store: Hive partitions, atomic writes, evolving schemas and typed, paged reads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
import pytest

from entente.core.errors import BadValue, Conflict, ServiceUnavailable
from entente.pipeline.store import (
    DEFAULT_PARTITION,
    EventFilters,
    EventStore,
    escape_partition_value,
    live_parts,
)

ALL = EventFilters()


def events(count: int, **columns: Any) -> pl.DataFrame:
    """`count` scanner events on 2024-05-01 of feed "scan", one column per keyword overridden."""
    base: dict[str, Any] = {
        "time.source": [datetime(2024, 5, 1, 0, 0, i % 60, tzinfo=UTC) for i in range(count)],
        "source.ip": [f"192.0.2.{i % 250}" for i in range(count)],
        "source.port": list(range(count)),
        "source.geolocation.cc": ["DE"] * count,
        "classification.taxonomy": ["vulnerable"] * count,
        "classification.type": ["vulnerable-system"] * count,
        "classification.identifier": ["open-dns"] * count,
        "feed.name": ["scan"] * count,
        "_organisation_id": [7] * count,
        "_file": ["scan.csv"] * count,
        "_line": list(range(1, count + 1)),
        "_raw": ["raw text"] * count,
    }
    base.update(columns)
    return pl.DataFrame(base)


def test_rows_land_in_day_and_feed_partitions_with_escaped_values(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    batch = events(
        4,
        **{
            "time.source": [
                datetime(2024, 5, 1, 23, 59, tzinfo=UTC),
                datetime(2024, 5, 2, 0, 1, tzinfo=UTC),
                None,
                None,
            ],
            "time.observation": [None, None, datetime(2024, 5, 3, tzinfo=UTC), None],
            "feed.name": ["a/b=c", "a/b=c", "x", None],
        },
    )

    assert store.write(batch) == 4

    directories = sorted(
        str(part.parent.relative_to(tmp_path)) for part in tmp_path.rglob("part-*.parquet")
    )
    assert directories == [
        "events/day=2024-05-01/feed=a%2Fb%3Dc",
        "events/day=2024-05-02/feed=a%2Fb%3Dc",
        "events/day=2024-05-03/feed=x",
        f"events/day={DEFAULT_PARTITION}/feed={DEFAULT_PARTITION}",
    ]
    assert store.count(date(2024, 5, 1), date(2024, 5, 2), feed="a/b=c") == 2
    assert store.total(EventFilters(feed="x")) == 1
    # A day range leaves out rows without any time; no range includes them.
    assert store.count(date(2000, 1, 1), date(2100, 1, 1)) == 3
    assert store.total(ALL) == 4


def test_the_day_is_the_utc_day_of_a_zoned_time(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    # 00:30 in Berlin on 2 May is 22:30 UTC on 1 May.
    berlin = datetime(2024, 5, 2, 0, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    store.write(
        events(1, **{"time.source": pl.Series([berlin], dtype=pl.Datetime("us", "Europe/Berlin"))})
    )
    assert store.count(date(2024, 5, 1), date(2024, 5, 1)) == 1


def test_a_time_column_that_is_not_a_datetime_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadValue) as error:
        EventStore(tmp_path).write(events(1, **{"time.source": ["2024-05-01"]}))
    assert error.value.field == "time.source"


def test_only_the_named_bookkeeping_columns_are_stored(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    store.write(events(2, _scratch=[1, 2], _routed_by=["asn", "prefix"]))
    stored = store.rows(ALL)
    assert {"_file", "_line", "_organisation_id", "_routed_by"} <= set(stored.columns)
    assert "_raw" not in stored.columns
    assert "_scratch" not in stored.columns
    assert "day" not in stored.columns and "feed" not in stored.columns


def test_partitions_with_different_columns_read_together(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    store.write(events(2, **{"extra.banner": ["ssh-2.0", "ssh-2.0"]}))
    later = events(3, **{"time.source": [datetime(2024, 5, 2, tzinfo=UTC)] * 3})
    store.write(later.drop("source.geolocation.cc").with_columns(pl.lit(None).alias("extra.x")))

    stored = store.rows(ALL, limit=10)

    assert stored.height == 5
    assert {"extra.banner", "extra.x", "source.geolocation.cc"} <= set(stored.columns)
    assert stored.get_column("extra.banner").null_count() == 3
    assert store.total(EventFilters(country="DE")) == 2


def test_empty_store_reads_as_empty_results(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "never-written")
    assert store.total(ALL) == 0
    assert store.count(date(2024, 1, 1), date(2024, 12, 31)) == 0
    assert store.rows(ALL).height == 0
    assert store.daily_counts(ALL).schema == pl.Schema({"day": pl.Date, "count": pl.Int64})
    assert store.by_country(ALL).height == 0
    assert store.summaries(ALL).height == 0
    assert store.compact(date(2024, 5, 1), "scan") == 0
    assert store.recover() == 0
    assert store.write(events(0)) == 0


def test_pages_are_newest_first_and_do_not_overlap(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    for chunk in range(3):  # three files, to page across them
        times = [datetime(2024, 5, 1, chunk * 5 + i, tzinfo=UTC) for i in range(5)]
        store.write(events(5, **{"time.source": times, "_line": [chunk * 5 + i for i in range(5)]}))

    pages = [store.rows(ALL, limit=4, offset=offset) for offset in (0, 4, 8, 12)]

    lines = [line for page in pages for line in page.get_column("_line").to_list()]
    assert [page.height for page in pages] == [4, 4, 4, 3]
    assert lines == list(range(14, -1, -1))
    assert store.rows(ALL, limit=0).height == 0
    with pytest.raises(BadValue):
        store.rows(ALL, limit=-1)
    with pytest.raises(BadValue):
        store.rows(ALL, offset=-5)


def test_filters_select_rows_and_values_are_bound_not_spliced(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    store.write(events(3))
    store.write(
        events(
            2,
            **{
                "_organisation_id": [9, 9],
                "source.geolocation.cc": ["FR", "FR"],
                "classification.type": ["scanner", "scanner"],
                "feed.name": ["other", "other"],
            },
        )
    )

    assert store.count(None, None, organisation_id=9) == 2
    assert store.count(None, None, feed="scan", organisation_id=9) == 0
    assert store.total(EventFilters(type="scanner", country="FR")) == 2
    assert store.total(EventFilters(source_ip="192.0.2.1")) == 2
    assert store.total(EventFilters(identifier="open-dns", taxonomy="vulnerable")) == 5
    assert store.total(EventFilters(country="DE' OR 1=1 --")) == 0
    assert store.total(EventFilters(feed="scan' OR '1'='1")) == 0
    assert store.total(EventFilters(day_from=date(2024, 5, 2))) == 0


def test_a_filter_on_a_column_no_file_has_matches_nothing(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    store.write(events(2).drop("_organisation_id"))
    assert store.count(None, None, organisation_id=1) == 0
    assert store.rows(EventFilters(organisation_id=1)).height == 0
    assert store.summaries(ALL).get_column("_organisation_id").to_list() == [None]


def test_daily_counts_and_countries_feed_the_charts(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    store.write(events(3))
    store.write(
        events(
            2,
            **{
                "time.source": [datetime(2024, 5, 3, tzinfo=UTC)] * 2,
                "source.geolocation.cc": ["FR", None],
            },
        )
    )

    assert store.daily_counts(ALL).rows() == [(date(2024, 5, 1), 3), (date(2024, 5, 3), 2)]
    assert store.by_country(ALL).rows() == [("DE", 3), ("FR", 1), (None, 1)]
    assert store.by_country(EventFilters(day_from=date(2024, 5, 2))).rows() == [
        ("FR", 1),
        (None, 1),
    ]


def test_summaries_group_events_as_alerts_do(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    times = [datetime(2024, 5, 1, hour, tzinfo=UTC) for hour in (3, 9, 1, 5)]
    store.write(events(4, **{"time.source": times}))
    store.write(events(1, **{"_organisation_id": [8], "classification.identifier": ["ssh"]}))

    summary = store.summaries(ALL, samples=2).sort("_organisation_id")

    first = summary.row(0, named=True)
    assert summary.height == 2
    assert first["_organisation_id"] == 7
    assert first["count"] == 4
    assert first["first_seen"] == datetime(2024, 5, 1, 1, tzinfo=UTC)
    assert first["last_seen"] == datetime(2024, 5, 1, 9, tzinfo=UTC)
    assert first["day"] == date(2024, 5, 1)
    samples = [json.loads(sample) for sample in first["samples"]]
    assert [sample["time.source"][:13] for sample in samples] == ["2024-05-01 09", "2024-05-01 05"]
    assert "day" not in samples[0] and "feed" not in samples[0]
    assert samples[0]["source.ip"].startswith("192.0.2.")
    assert summary.row(1, named=True)["classification.identifier"] == "ssh"


def test_a_failed_write_leaves_no_file_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EventStore(tmp_path)
    store.write(events(2))

    def disk_full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(ServiceUnavailable, match="No space left"):
        store.write(events(3))

    assert [
        path.name for path in tmp_path.rglob("*") if path.is_file() and "part-" not in path.name
    ] == []
    assert store.total(ALL) == 2


def test_a_leftover_temp_file_is_ignored_by_reads_and_cleaned(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    store.write(events(2))
    directory = store.partition_dir(date(2024, 5, 1), "scan")
    # What a writer killed mid-write leaves: a torn hidden temp file.
    torn = directory / ".part-dead.parquet.0123.tmp"
    torn.write_bytes(b"PAR1 half a footer")

    assert store.total(ALL) == 2
    assert store.rows(ALL).height == 2
    assert store.recover() == 0  # young: it may belong to a live writer
    assert torn.exists()
    old = time.time() - 7200
    os.utime(torn, (old, old))
    assert store.recover() == 1
    assert not torn.exists()


def test_a_killed_writer_never_leaves_a_torn_part(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        from datetime import UTC, datetime
        from pathlib import Path
        import polars as pl
        from entente.pipeline.store import EventStore
        rows = 200_000
        batch = pl.DataFrame({{
            "time.source": [datetime(2024, 5, 1, tzinfo=UTC)] * rows,
            "source.ip": [f"10.0.{{i % 256}}.{{i % 200}}" for i in range(rows)],
            "feed.name": ["scan"] * rows,
        }})
        store = EventStore(Path({str(tmp_path)!r}))
        while True:
            store.write(batch)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script])
    directory = EventStore(tmp_path).partition_dir(date(2024, 5, 1), "scan")
    deadline = time.monotonic() + 60
    while len(live_parts(directory)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    store = EventStore(tmp_path)
    parts = live_parts(directory)
    assert len(parts) >= 2
    for part in parts:  # every visible part is whole
        assert pl.read_parquet(part, hive_partitioning=False).height == 200_000
    assert store.total(ALL) == 200_000 * len(parts)
    store.recover(older_than=timedelta(0))
    assert list(directory.glob(".*.tmp")) == []


def test_compaction_merges_parts_and_keeps_every_row(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    for chunk in range(4):
        store.write(events(3, _line=[chunk * 3 + i for i in range(3)]))
    store.write(events(1, **{"extra.new": ["x"], "_line": [99]}))
    before = store.rows(ALL, limit=100).sort("_line")

    assert store.compact(date(2024, 5, 1), "scan") == 5

    after = store.rows(ALL, limit=100).sort("_line")
    assert len(store.partition_files(date(2024, 5, 1), "scan")) == 1
    assert after.select(before.columns).equals(before)
    assert store.compact(date(2024, 5, 1), "scan") == 0
    assert list(store.partition_dir(date(2024, 5, 1), "scan").iterdir()) == store.partition_files(
        date(2024, 5, 1), "scan"
    )


def test_a_compaction_killed_before_its_deletes_counts_no_row_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EventStore(tmp_path)
    for _ in range(3):
        store.write(events(2))

    def killed(*_: object) -> int:
        raise KeyboardInterrupt  # the process dies after the merged file is in place

    monkeypatch.setattr("entente.pipeline.store._finish_compaction", killed)
    with pytest.raises(KeyboardInterrupt):
        store.compact(date(2024, 5, 1), "scan")
    monkeypatch.undo()

    directory = store.partition_dir(date(2024, 5, 1), "scan")
    assert len(list(directory.glob("part-*.parquet"))) == 4  # 3 old + the merged one
    assert store.total(ALL) == 6

    assert store.recover() == 3
    assert len(list(directory.glob("part-*.parquet"))) == 1
    assert store.total(ALL) == 6


def test_a_compaction_killed_before_its_merged_file_leaves_the_old_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EventStore(tmp_path)
    for _ in range(3):
        store.write(events(2))

    def killed(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("entente.pipeline.store.write_parquet_atomically", killed)
    with pytest.raises(KeyboardInterrupt):
        store.compact(date(2024, 5, 1), "scan")
    monkeypatch.undo()

    directory = store.partition_dir(date(2024, 5, 1), "scan")
    assert len(list(directory.glob(".compact-*.json"))) == 1
    assert store.total(ALL) == 6
    assert store.recover(older_than=timedelta(0)) == 1  # the orphaned journal
    assert store.total(ALL) == 6
    assert store.compact(date(2024, 5, 1), "scan") == 3


def test_only_one_compaction_per_partition_at_a_time_and_stale_locks_go(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    store.write(events(1))
    store.write(events(1))
    lock = store.partition_dir(date(2024, 5, 1), "scan") / ".compact.lock"
    lock.touch()
    with pytest.raises(Conflict):
        store.compact(date(2024, 5, 1), "scan")

    # The lock of a compactor that died is cleaned once old.
    old = time.time() - 7200
    os.utime(lock, (old, old))
    assert store.recover() == 1
    assert store.compact(date(2024, 5, 1), "scan") == 2


def test_other_engines_read_the_layout_with_a_plain_hive_glob(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    store.write(events(2, **{"feed.name": ["a/b", "a/b"]}))
    store.write(events(1))
    glob = str(tmp_path / "events" / "**" / "*.parquet")

    rows = duckdb.sql(
        "SELECT feed, day, count(*) FROM read_parquet($glob, hive_partitioning = true, "
        "union_by_name = true) GROUP BY ALL ORDER BY feed",
        params={"glob": glob},
    ).fetchall()

    assert rows == [("a/b", date(2024, 5, 1), 2), ("scan", date(2024, 5, 1), 1)]


def test_an_unreadable_part_is_reported_as_a_store_error(tmp_path: Path) -> None:
    store = EventStore(tmp_path)
    store.write(events(1))
    store.partition_files(date(2024, 5, 1), "scan")[0].write_bytes(b"not parquet")
    with pytest.raises(ServiceUnavailable, match="unreadable"):
        store.total(ALL)


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("shadowserver-scan", "shadowserver-scan"),
        ("a/b", "a%2Fb"),
        ("x=y:z", "x%3Dy%3Az"),
        ("50%", "50%25"),
        ("new\nline", "new%0Aline"),
        ("", DEFAULT_PARTITION),
        (None, DEFAULT_PARTITION),
    ],
)
def test_partition_values_are_escaped_as_hive_does(value: str | None, escaped: str) -> None:
    assert escape_partition_value(value) == escaped
