"""Feed runs from their sources on SQLite and PostgreSQL: a directory read once per file,
a URL over a real loopback server (304 makes no run), looks recorded whatever they found,
and the schedule: which feeds are due at a given time, and the watcher's cycle."""

from __future__ import annotations

import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.core.audit import SYSTEM
from entente.core.config import Settings
from entente.core.errors import BadValue, FetchError
from entente.pipeline import feeds
from entente.pipeline.choices import FetchOutcome, RunStatus
from entente.pipeline.models import Feed, FeedFile, FeedRun, FeedSourceState
from entente.pipeline.runner import FeedRunner, downloads_dir
from entente.pipeline.schedule import DueResult, Watcher, due_feeds, next_due, planned, run_due
from entente.pipeline.schemas import FeedCreate
from entente.pipeline.sources import InMemorySource, Scope
from tests.pipeline.feed_server import FeedServer

SAMPLES = Path(__file__).parent.parent / "data" / "shadowserver"
MISP_FEED = Path(__file__).parent.parent / "data" / "misp_feed_http"


@pytest.fixture
def hub(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"data_dir": tmp_path / "var"})


def add(session: Session, name: str, **fields: object) -> Feed:
    data = FeedCreate.model_validate({"name": name, "parser": "shadowserver", **fields})
    return feeds.create_feed(session, SYSTEM, data)


def rows_of(path: Path) -> int:
    return sum(1 for _ in path.open()) - 1


def state_of(session: Session, feed: Feed) -> FeedSourceState:
    session.expire_all()
    found = session.get(FeedSourceState, feed.id)
    assert found is not None
    return found


# ---- runs ------------------------------------------------------------------------------


