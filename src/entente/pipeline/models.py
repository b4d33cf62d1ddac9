"""Feeds (configured sources) and their runs.

A feed is data, not code (STYLE habit 3): a parser name, where the files come from and the
parser's options. Each ingest of a file is a `FeedRun` with its counts, so the UI can show
status, last run, rows in/out/quarantined and throughput without reading the event store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from entente.core.clock import utcnow
from entente.core.db import Base, UTCDateTime, str_enum
from entente.pipeline.choices import FeedSourceKind, FetchOutcome, RunStatus


class Feed(Base):
    __tablename__ = "feed"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    parser: Mapped[str] = mapped_column(String(60))
    source_kind: Mapped[FeedSourceKind] = mapped_column(str_enum(FeedSourceKind, 16))
    # A file or directory path, an http(s) URL, or empty for uploads.
    source: Mapped[str] = mapped_column(Text, default="")
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # How often `entente feed run --due` fetches it; None: only when asked.
    interval_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    provider: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    runs: Mapped[list[FeedRun]] = relationship(
        back_populates="feed", order_by="FeedRun.id.desc()", passive_deletes=True
    )


class FeedRun(Base):
    __tablename__ = "feed_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feed.id", ondelete="CASCADE"), index=True)
    file: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[RunStatus] = mapped_column(str_enum(RunStatus, 16), default=RunStatus.RUNNING)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    rows_in: Mapped[int] = mapped_column(Integer, default=0)
    rows_stored: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    unrouted: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str] = mapped_column(Text, default="")

    feed: Mapped[Feed] = relationship(back_populates="runs")

    @property
    def rows_per_second(self) -> float:
        return self.rows_in / self.seconds if self.seconds else 0.0


class FeedSourceState(Base):
    """What the last look at a feed's source found, and what to send the server next time.

    One row per feed, written by every run and fetch (scheduled or not), so `--due` knows
    when the source was last looked at even when nothing new came (a 304 makes no run).
    """

    __tablename__ = "feed_source_state"

    feed_id: Mapped[int] = mapped_column(
        ForeignKey("feed.id", ondelete="CASCADE"), primary_key=True
    )
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # When the source last gave something new (a download, a new file).
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome: Mapped[FetchOutcome | None] = mapped_column(str_enum(FetchOutcome, 16), nullable=True)
    # The validators of the last 200 answer, sent back as If-None-Match / If-Modified-Since.
    etag: Mapped[str] = mapped_column(String(500), default="")
    last_modified: Mapped[str] = mapped_column(String(100), default="")
    # The last download (a file, or a directory of MISP events) and its size.
    file: Mapped[str] = mapped_column(Text, default="")
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    # Failed looks in a row: 0 after any success.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    # A MISP feed's manifest as last fetched: event uuid -> its timestamp.
    manifest: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)


class FeedFile(Base):
    """A file a feed has read: a directory feed reads a file again only when it changed.

    Why path + size + modification time rather than a hash of the content: telling an
    unchanged file from a new one then costs one `stat`, not reading every file of the
    directory on every run, which is the point of watching. A file rewritten with the same
    size within the same nanosecond is read as unchanged; `feed run --all` reads it anyway,
    and de-duplication keeps a file read twice from being stored twice.
    """

    __tablename__ = "feed_file"
    __table_args__ = (UniqueConstraint("feed_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feed.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    mtime_ns: Mapped[int] = mapped_column(BigInteger, default=0)
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("feed_run.id", ondelete="SET NULL"), nullable=True
    )
    read_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StreamBatch(Base):
    """A batch of a run that a stream worker has stored, committed with its alert updates.

    Why keyed by (run, seq) rather than the Redis entry id: the pair names the batch's
    content whatever the stream (a Redis flushed and refilled reuses entry ids), and its
    store parts are named after it, so a batch re-delivered after a crash replaces its
    parts and, finding this row, never adds to its alerts twice (see pipeline/streams.py).
    """

    __tablename__ = "pipeline_stream_batch"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("feed_run.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The producer flags the file's last batch, so the run ends when all of them are done.
    last: Mapped[bool] = mapped_column(Boolean, default=False)
    entry_id: Mapped[str] = mapped_column(String(40), default="")
    worker: Mapped[str] = mapped_column(String(200), default="")
    # Why the batch could not be processed (it went to the dead-letter stream), else "".
    error: Mapped[str] = mapped_column(Text, default="")
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
