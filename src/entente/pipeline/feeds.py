"""Feeds: configured sources an operator adds, lists and runs.

Only the hub's operators (admin role, or the CLI on the server) manage feeds: a feed's
findings go to every member whose constituency they touch, so a feed is the hub's, not
one member's.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from entente.core import audit
from entente.core.audit import Actor
from entente.core.errors import BadValue, Conflict, NotFound
from entente.pipeline.choices import FeedSourceKind
from entente.pipeline.models import Feed, FeedRun, FeedSourceState
from entente.pipeline.runner import FeedRunner, Look, RunReport
from entente.pipeline.schedule import next_due
from entente.pipeline.schemas import (
    FeedCreate,
    FeedPublic,
    FeedRunReport,
    LookPublic,
    RunPublic,
    SourceStatePublic,
)
from entente.pipeline.sources import SourceOptions
from entente.pipeline.taxii_source import TaxiiOptions

# A name, an IPv4 or an IPv6 address, as httpx gives it (IDNs in their xn-- form).
_HOST = re.compile(r"^[A-Za-z0-9._:-]+$")
STIX = "stix"
"""The parser of TAXII feeds: each look's pages are STIX bundles."""


def create_feed(session: Session, actor: Actor, data: FeedCreate) -> Feed:
    """Add a feed; a file or directory source must exist on this machine."""
    if session.scalar(select(Feed.id).where(Feed.name == data.name)) is not None:
        raise Conflict(f"a feed named {data.name!r} exists", field="name", value=data.name)
    _check_source(data.source_kind, data.source)
    SourceOptions.of(data.options)
    _check_taxii(data)
    feed = Feed(**data.model_dump())
    session.add(feed)
    session.flush()
    audit.record(session, actor, "feed.create", ("feed", feed.id), name=feed.name)
    session.commit()
    return feed


def source_kind_of(source: str) -> FeedSourceKind:
    """The kind a source names when none is given: a URL, a directory, a file, or uploads."""
    if not source:
        return FeedSourceKind.UPLOAD
    if source.startswith(("http://", "https://")):
        return FeedSourceKind.URL
    return FeedSourceKind.DIRECTORY if Path(source).is_dir() else FeedSourceKind.FILE


def _check_source(kind: FeedSourceKind, source: str) -> None:
    if kind is FeedSourceKind.FILE and not Path(source).is_file():
        raise BadValue(f"no file at {source!r}", field="source", value=source)
    if kind is FeedSourceKind.DIRECTORY and not Path(source).is_dir():
        raise BadValue(f"no directory at {source!r}", field="source", value=source)
    if kind is FeedSourceKind.URL:
        _check_url(source)
    if kind is FeedSourceKind.TAXII and _check_url(source).userinfo:
        # The source is shown wherever the feed is: credentials go in options.taxii, masked.
        raise BadValue(
            "a TAXII API root URL holds no user or password: give them as "
            "options.taxii.user and options.taxii.password (or options.taxii.token)",
            field="source",
        )


def _check_url(source: str) -> httpx.URL:
    try:
        url = httpx.URL(source)
    except httpx.InvalidURL as exc:
        raise BadValue(f"not a URL: {exc}", field="source", value=source) from exc
    if url.scheme not in ("http", "https") or not _HOST.match(url.raw_host.decode("ascii")):
        raise BadValue(
            "a URL source is http:// or https:// with a host", field="source", value=source
        )
    return url


def _check_taxii(data: FeedCreate) -> None:
    """A taxii feed names its collection (options.taxii) and is read by the stix parser;
    options.taxii on another kind of feed is a mistake worth saying."""
    if data.source_kind is not FeedSourceKind.TAXII:
        if "taxii" in data.options:
            raise BadValue(
                "options.taxii is only for a taxii feed (--kind taxii, source_kind taxii)",
                field="options.taxii",
            )
        return
    TaxiiOptions.of(data.options)
    if data.parser != STIX:
        raise BadValue(
            f"a taxii feed's pages are STIX bundles, read by the {STIX} parser, "
            f"not {data.parser!r}",
            field="parser",
            value=data.parser,
        )


