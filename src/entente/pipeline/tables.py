"""Columns of the pipeline pages: feeds, a feed's runs, the quarantine, a member's alerts.

Labels and badge colours come from the choice sets (`pipeline/choices.py` for runs,
`alerts/choices.py` for the alert lifecycle).
"""

from __future__ import annotations

from pathlib import PurePath
from urllib.parse import quote

from entente.alerts.choices import AlertStatus
from entente.pipeline.findings import AlertPublic
from entente.pipeline.operations import QuarantinedRow, ReasonCount
from entente.pipeline.schemas import FeedPublic, RunPublic
from entente.web.tables import Align, Cell, Column, Style, Table, code, muted, text, when


def feed_url(name: str) -> str:
    """A feed's page; its name may hold spaces."""
    return f"/feeds/{quote(name)}"


def count(value: int) -> Cell:
    return text(f"{value:,}")


def rate(rows_per_second: float) -> Cell:
    return text(f"{rows_per_second:,.0f}")


def run_status(run: RunPublic | None) -> Cell:
    if run is None:
        return Cell("Never run", badge="grey")
    return Cell(run.status.label, badge=run.status.colour)


def alert_status(status: AlertStatus) -> Cell:
    return Cell(status.label, badge=status.colour)


def file_name(path: str | None) -> Cell:
    """A run's or row's file by its name; the directory is the hub's business."""
    return Cell(PurePath(path).name if path else "", style=Style.CODE)


RAW_SHOWN = 160
"""Characters of a raw row the list shows; the API returns it whole."""


def shortened(raw: str) -> str:
    return raw if len(raw) <= RAW_SHOWN else raw[: RAW_SHOWN - 1] + "…"


def _last(feed: FeedPublic, read: str) -> Cell:
    """A figure of the feed's last run, or nothing when it never ran."""
    run = feed.last_run
    if run is None:
        return muted("")
    value = getattr(run, read)
    return rate(value) if read == "rows_per_second" else count(value)


def source_look(feed: FeedPublic) -> Cell:
    """What the last look at the source found, e.g. "Not modified" (grey) or "Failed" (red)."""
    state = feed.source_state
    if state is None or state.outcome is None:
        return muted("")
    return Cell(state.outcome.label, badge=state.outcome.colour)


def _next_due(feed: FeedPublic) -> Cell:
    if feed.next_due is None:
        return muted("on demand" if feed.source_kind.schedulable else "uploads")
    return when(feed.next_due)


def _source(feed: FeedPublic) -> Cell:
    label = feed.source_kind.label
    return muted(f"{label}: {feed.source}" if feed.source else label)


# ---- feeds and runs --------------------------------------------------------------------


FEEDS = Table[FeedPublic](
    columns=(
        Column("Name", lambda f: Cell(f.name, href=feed_url(f.name))),
        Column("Parser", lambda f: code(f.parser)),
        Column("Source", _source),
        Column("Last run", lambda f: when(f.last_run.started_at if f.last_run else None)),
        Column("Status", lambda f: run_status(f.last_run)),
        Column("Rows in", lambda f: _last(f, "rows_in"), Align.RIGHT),
        Column("Stored", lambda f: _last(f, "rows_stored"), Align.RIGHT),
        Column("Quarantined", lambda f: _last(f, "quarantined"), Align.RIGHT),
        Column("Rows/s", lambda f: _last(f, "rows_per_second"), Align.RIGHT),
        Column("Last look", source_look),
        Column("Next due", _next_due),
    ),
    empty="No feeds yet.",
)

RUNS = Table[RunPublic](
    columns=(
        Column("Run", lambda r: text(f"#{r.id}")),
        Column("Started", lambda r: when(r.started_at)),
        Column("File", lambda r: file_name(r.file)),
        Column("Status", run_status),
        Column("Rows in", lambda r: count(r.rows_in), Align.RIGHT),
        Column("Stored", lambda r: count(r.rows_stored), Align.RIGHT),
        Column("Duplicates", lambda r: count(r.duplicates), Align.RIGHT),
        Column("Quarantined", lambda r: count(r.quarantined), Align.RIGHT),
        Column("Unrouted", lambda r: count(r.unrouted), Align.RIGHT),
        Column("Matched", lambda r: count(r.matched), Align.RIGHT),
        Column("Rows/s", lambda r: rate(r.rows_per_second), Align.RIGHT),
        Column("Error", lambda r: muted(r.error)),
    ),
    empty="This feed has not run yet: upload a file above, or run `entente feed run`.",
)


# ---- the quarantine --------------------------------------------------------------------


QUARANTINE = Table[QuarantinedRow](
    columns=(
        Column("Feed", lambda q: text(q.feed)),
        Column("File", lambda q: file_name(q.file)),
        Column("Line", lambda q: text(q.line), Align.RIGHT),
        Column("Field", lambda q: code(q.field or "")),
        Column("Reason", lambda q: text(q.reason)),
        Column("Quarantined", lambda q: when(q.quarantined_at)),
        Column("Raw", lambda q: code(shortened(q.raw or ""))),
    ),
    empty="No quarantined row matches these filters.",
)

REASONS = Table[ReasonCount](
    columns=(
        Column("Field", lambda r: code(r.field or "")),
        Column("Reason", lambda r: text(r.reason)),
        Column("Rows", lambda r: count(r.count), Align.RIGHT),
    ),
    empty="Nothing is quarantined.",
)


# ---- a member's alerts -----------------------------------------------------------------

_ALERT_COLUMNS: tuple[Column[AlertPublic], ...] = (
    Column("Day", lambda a: Cell(a.day.isoformat(), style=Style.TIME)),
    Column("Report", lambda a: code(a.feed_name)),
    Column("Taxonomy", lambda a: text(a.taxonomy)),
    Column("Type", lambda a: text(a.type)),
    Column("Identifier", lambda a: code(a.identifier)),
    Column("Findings", lambda a: count(a.rows), Align.RIGHT),
    Column("Matched", lambda a: count(a.matched_rows), Align.RIGHT),
    Column("Last seen", lambda a: when(a.last_seen)),
    Column("Status", lambda a: alert_status(a.status)),
)

ALERTS = Table[AlertPublic](columns=_ALERT_COLUMNS, empty="No alert matches these filters.")

# The hub's operators read every member's alerts, so theirs say whose each one is.
EVERY_MEMBERS_ALERTS = Table[AlertPublic](
    columns=(
        Column(
            "Organisation",
            lambda a: Cell(a.organisation_name, href=f"/organisations/{a.organisation_id}"),
        ),
        *_ALERT_COLUMNS,
    ),
    empty="No alert matches these filters.",
)