def test_a_directory_feed_reads_each_file_once(
    session: Session, hub: Settings, tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(SAMPLES / "scan_rdp.csv", drop)
    feed = add(session, "drop", source_kind="directory", source=str(drop))
    runner = FeedRunner(session, hub)

    first = runner.run(feed)
    assert [run.rows_stored for run in first.runs] == [rows_of(SAMPLES / "scan_rdp.csv")]
    assert first.look.outcome is FetchOutcome.NEW

    again = runner.run(feed)
    assert again.runs == []
    assert again.look.outcome is FetchOutcome.NOTHING_NEW

    shutil.copy(SAMPLES / "scan_dns.csv", drop)
    third = runner.run(feed)
    assert [Path(run.file).name for run in third.runs] == ["scan_dns.csv"]

    everything = runner.run(feed, Scope.ALL)
    assert [Path(run.file).name for run in everything.runs] == ["scan_dns.csv", "scan_rdp.csv"]
    assert all(run.rows_stored == 0 and run.duplicates == run.rows_in for run in everything.runs)

    (drop / "scan_rdp.csv").unlink()
    runner.run(feed)
    read = session.scalars(select(FeedFile.path).where(FeedFile.feed_id == feed.id)).all()
    assert read == [str(drop / "scan_dns.csv")], "a deleted file is forgotten"
    state = state_of(session, feed)
    assert (state.outcome, state.failures, state.error) == (FetchOutcome.NOTHING_NEW, 0, "")


def test_a_file_its_parser_cannot_read_fails_once_not_on_every_run(
    session: Session, hub: Settings, tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(SAMPLES / "scan_http-missing-column.csv", drop / "scan_http.csv")
    shutil.copy(SAMPLES / "scan_rdp.csv", drop)
    feed = add(session, "drop", source_kind="directory", source=str(drop))
    runner = FeedRunner(session, hub)

    report = runner.run(feed)
    assert [run.status for run in report.runs] == [RunStatus.FAILED, RunStatus.SUCCEEDED]
    assert len(report.failures) == 1
    assert "missing column ip" in report.failures[0]
    assert runner.run(feed).runs == []

    shutil.copy(SAMPLES / "scan_http.csv", drop / "scan_http.csv")  # fixed: read again
    fixed = runner.run(feed)
    assert [run.status for run in fixed.runs] == [RunStatus.SUCCEEDED]


def test_a_url_feed_reads_a_download_once_and_a_304_makes_no_run(
    session: Session, hub: Settings, feed_server: FeedServer
) -> None:
    shutil.copy(SAMPLES / "scan_telnet.csv", feed_server.root)
    feed = add(session, "telnet", source_kind="url", source=feed_server.url("scan_telnet.csv"))
    runner = FeedRunner(session, hub)

    fetched = runner.fetch(feed)
    assert fetched.outcome is FetchOutcome.NEW
    assert fetched.download is not None
    assert fetched.download.parent == downloads_dir(hub, feed)
    assert session.scalars(select(FeedRun).where(FeedRun.feed_id == feed.id)).all() == []

    report = runner.run(feed)
    assert report.look.outcome is FetchOutcome.NOT_MODIFIED
    assert [run.file for run in report.runs] == [str(fetched.download)]
    assert report.runs[0].rows_stored == rows_of(SAMPLES / "scan_telnet.csv")

    again = runner.run(feed)
    assert (again.look.outcome, again.runs) == (FetchOutcome.NOT_MODIFIED, [])
    state = state_of(session, feed)
    assert state.etag.startswith('"')
    assert state.file == str(fetched.download)
    assert state.bytes == (SAMPLES / "scan_telnet.csv").stat().st_size
    assert state.changed_at is not None and state.checked_at is not None
    assert state.checked_at > state.changed_at


def test_a_misp_feed_over_http_reads_each_new_event_once(
    session: Session, hub: Settings, feed_server: FeedServer
) -> None:
    shutil.copytree(MISP_FEED, feed_server.root / "misp")
    feed = add(
        session, "misp", parser="misp_feed", source_kind="url", source=feed_server.url("misp/")
    )
    runner = FeedRunner(session, hub)

    first = runner.run(feed)
    assert [Path(run.file).name for run in first.runs] == sorted(
        path.name for path in MISP_FEED.glob("*.json") if path.name != "manifest.json"
    )
    assert all(run.status is RunStatus.SUCCEEDED and run.rows_in > 0 for run in first.runs)
    assert runner.run(feed).runs == []
    state = state_of(session, feed)
    assert state.outcome is FetchOutcome.NOT_MODIFIED
    assert len(state.manifest) == len(first.runs)


def test_a_failed_look_is_recorded_and_counted(
    session: Session, hub: Settings, tmp_path: Path
) -> None:
    feed = add(session, "flaky", source_kind="url", source="https://feeds.example/x.csv")
    answers = [FetchError("could not fetch: HTTP 503"), FetchError("again"), b"192.0.2.1\n"]
    source = InMemorySource(tmp_path / "downloads", answers)
    runner = FeedRunner(session, hub, sources=lambda _feed, _settings: source)

    for _ in range(2):
        with pytest.raises(FetchError):
            runner.run(feed)
    state = state_of(session, feed)
    assert (state.outcome, state.failures, state.error) == (FetchOutcome.FAILED, 2, "again")

    runner.fetch(feed)
    state = state_of(session, feed)
    assert (state.outcome, state.failures, state.error) == (FetchOutcome.NEW, 0, "")
    assert state.etag == '"3"'
    assert source.looks[-1][0].etag == "", "the failed looks left the validators alone"


def test_an_upload_feed_has_no_source_to_run(session: Session, hub: Settings) -> None:
    feed = add(session, "uploads")
    with pytest.raises(BadValue, match="takes uploads") as raised:
        FeedRunner(session, hub).run(feed)
    assert raised.value.field == "feed"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"source_kind": "url", "source": "ftp://feeds.example/x"}, "source"),
        ({"source_kind": "url", "source": "http://"}, "source"),
        ({"source_kind": "url", "source": "https://exa mple.org/x"}, "source"),
        ({"source_kind": "directory", "source": "/no/such/directory"}, "source"),
        ({"options": {"source": {"max_bytes": -1}}}, "options.source.max_bytes"),
    ],
)
def test_a_bad_source_is_refused_when_the_feed_is_added(
    session: Session, fields: dict[str, object], field: str
) -> None:
    with pytest.raises(BadValue) as raised:
        add(session, "bad", **fields)
    assert raised.value.field == field


# ---- the schedule ----------------------------------------------------------------------


def looked_at(session: Session, feed: Feed, when: datetime) -> None:
    session.add(FeedSourceState(feed_id=feed.id, checked_at=when, manifest={}))
    session.commit()


def ran_at(session: Session, feed: Feed, when: datetime) -> None:
    session.add(FeedRun(feed_id=feed.id, file="x.csv", status=RunStatus.SUCCEEDED, started_at=when))
    session.commit()