def get_feed(session: Session, name_or_id: str | int) -> Feed:
    """A feed by id or by name."""
    column = Feed.id if isinstance(name_or_id, int) else Feed.name
    feed = session.scalar(select(Feed).where(column == name_or_id))
    if feed is None:
        raise NotFound(f"no feed {name_or_id!r}", field="feed", value=name_or_id)
    return feed


def feed_for_ingest(session: Session, actor: Actor, name: str, parser: str) -> Feed:
    """The feed a one-off `entente ingest` runs under: the named one, created on first use."""
    feed = session.scalar(select(Feed).where(Feed.name == name))
    if feed is None:
        return create_feed(session, actor, FeedCreate(name=name, parser=parser))
    if feed.parser != parser:
        raise BadValue(
            f"feed {name!r} is parsed by {feed.parser!r}, not {parser!r}",
            field="parser",
            value=parser,
        )
    return feed


def list_feeds(session: Session) -> list[FeedPublic]:
    """Every feed by name, each with its latest run, its source's state and next due time."""
    feeds = session.scalars(select(Feed).order_by(Feed.name)).all()
    ids = [feed.id for feed in feeds]
    latest = _latest_runs(session, ids)
    states = {
        state.feed_id: state
        for state in session.scalars(
            select(FeedSourceState).where(FeedSourceState.feed_id.in_(ids))
        )
    }
    return [feed_public(feed, latest.get(feed.id), states.get(feed.id)) for feed in feeds]


def feed_detail(session: Session, feed: Feed) -> FeedPublic:
    """One feed as its page and the API show it: latest run, source state, next due time."""
    return feed_public(
        feed, _latest_runs(session, [feed.id]).get(feed.id), session.get(FeedSourceState, feed.id)
    )


def feed_public(
    feed: Feed, last_run: FeedRun | None, state: FeedSourceState | None = None
) -> FeedPublic:
    public = FeedPublic.model_validate(feed)
    public.last_run = RunPublic.model_validate(last_run) if last_run else None
    public.source_state = SourceStatePublic.model_validate(state) if state else None
    public.next_due = next_due(
        feed, last_run.started_at if last_run else None, state.checked_at if state else None
    )
    return public


def feed_runs(session: Session, feed: Feed, limit: int = 20) -> list[RunPublic]:
    runs = session.scalars(
        select(FeedRun).where(FeedRun.feed_id == feed.id).order_by(FeedRun.id.desc()).limit(limit)
    )
    return [RunPublic.model_validate(run) for run in runs]


def _latest_runs(session: Session, feed_ids: list[int]) -> dict[int, FeedRun]:
    newest = (
        select(func.max(FeedRun.id)).where(FeedRun.feed_id.in_(feed_ids)).group_by(FeedRun.feed_id)
    )
    return {
        run.feed_id: run for run in session.scalars(select(FeedRun).where(FeedRun.id.in_(newest)))
    }


def look_public(look: Look) -> LookPublic:
    return LookPublic(
        feed=look.feed,
        outcome=look.outcome,
        files=[str(path) for path in look.files],
        download=str(look.download) if look.download else None,
        bytes=look.bytes,
        note=look.note,
    )


def report_public(report: RunReport) -> FeedRunReport:
    return FeedRunReport(
        look=look_public(report.look),
        runs=[RunPublic.model_validate(run) for run in report.runs],
        failures=report.failures,
    )


def fetch_now(runner: FeedRunner, actor: Actor, feed: Feed) -> LookPublic:
    """Look at the feed's source now, downloading what is new, without reading it."""
    audit.record(runner.session, actor, "feed.fetch", ("feed", feed.id))
    return look_public(runner.fetch(feed))


def run_now(runner: FeedRunner, actor: Actor, feed: Feed) -> FeedRunReport:
    """Look at the feed's source and read what is new, now."""
    audit.record(runner.session, actor, "feed.run", ("feed", feed.id))
    return report_public(runner.run(feed))
