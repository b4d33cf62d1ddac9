"""What the hub's operators do to the pipeline from the web: hand in a feed file, page
through a feed's runs, review the quarantine and send picked rows through again.

Uploads are ingested synchronously, in the request: the run is what the caller gets back,
with its counts, so a script (or the upload form) knows at once what became of its file.
The file is kept under `data_dir/uploads/<feed>/`, named by the hub, not by the sender: a
sent name is only a hint (kept, made safe, because the Shadowserver parser tells reports
apart by file name), so `../` or a clash with an earlier upload cannot happen.

Re-processing takes quarantined rows back through every stage after parsing
(`ingest.process_batch`); only once their results are committed are they removed from the
quarantine, so a crash in between leaves them there rather than losing them (and the
de-duplication of a second attempt keeps them from being stored twice).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Annotated

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.core import audit
from entente.core.audit import Actor
from entente.core.config import Settings
from entente.core.errors import BadValue, PayloadTooLarge
from entente.core.pagination import Order, Page, PageRequest, paginate
from entente.pipeline.batches import FIELD, FILE, LINE, RAW, REASON
from entente.pipeline.filters import QuarantineFilter
from entente.pipeline.ingest import (
    IngestCounts,
    Pipeline,
    feed_deduplicator,
    ingest_file,
    process_batch,
)
from entente.pipeline.models import Feed, FeedRun
from entente.pipeline.quarantine import ID, QUARANTINE_ID, QUARANTINED_AT, QuarantineStore
from entente.pipeline.schemas import RunPublic
from entente.pipeline.store import FEED_NAME

UPLOADS = "uploads"
MAX_PICKED = 1000
"""Rows re-processed per request: a page of the quarantine list at its largest."""
_CHUNK = 1024 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,10}$")
_MAX_STEM = 120
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

QuarantineId = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]


# ---- uploads ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Upload:
    """A file as sent: the name the sender gave it (a hint only) and its bytes."""

    filename: str
    stream: IO[bytes]


def upload_path(settings: Settings, feed: Feed, filename: str) -> Path:
    """A new path under `data_dir/uploads/<feed>/`: the sent name made safe, plus a random
    part after a `-`, so `2026-11-20-scan_http-nl.csv` keeps naming its report."""
    sent = Path(filename.replace("\\", "/")).name
    suffix = Path(sent).suffix if _SUFFIX.match(Path(sent).suffix) else ""
    stem = _UNSAFE.sub("_", sent.removesuffix(suffix))[:_MAX_STEM].strip("._-") or "upload"
    # A feed's name cannot hold `/` or start with `.` (FeedCreate's pattern): a safe directory.
    return settings.data_dir / UPLOADS / feed.name / f"{stem}-{uuid.uuid4().hex[:12]}{suffix}"


def save_upload(settings: Settings, feed: Feed, upload: Upload) -> Path:
    """Copy the upload to its new path, refusing it past `max_body_bytes` or when empty."""
    path = upload_path(settings, feed, upload.filename)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        with path.open("xb") as target:
            while chunk := upload.stream.read(_CHUNK):
                written += len(chunk)
                if written > settings.max_body_bytes:
                    raise PayloadTooLarge(
                        f"the file exceeds the limit of {settings.max_body_bytes} bytes",
                        field="file",
                    )
                target.write(chunk)
        if written == 0:
            raise BadValue("the file is empty", field="file", value=upload.filename)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def ingest_upload(
    session: Session, settings: Settings, actor: Actor, feed: Feed, upload: Upload
) -> FeedRun:
    """Save the upload and run it through the pipeline as one run of `feed`.

    A file the feed's parser cannot read fails the run, which is recorded, and the
    parser's error (naming file and line) is raised.
    """
    path = save_upload(settings, feed, upload)
    audit.record(session, actor, "feed.upload", ("feed", feed.id), file=path.name)
    return ingest_file(session, Pipeline.load(session, settings), feed, path)


def runs_page(session: Session, feed: Feed, page: PageRequest) -> Page[RunPublic]:
    """The feed's runs, newest first."""
    query = select(FeedRun).where(FeedRun.feed_id == feed.id)
    found = paginate(session, query, (FeedRun.id,), page, Order.DESC)
    runs = [RunPublic.model_validate(run) for run in found.items]
    return Page(runs, found.next_cursor, found.count)