def test_only_enabled_scheduled_feeds_whose_interval_passed_are_due(
    session: Session, tmp_path: Path
) -> None:
    now = datetime.now(UTC) + timedelta(seconds=5)  # after every feed's creation
    url = {"source_kind": "url", "source": "https://feeds.example/x.csv"}
    overdue = add(session, "overdue", interval_minutes=60, **url)
    ran_at(session, overdue, now - timedelta(minutes=61))
    looked_recently = add(session, "looked-recently", interval_minutes=60, **url)
    ran_at(session, looked_recently, now - timedelta(hours=5))
    looked_at(session, looked_recently, now - timedelta(minutes=10))  # a 304: no run
    never = add(session, "never", interval_minutes=30, **url)
    add(session, "on-demand", **url)
    add(session, "uploads", interval_minutes=5)
    disabled = add(session, "disabled", interval_minutes=5, **url)
    disabled.enabled = False
    session.commit()

    assert [feed.name for feed in due_feeds(session, now)] == ["overdue", "never"]
    plans = {plan.feed.name: plan.due_at for plan in planned(session)}
    assert plans == {
        "never": never.created_at,
        "overdue": now - timedelta(minutes=1),
        "looked-recently": now + timedelta(minutes=50),
    }
    assert next_due(looked_recently, None, None) == looked_recently.created_at


def test_run_due_runs_each_due_feed_and_a_failure_stops_no_other(
    session: Session, hub: Settings, tmp_path: Path
) -> None:
    url = {"source_kind": "url", "source": "https://feeds.example/x.csv", "interval_minutes": 60}
    broken, working = add(session, "a-broken", **url), add(session, "b-working", **url)
    sources = {
        broken.id: InMemorySource(tmp_path / "a", [FetchError("HTTP 500")]),
        working.id: InMemorySource(tmp_path / "b", [b"scan\n"], name="drop.txt"),
    }

    def reader(feed: Feed, path: Path) -> FeedRun:
        run = FeedRun(feed_id=feed.id, file=str(path), status=RunStatus.SUCCEEDED)
        session.add(run)
        session.commit()
        return run

    runner = FeedRunner(session, hub, sources=lambda feed, _s: sources[feed.id], reader=reader)
    results = list(run_due(runner, datetime.now(UTC)))
    assert [(result.feed, result.error, result.failed) for result in results] == [
        ("a-broken", "HTTP 500", True),
        ("b-working", "", False),
    ]
    assert results[1].report is not None and len(results[1].report.runs) == 1
    # Both were looked at just now, so neither is due again for an hour.
    assert due_feeds(session, datetime.now(UTC)) == []
    assert due_feeds(session, datetime.now(UTC) + timedelta(minutes=61)) == [broken, working]


def test_the_watcher_runs_due_feeds_then_waits_for_the_next(
    session: Session, hub: Settings, tmp_path: Path
) -> None:
    url = {"source_kind": "url", "source": "https://feeds.example/x.csv"}
    feed = add(session, "hourly", interval_minutes=60, **url)
    source = InMemorySource(tmp_path / "downloads", [None])
    reports: list[DueResult] = []
    clock = [datetime.now(UTC)]

    class Opened:
        def __enter__(self) -> Session:
            return session

        def __exit__(self, *_exc: object) -> None:
            return None

    watcher = Watcher(
        open_session=Opened,
        make_runner=lambda s: FeedRunner(s, hub, sources=lambda _f, _s: source),
        report=reports.append,
        poll_seconds=300,
        clock=lambda: clock[0],
    )
    assert watcher.cycle() == 300, "the next due time is an hour away: wait the poll time"
    assert [result.feed for result in reports] == [feed.name]
    assert watcher.cycle() == 300
    assert len(reports) == 1, "not due again yet"

    clock[0] += timedelta(minutes=59, seconds=30)
    assert watcher.cycle() == pytest.approx(30, abs=2)
    clock[0] += timedelta(seconds=31)
    watcher.cycle()
    assert len(reports) == 2

    clock[0] = datetime.now(UTC)
    thread = threading.Thread(target=watcher.run)
    thread.start()
    thread.join(timeout=0.5)
    assert thread.is_alive(), "waiting for the next due time (the poll time, 300 s)"
    watcher.stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive(), "stop wakes the wait at once"
    assert len(reports) == 2
