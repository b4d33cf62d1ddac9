"""Runs of a feed from its source: look at the source, read what is new, remember both.

    look (FeedSource.fetch) -> record the look (FeedSourceState)
        -> ingest each new file (a FeedRun each) -> record the file as read (FeedFile)

Every look is recorded, whatever it found, so the feed page shows when the source was last
looked at and why it failed, and `feed run --due` counts a 304 as a look. A file is
recorded as read after its run, failed runs included: a file its parser cannot read would
fail every run otherwise; fixing it (a new size or time) or `--all` reads it again.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from entente.core.clock import utcnow
from entente.core.config import Settings
from entente.core.errors import AppError, BadValue, FeedError
from entente.pipeline.choices import FeedSourceKind, FetchOutcome
from entente.pipeline.http_sources import MispFeedSource, UrlSource
from entente.pipeline.ingest import BatchCallback, Pipeline, ingest_file
from entente.pipeline.models import Feed, FeedFile, FeedRun, FeedSourceState
from entente.pipeline.sources import (
    DirectorySource,
    FeedSource,
    Fetched,
    FileSource,
    FileStamp,
    Scope,
    SourceFile,
    SourceOptions,
    SourceState,
)
from entente.pipeline.taxii_source import TaxiiOptions, TaxiiSource

DOWNLOADS = "feeds"
MISP_FEED = "misp_feed"
"""The parser of MISP feeds: a URL feed with it fetches a manifest and its events."""

SourceFactory = Callable[[Feed, Settings], FeedSource]
FileReader = Callable[[Feed, Path], FeedRun]
"""Reads one file as a run of the feed, instead of `ingest_file` (e.g. queueing it for workers)."""
Progress = Callable[[Path], AbstractContextManager[BatchCallback | None]]
"""Gives the callback `ingest_file` calls after each batch of the file (a progress line)."""


def no_progress(_path: Path) -> AbstractContextManager[BatchCallback | None]:
    return nullcontext()


def downloads_dir(settings: Settings, feed: Feed) -> Path:
    """Where a remote feed's downloads go: `data_dir/feeds/<feed>/`."""
    # A feed's name cannot hold `/` or start with `.` (FeedCreate's pattern): a safe directory.
    return settings.data_dir / DOWNLOADS / feed.name


def source_for(feed: Feed, settings: Settings) -> FeedSource:
    """The source a feed's configuration names."""
    options = SourceOptions.of(feed.options)
    if feed.source_kind is FeedSourceKind.FILE:
        return FileSource(Path(feed.source))
    if feed.source_kind is FeedSourceKind.DIRECTORY:
        return DirectorySource(Path(feed.source), options.pattern, options.settle_seconds)
    if feed.source_kind is FeedSourceKind.URL:
        kind = MispFeedSource if feed.parser == MISP_FEED else UrlSource
        return kind(feed.source, downloads_dir(settings, feed), options)
    if feed.source_kind is FeedSourceKind.TAXII:
        taxii = TaxiiOptions.of(feed.options)
        return TaxiiSource(feed.source, downloads_dir(settings, feed), options, taxii)
    raise BadValue(
        f"feed {feed.name!r} takes uploads: it has no source to fetch or run "
        "(send files with the API or the feed page, or `entente ingest FILE --feed`)",
        field="feed",
        value=feed.name,
    )


@dataclass(slots=True)
class Look:
    """What one look at a feed's source found."""

    feed: str
    outcome: FetchOutcome
    files: list[Path]  # waiting to be read
    download: Path | None = None
    bytes: int = 0
    note: str = ""


@dataclass(slots=True)
class RunReport:
    """A run of a feed from its source: the look, then a run per file read."""

    look: Look
    runs: list[FeedRun] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