# ---- the quarantine --------------------------------------------------------------------


class QuarantinedRow(BaseModel):
    """A row a stage put aside: where it came from, the field and the reason, and its raw
    text (the line as read, or the mapped values as JSON)."""

    id: str
    feed: str | None
    quarantined_at: datetime
    file: str | None
    line: int | None
    field: str | None
    reason: str | None
    raw: str | None


class QuarantinePage(BaseModel):
    data: list[QuarantinedRow]
    total: int = Field(description="Rows matching the filters, over all pages")
    limit: int
    offset: int


class ReasonCount(BaseModel):
    field: str | None
    reason: str | None
    count: int


class ReprocessRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[QuarantineId] = Field(min_length=1, max_length=MAX_PICKED)


class ReprocessReport(BaseModel):
    """What became of the picked rows: stored, dropped as duplicates of stored ones, or
    quarantined again (under new ids, with today's reason). `skipped` rows stay where they
    were: unknown ids, or lines the parser could not split (their file must be sent again)."""

    picked: int
    reprocessed: int
    stored: int
    duplicates: int
    quarantined: int
    skipped: int
    alerts: int


_ROW_COLUMNS = {
    ID: "id",
    FEED_NAME: "feed",
    QUARANTINED_AT: "quarantined_at",
    FILE: "file",
    LINE: "line",
    FIELD: "field",
    REASON: "reason",
    RAW: "raw",
}


def list_quarantine(
    store: QuarantineStore, filters: QuarantineFilter, limit: int, offset: int
) -> QuarantinePage:
    """One page of quarantined rows, newest first, and how many match in all."""
    frame, total = store.list(filters.feed, filters.field, filters.q, limit, offset)
    rows = frame.select([pl.col(name).alias(alias) for name, alias in _ROW_COLUMNS.items()])
    # One model per row of a page (at most 1000): the API's output, not pipeline work.
    data = [QuarantinedRow.model_validate(row) for row in rows.to_dicts()]
    return QuarantinePage(data=data, total=total, limit=limit, offset=offset)


def quarantine_reasons(store: QuarantineStore, feed: str | None = None) -> list[ReasonCount]:
    """How many rows are quarantined per field and reason, most first."""
    counts = store.counts_by_reason(feed).rename({FIELD: "field", REASON: "reason"})
    return [ReasonCount.model_validate(row) for row in counts.to_dicts()]


def reprocess(
    session: Session, settings: Settings, actor: Actor, ids: Sequence[str]
) -> ReprocessReport:
    """Send the picked quarantined rows through the pipeline again, feed by feed."""
    pipeline = Pipeline.load(session, settings)
    total = IngestCounts()
    # A loop over the hub's feeds (a handful), each taking its picked rows as one batch.
    for feed in session.scalars(select(Feed).order_by(Feed.name)):
        rows = pipeline.quarantine.rows_for_reprocessing(feed.name, ids)
        if rows.height == 0:
            continue
        counts = process_batch(session, pipeline, feed_deduplicator(pipeline, feed), feed, rows)
        audit.record(session, actor, "quarantine.reprocess", ("feed", feed.id), rows=rows.height)
        session.commit()
        pipeline.quarantine.remove(rows[QUARANTINE_ID].to_list())
        total.add(counts)
    picked = len(set(ids))
    return ReprocessReport(
        picked=picked,
        reprocessed=total.rows_in,
        stored=total.stored,
        duplicates=total.duplicates,
        quarantined=total.quarantined,
        skipped=picked - total.rows_in,
        alerts=total.alerts,
    )
