"""Feeds: configured sources an operator adds, lists and runs.

Only the hub's operators (admin role, or the CLI on the server) manage feeds: a feed's
findings go to every member whose constituency they touch, so a feed is the hub's, not
one member's.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from entente.core import audit
from entente.core.audit import Actor
from entente.core.errors import BadValue, Conflict, NotFound
from entente.pipeline.choices import FeedSourceKind
from entente.pipeline.models import Feed, FeedRun
from entente.pipeline.schemas import FeedCreate, FeedPublic, RunPublic


def create_feed(session: Session, actor: Actor, data: FeedCreate) -> Feed:
    """Add a feed; a file or directory source must exist on this machine."""
    if session.scalar(select(Feed.id).where(Feed.name == data.name)) is not None:
        raise Conflict(f"a feed named {data.name!r} exists", field="name", value=data.name)
    _check_source(data.source_kind, data.source)
    feed = Feed(**data.model_dump())
    session.add(feed)
    session.flush()
    audit.record(session, actor, "feed.create", ("feed", feed.id), name=feed.name)
    session.commit()
    return feed


def _check_source(kind: FeedSourceKind, source: str) -> None:
    if kind is FeedSourceKind.FILE and not Path(source).is_file():
        raise BadValue(f"no file at {source!r}", field="source", value=source)
    if kind is FeedSourceKind.DIRECTORY and not Path(source).is_dir():
        raise BadValue(f"no directory at {source!r}", field="source", value=source)
    if kind is FeedSourceKind.URL and not source.startswith(("http://", "https://")):
        raise BadValue("a URL source starts with http:// or https://", field="source", value=source)


def source_files(feed: Feed) -> list[Path]:
    """The files a run of the feed reads now: its file, or its directory's files by name.

    URL sources are fetched by `entente feed fetch` (needs network); uploads arrive one file
    at a time through the API.
    """
    if feed.source_kind is FeedSourceKind.FILE:
        return [Path(feed.source)]
    if feed.source_kind is FeedSourceKind.DIRECTORY:
        return sorted(path for path in Path(feed.source).iterdir() if path.is_file())
    raise BadValue(
        f"feed {feed.name!r} has no local files to run ({feed.source_kind.value} source)",
        field="feed",
        value=feed.name,
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
    """Every feed by name, each with its latest run."""
    feeds = session.scalars(select(Feed).order_by(Feed.name)).all()
    latest = _latest_runs(session, [feed.id for feed in feeds])
    return [feed_public(feed, latest.get(feed.id)) for feed in feeds]


def feed_public(feed: Feed, last_run: FeedRun | None) -> FeedPublic:
    public = FeedPublic.model_validate(feed)
    public.last_run = RunPublic.model_validate(last_run) if last_run else None
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