@dataclass(slots=True)
class FeedRunner:
    """Looks at feeds' sources and runs what they find, in one session.

    The pipeline (routing and indicator indexes) is loaded on the first file to read, once
    for every feed this runner runs; a look that finds nothing costs no load.
    """

    session: Session
    settings: Settings
    sources: SourceFactory = source_for
    reader: FileReader | None = None
    progress: Progress = no_progress
    _pipeline: Pipeline | None = None

    def fetch(self, feed: Feed, scope: Scope = Scope.NEW) -> Look:
        """Look at the source (downloading what is new) without reading anything."""
        return self._look(feed, scope)[0]

    def run(self, feed: Feed, scope: Scope = Scope.NEW) -> RunReport:
        """Look at the source, then read every file not read before (all with `Scope.ALL`)."""
        look, fetched = self._look(feed, scope)
        report = RunReport(look)
        for file in fetched.files:
            run: FeedRun | None
            try:
                run = self.read(feed, file.path)
            except FeedError as exc:
                # The run is recorded as failed, with the parser's error naming file and line.
                report.failures.append(exc.message)
                run = _latest_run(self.session, feed, file.path)
            if run is not None:
                report.runs.append(run)
            _mark_read(self.session, feed, file, run)
        return report

    def read(self, feed: Feed, path: Path) -> FeedRun:
        """One file as a run of the feed."""
        if self.reader is not None:
            return self.reader(feed, path)
        if self._pipeline is None:
            self._pipeline = Pipeline.load(self.session, self.settings)
        with self.progress(path) as on_batch:
            return ingest_file(self.session, self._pipeline, feed, path, on_batch)

    def _look(self, feed: Feed, scope: Scope) -> tuple[Look, Fetched]:
        row = self.session.get(FeedSourceState, feed.id) or FeedSourceState(
            feed_id=feed.id, manifest={}
        )
        # A row not saved yet has no column defaults applied: hence the `or`s.
        state = SourceState(
            row.etag or "",
            row.last_modified or "",
            dict(row.manifest or {}),
            _read(self.session, feed),
        )
        now = utcnow()
        try:
            fetched = self.sources(feed, self.settings).fetch(state, scope)
        except AppError as exc:
            row.checked_at, row.outcome, row.error = now, FetchOutcome.FAILED, exc.message
            row.failures = (row.failures or 0) + 1
            self.session.add(row)
            self.session.commit()
            raise
        _remember(row, fetched, now)
        self.session.add(row)
        if fetched.gone:
            self.session.execute(
                delete(FeedFile).where(FeedFile.feed_id == feed.id, FeedFile.path.in_(fetched.gone))
            )
        self.session.commit()
        files = [file.path for file in fetched.files]
        look = Look(
            feed.name, fetched.outcome, files, fetched.download, fetched.bytes, fetched.note
        )
        return look, fetched


def _read(session: Session, feed: Feed) -> dict[str, FileStamp]:
    rows = session.execute(
        select(FeedFile.path, FeedFile.size, FeedFile.mtime_ns).where(FeedFile.feed_id == feed.id)
    )
    return {path: FileStamp(size, mtime_ns) for path, size, mtime_ns in rows}


def _remember(row: FeedSourceState, fetched: Fetched, now: datetime) -> None:
    row.checked_at = now
    row.outcome, row.error, row.failures = fetched.outcome, "", 0
    if fetched.etag is not None:
        row.etag = fetched.etag[:500]
    if fetched.last_modified is not None:
        row.last_modified = fetched.last_modified[:100]
    if fetched.manifest is not None:
        row.manifest = dict(fetched.manifest)  # a new object, so the JSON column is saved
    if fetched.outcome is FetchOutcome.NEW:
        row.changed_at = now
    if fetched.download is not None:
        row.file, row.bytes = str(fetched.download), fetched.bytes


def _latest_run(session: Session, feed: Feed, path: Path) -> FeedRun | None:
    return session.scalar(
        select(FeedRun)
        .where(FeedRun.feed_id == feed.id, FeedRun.file == str(path))
        .order_by(FeedRun.id.desc())
        .limit(1)
    )


def _mark_read(session: Session, feed: Feed, file: SourceFile, run: FeedRun | None) -> None:
    """Remember the file as read with the stamp it had when the look found it."""
    path = str(file.path)
    row = session.scalar(select(FeedFile).where(FeedFile.feed_id == feed.id, FeedFile.path == path))
    if row is None:
        row = FeedFile(feed_id=feed.id, path=path)
        session.add(row)
    row.size, row.mtime_ns = file.stamp.size, file.stamp.mtime_ns
    row.run_id = run.id if run is not None else None
    row.read_at = utcnow()
    session.commit()
