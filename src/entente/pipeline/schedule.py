"""When feeds run on their own: `entente feed run --due` and the `entente feed watch` loop.

A feed is due when it is enabled, has an interval, has a source to look at (not uploads),
and its interval has passed since it was last looked at: the later of its last run's start
(`FeedRun`) and its source's last look (`FeedSourceState.checked_at`, written by every run
and fetch, so a 304 that made no run still counts). A failed look counts too: a broken
source is tried again after its interval, not in a tight loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from entente.core.clock import utcnow
from entente.core.errors import AppError
from entente.pipeline.models import Feed, FeedRun, FeedSourceState
from entente.pipeline.runner import FeedRunner, RunReport

MIN_WAIT_SECONDS = 1.0
DEFAULT_POLL_SECONDS = 60.0


def next_due(feed: Feed, last_run: datetime | None, checked_at: datetime | None) -> datetime | None:
    """When the feed is next due; None when it does not run on a schedule."""
    if not feed.enabled or feed.interval_minutes is None or not feed.source_kind.schedulable:
        return None
    looked = max((when for when in (last_run, checked_at) if when is not None), default=None)
    if looked is None:
        return feed.created_at  # never looked at: due at once
    return looked + timedelta(minutes=feed.interval_minutes)


@dataclass(frozen=True, slots=True)
class Planned:
    """A scheduled feed and when it is next due."""

    feed: Feed
    due_at: datetime


def planned(session: Session) -> list[Planned]:
    """Every scheduled feed with its next due time, soonest first."""
    last_runs = (
        select(FeedRun.feed_id, func.max(FeedRun.started_at).label("started_at"))
        .group_by(FeedRun.feed_id)
        .subquery()
    )
    rows = session.execute(
        select(Feed, last_runs.c.started_at, FeedSourceState.checked_at)
        .outerjoin(last_runs, last_runs.c.feed_id == Feed.id)
        .outerjoin(FeedSourceState, FeedSourceState.feed_id == Feed.id)
        .where(Feed.enabled.is_(True), Feed.interval_minutes.is_not(None))
        .order_by(Feed.name)
    )
    found = []
    for feed, last_run, checked_at in rows:
        due_at = next_due(feed, last_run, checked_at)
        if due_at is not None:
            found.append(Planned(feed, due_at))
    return sorted(found, key=lambda plan: plan.due_at)


def due_feeds(session: Session, now: datetime) -> list[Feed]:
    """The feeds due at `now`, the longest overdue first."""
    return [plan.feed for plan in planned(session) if plan.due_at <= now]


@dataclass(frozen=True, slots=True)
class DueResult:
    """What became of one due feed: its run, or why its source could not be looked at."""

    feed: str
    report: RunReport | None
    error: str = ""

    @property
    def failed(self) -> bool:
        """Whether the look failed or a file could not be read."""
        return bool(self.error) or bool(self.report and self.report.failures)


def run_due(runner: FeedRunner, now: datetime) -> Iterator[DueResult]:
    """Run every feed due at `now`, one after the other; one feed's failure stops no other.

    A generator, so a caller can stop between feeds (the watcher, on a signal).
    """
    for feed in due_feeds(runner.session, now):
        try:
            yield DueResult(feed.name, runner.run(feed))
        except AppError as exc:
            runner.session.rollback()
            yield DueResult(feed.name, None, exc.message)


SessionOpener = Callable[[], AbstractContextManager[Session]]


@dataclass(slots=True)
class Watcher:
    """Runs due feeds, waits until the next one is due, and again, until `stop` is set.

    Each cycle opens its own session and runner, so indicators and constituencies changed
    meanwhile are used. The wait is at most `poll_seconds`, so a feed added or changed
    while waiting is picked up by then.
    """

    open_session: SessionOpener
    make_runner: Callable[[Session], FeedRunner]
    report: Callable[[DueResult], None]
    stop: threading.Event = field(default_factory=threading.Event)
    poll_seconds: float = DEFAULT_POLL_SECONDS
    clock: Callable[[], datetime] = utcnow

    def run(self) -> None:
        """Cycle until stopped; an error of a cycle (database down) is reported, not fatal."""
        while not self.stop.is_set():
            try:
                wait = self.cycle()
            except AppError as exc:
                self.report(DueResult("", None, exc.message))
                wait = self.poll_seconds
            self.stop.wait(wait)

    def cycle(self) -> float:
        """Run the feeds due now; returns the seconds to wait before the next cycle."""
        with self.open_session() as session:
            for result in run_due(self.make_runner(session), self.clock()):
                self.report(result)
                if self.stop.is_set():
                    break
            upcoming = planned(session)
        if not upcoming:
            return self.poll_seconds
        wait = (upcoming[0].due_at - self.clock()).total_seconds()
        return min(max(wait, MIN_WAIT_SECONDS), self.poll_seconds)
