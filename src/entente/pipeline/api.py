"""REST routes of the pipeline: feeds, uploads and runs, the quarantine (the hub's
operators), and alerts and findings (every member, each its own).

Thin: each handler calls one service (`feeds`, `operations`, `findings`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Path, Query, UploadFile, status

from entente.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from entente.core.schemas import PlainText
from entente.members.schemas import ListOf, list_of
from entente.pipeline import feeds, findings, operations
from entente.pipeline.filters import AlertFilter, FindingsFilter, QuarantineFilter
from entente.pipeline.findings import AlertPublic, FindingsSummary
from entente.pipeline.models import Feed
from entente.pipeline.operations import (
    QuarantinePage,
    ReasonCount,
    ReprocessReport,
    ReprocessRequest,
    Upload,
)
from entente.pipeline.quarantine import QuarantineStore
from entente.pipeline.runner import FeedRunner
from entente.pipeline.schemas import FeedCreate, FeedPublic, FeedRunReport, LookPublic, RunPublic
from entente.pipeline.store import EventStore
from entente.web.deps import AdminDep, PageDep, PrincipalDep, SessionDep, SettingsDep
from entente.web.errors import ERROR_RESPONSES, ErrorResponse

router = APIRouter(responses=ERROR_RESPONSES, tags=["pipeline"])

MAX_OFFSET = 1_000_000_000

FeedName = Annotated[PlainText, Path(max_length=100, description="The feed's name")]


def feed_dep(name: FeedName, session: SessionDep, _admin: AdminDep) -> Feed:
    """The named feed, for the hub's operators (admin role) only."""
    return feeds.get_feed(session, name)


FeedDep = Annotated[Feed, Depends(feed_dep)]
FETCH_FAILED: dict[int | str, dict[str, object]] = {
    502: {"model": ErrorResponse, "description": "The feed's source could not be fetched"}
}
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip")]


# ---- feeds and runs (operators) --------------------------------------------------------


@router.get("/feeds", response_model=ListOf[FeedPublic])
def list_feeds(session: SessionDep, _admin: AdminDep) -> ListOf[FeedPublic]:
    """Every feed by name, each with its latest run (`last_run`: status, counts, rows/s)."""
    found = feeds.list_feeds(session)
    return ListOf[FeedPublic](data=found, count=len(found), next_cursor=None)


@router.post("/feeds", response_model=FeedPublic, status_code=status.HTTP_201_CREATED)
def create_feed(data: FeedCreate, session: SessionDep, admin: AdminDep) -> FeedPublic:
    """Add a feed: a parser (`entente feed parsers`), and where its files come from."""
    return feeds.feed_public(feeds.create_feed(session, admin.actor(), data), None)


@router.get("/feeds/{name}", response_model=FeedPublic)
def get_feed(feed: FeedDep, session: SessionDep) -> FeedPublic:
    """The feed with its latest run, its source's state (last look, ETag, error) and when
    it is next due."""
    return feeds.feed_detail(session, feed)


@router.post("/feeds/{name}/fetch", response_model=LookPublic, responses=FETCH_FAILED)
def fetch_feed(
    feed: FeedDep, session: SessionDep, settings: SettingsDep, admin: AdminDep
) -> LookPublic:
    """Look at the feed's source now and download what is new, without ingesting it (the
    next run reads it). A source that cannot be fetched is a 502 naming it; uploads-only
    feeds are a 422."""
    return feeds.fetch_now(FeedRunner(session, settings), admin.actor(), feed)


@router.post("/feeds/{name}/run", response_model=FeedRunReport, responses=FETCH_FAILED)
def run_feed(
    feed: FeedDep, session: SessionDep, settings: SettingsDep, admin: AdminDep
) -> FeedRunReport:
    """Look at the feed's source and ingest what is new now, in the request: the report
    lists a run per file read (failed runs with the parser's error)."""
    return feeds.run_now(FeedRunner(session, settings), admin.actor(), feed)


@router.get("/feeds/{name}/runs", response_model=ListOf[RunPublic])
def feed_runs(feed: FeedDep, session: SessionDep, page: PageDep) -> ListOf[RunPublic]:
    """The feed's runs, newest first: counts per stage, seconds, rows per second, errors."""
    return list_of(operations.runs_page(session, feed, page))


@router.post("/feeds/{name}/upload", response_model=RunPublic, status_code=status.HTTP_201_CREATED)
def upload_to_feed(
    feed: FeedDep,
    file: Annotated[UploadFile, File(description="The feed file, as its parser reads it")],
    session: SessionDep,
    settings: SettingsDep,
    admin: AdminDep,
) -> RunPublic:
    """Ingest one file now, as a run of the feed; returns the finished run with its counts.
    A file the parser cannot read is a 422 naming the file and line (the run is recorded
    as failed); one over the body limit is a 413."""
    upload = Upload(file.filename or "upload", file.file)
    run = operations.ingest_upload(session, settings, admin.actor(), feed, upload)
    return RunPublic.model_validate(run)


# ---- the quarantine (operators) --------------------------------------------------------


@router.get("/quarantine", response_model=QuarantinePage)
def list_quarantine(
    filters: Annotated[QuarantineFilter, Depends()],
    settings: SettingsDep,
    _admin: AdminDep,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> QuarantinePage:
    """Rows the pipeline put aside, newest first, with the field and reason of each."""
    store = QuarantineStore(settings.store_dir)
    return operations.list_quarantine(store, filters, limit, offset)


@router.get("/quarantine/reasons", response_model=list[ReasonCount])
def quarantine_reasons(
    settings: SettingsDep, _admin: AdminDep, feed: PlainText | None = None
) -> list[ReasonCount]:
    """How many rows are quarantined per field and reason, most first."""
    return operations.quarantine_reasons(QuarantineStore(settings.store_dir), feed)


@router.post("/quarantine/reprocess", response_model=ReprocessReport)
def reprocess_quarantine(
    data: ReprocessRequest, session: SessionDep, settings: SettingsDep, admin: AdminDep
) -> ReprocessReport:
    """Send picked rows (by `id`) through the pipeline again, e.g. after a fix to a mapping
    or to the constituencies: they are stored, dropped as duplicates or quarantined anew."""
    return operations.reprocess(session, settings, admin.actor(), data.ids)


# ---- alerts and findings (every member, each its own) ----------------------------------


@router.get("/alerts", response_model=ListOf[AlertPublic])
def list_alerts(
    session: SessionDep,
    principal: PrincipalDep,
    filters: Annotated[AlertFilter, Depends()],
    page: PageDep,
) -> ListOf[AlertPublic]:
    """Your organisation's alerts, latest findings first (platform admins: every member's).
    Findings are routed to the member whose networks they concern, and to no one else."""
    return list_of(findings.list_alerts(session, principal, filters, page))


@router.get("/findings/summary", response_model=FindingsSummary)
def findings_summary(
    principal: PrincipalDep, settings: SettingsDep, filters: Annotated[FindingsFilter, Depends()]
) -> FindingsSummary:
    """Your organisation's stored findings per day and per source country (default: the
    last 30 days; platform admins: every member's)."""
    return findings.findings_summary(EventStore(settings.store_dir), principal, filters)
