"""UI pages of the pipeline: feeds, a feed's runs and uploads, the quarantine (the hub's
operators), and a member's findings with their trend and world map.

Thin: each handler calls the same service as the REST API (`pipeline/api.py`), so a member
sees the same findings here as through its API token: its own organisation's, never
another member's.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from entente.core.config import Settings
from entente.core.errors import AppError, BadValue
from entente.core.pagination import DEFAULT_LIMIT, PageRequest
from entente.members.accounts import Principal
from entente.pipeline import feeds, findings, operations
from entente.pipeline.api import FeedDep
from entente.pipeline.choices import FeedSourceKind
from entente.pipeline.filters import AlertFilter, FindingsFilter, QuarantineFilter
from entente.pipeline.findings import FindingsSummary
from entente.pipeline.models import Feed
from entente.pipeline.operations import ReprocessReport, ReprocessRequest, Upload
from entente.pipeline.parsers import parsers
from entente.pipeline.quarantine import QuarantineStore
from entente.pipeline.runner import FeedRunner
from entente.pipeline.schemas import FeedCreate, LookPublic, RunPublic
from entente.pipeline.store import EventStore
from entente.pipeline.tables import (
    ALERTS,
    EVERY_MEMBERS_ALERTS,
    FEEDS,
    QUARANTINE,
    REASONS,
    RUNS,
    feed_url,
)
from entente.web.charts import FONT, VEGA_LITE_SCHEMA, map_spec
from entente.web.deps import AdminDep, PageDep, PrincipalDep, SessionDep, SettingsDep
from entente.web.filter_forms import FieldOverride, Widget, declare
from entente.web.forms import FormDep, field_errors, parse_form
from entente.web.map_metrics import MapMetric, metric_rows
from entente.web.templating import LOGIN_REQUIRED, FlashLevel, flash, redirect, render

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

router = APIRouter(include_in_schema=False, dependencies=LOGIN_REQUIRED)

F = TypeVar("F", bound="DataclassInstance")
FINDINGS_MAP_DATA = "/findings/map-data"


def query_filter(kind: type[F]) -> Callable[[Request], F]:
    """A dependency reading the filter dataclass `kind` from a filter form's query string:
    blank means "any"; values are checked as the API checks them."""
    adapter = TypeAdapter(kind)
    names = frozenset(f.name for f in dataclasses.fields(kind))

    def read(request: Request) -> F:
        given = {
            key: value.strip()
            for key, value in request.query_params.items()
            if key in names and value.strip()
        }
        try:
            return adapter.validate_python(given)
        except ValidationError as exc:
            problem = exc.errors()[0]
            name = str(problem["loc"][0])
            raise BadValue(f"{name}: {problem['msg']}", field=name, value=given.get(name)) from exc

    return read


AlertFilterDep = Annotated[AlertFilter, Depends(query_filter(AlertFilter))]
QuarantineFilterDep = Annotated[QuarantineFilter, Depends(query_filter(QuarantineFilter))]

ALERT_FILTERS = declare(
    AlertFilter,
    "/findings",
    {
        "day_from": FieldOverride(label="From"),
        "day_to": FieldOverride(label="To"),
        "feed": FieldOverride(label="Report", blank="Any report", widget=Widget.SELECT),
        "taxonomy": FieldOverride(blank="Any taxonomy", widget=Widget.SELECT),
        "type": FieldOverride(blank="Any type", widget=Widget.SELECT),
        "status": FieldOverride(blank="Any status"),
    },
)
QUARANTINE_FILTERS = declare(
    QuarantineFilter,
    "/quarantine",
    {
        "feed": FieldOverride(blank="Any feed", widget=Widget.SELECT),
        "field": FieldOverride(placeholder="e.g. source.ip"),
        "q": FieldOverride(placeholder="Text of the row, the reason or the file name"),
    },
    order=("q", "feed", "field"),
)


# ---- feeds -----------------------------------------------------------------------------


@router.get("/feeds", response_class=HTMLResponse)
def feed_list(
    request: Request, session: SessionDep, settings: SettingsDep, _admin: AdminDep
) -> Response:
    return render(request, "pipeline/feeds.html", _feeds_context(session, settings))


@router.post("/feeds", response_class=HTMLResponse)
def add_feed(
    request: Request, session: SessionDep, settings: SettingsDep, admin: AdminDep, form: FormDep
) -> Response:
    try:
        data = parse_form(FeedCreate, form, options=_json_options(form.get("options", "")))
        feed = feeds.create_feed(session, admin.actor(), data)
    except AppError as exc:
        session.rollback()
        context = _feeds_context(session, settings, form, field_errors(exc))
        return render(request, "pipeline/feeds.html", context, status_code=exc.http_status)
    flash(request, f"Feed '{feed.name}' added. Upload a file to run it.")
    return redirect(feed_url(feed.name))


def _feeds_context(
    session: Session,
    settings: Settings,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    found = feeds.list_feeds(session)
    return {
        "feeds": found,
        "table": FEEDS,
        "rows": FEEDS.rows(found),
        "parsers": [(name, name) for name in sorted(parsers())],
        "source_kinds": [(kind.value, kind.label) for kind in FeedSourceKind],
        "values": values or {"source_kind": FeedSourceKind.UPLOAD.value},
        "errors": errors or {},
        "max_upload_bytes": settings.max_body_bytes,
    }


def _json_options(text: str) -> dict[str, Any]:
    """The options box: a JSON object, or blank for none."""
    if not text:
        return {}
    try:
        options = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadValue(f"options must be JSON: {exc.msg}", field="options", value=text) from exc
    if not isinstance(options, dict):
        raise BadValue("options must be a JSON object", field="options", value=text)
    return options


@router.get("/feeds/{name}", response_class=HTMLResponse)
def feed_page(
    feed: FeedDep, request: Request, session: SessionDep, settings: SettingsDep, page: PageDep
) -> Response:
    runs = operations.runs_page(session, feed, page)
    context = {
        "feed": feeds.feed_detail(session, feed),
        "page": runs,
        "table": RUNS,
        "rows": RUNS.rows(runs.items),
        "throughput_chart": throughput_chart(runs.items) if runs.items else None,
        "max_upload_bytes": settings.max_body_bytes,
    }
    return render(request, "pipeline/feed.html", context)


@dataclass(frozen=True, slots=True)
class FeedUpload:
    """The upload form as sent: the feed of the page, and the chosen file, if any."""

    feed: Feed
    file: UploadFile | None


async def feed_upload(feed: FeedDep, request: Request) -> FeedUpload:
    upload = (await request.form()).get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        return FeedUpload(feed, upload)
    return FeedUpload(feed, None)


@router.post("/feeds/{name}/upload")
def upload_to_feed(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    admin: AdminDep,
    form: Annotated[FeedUpload, Depends(feed_upload)],
) -> Response:
    """Ingest the file now; the feed page then shows its run (failed runs too)."""
    try:
        if form.file is None:
            raise BadValue("choose a file to upload", field="file")
        upload = Upload(form.file.filename or "upload", form.file.file)
        run = operations.ingest_upload(session, settings, admin.actor(), form.feed, upload)
    except AppError as exc:
        session.rollback()
        flash(request, exc.message, FlashLevel.ERROR)
        return redirect(feed_url(form.feed.name))
    flash(request, run_summary(RunPublic.model_validate(run)))
    return redirect(feed_url(form.feed.name))


@router.post("/feeds/{name}/fetch")
def fetch_feed(
    feed: FeedDep, request: Request, session: SessionDep, settings: SettingsDep, admin: AdminDep
) -> Response:
    """Download what is new at the feed's source; the next run reads it."""
    try:
        look = feeds.fetch_now(FeedRunner(session, settings), admin.actor(), feed)
    except AppError as exc:
        session.rollback()
        flash(request, exc.message, FlashLevel.ERROR)
        return redirect(feed_url(feed.name))
    flash(request, look_summary(look))
    return redirect(feed_url(feed.name))


@router.post("/feeds/{name}/run")
def run_feed(
    feed: FeedDep, request: Request, session: SessionDep, settings: SettingsDep, admin: AdminDep
) -> Response:
    """Look at the feed's source and ingest what is new, now."""
    try:
        report = feeds.run_now(FeedRunner(session, settings), admin.actor(), feed)
    except AppError as exc:
        session.rollback()
        flash(request, exc.message, FlashLevel.ERROR)
        return redirect(feed_url(feed.name))
    for run in report.runs:
        flash(request, run_summary(run), FlashLevel.ERROR if run.error else FlashLevel.SUCCESS)
    if not report.runs:
        flash(request, look_summary(report.look))
    return redirect(feed_url(feed.name))


def look_summary(look: LookPublic) -> str:
    found = f"{look.outcome.label}"
    if look.download:
        found += f": downloaded {look.bytes:,} bytes"
    if look.note:
        found += f" ({look.note})"
    waiting = len(look.files)
    return f"{found}. {waiting:,} file{'' if waiting == 1 else 's'} waiting to be read."


def run_summary(run: RunPublic) -> str:
    if run.error:
        return f"Run #{run.id} of {PurePath(run.file).name} failed: {run.error}"
    return (
        f"Run #{run.id}: {run.rows_in:,} rows in, {run.rows_stored:,} stored, "
        f"{run.duplicates:,} duplicates, {run.quarantined:,} quarantined, "
        f"{run.unrouted:,} not routed to any member."
    )


# ---- the quarantine --------------------------------------------------------------------


@router.get("/quarantine", response_class=HTMLResponse)
def quarantine_list(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _admin: AdminDep,
    filters: QuarantineFilterDep,
) -> Response:
    store = QuarantineStore(settings.store_dir)
    context = _quarantine_context(request, session, store, filters)
    return render(request, "pipeline/quarantine.html", context)


def _quarantine_context(
    request: Request, session: Session, store: QuarantineStore, filters: QuarantineFilter
) -> dict[str, Any]:
    offset = _offset(request)
    found = operations.list_quarantine(store, filters, DEFAULT_LIMIT, offset)
    names = [(feed.name, feed.name) for feed in feeds.list_feeds(session)]
    return {
        "page": found,
        "rows": list(zip((row.id for row in found.data), QUARANTINE.rows(found.data), strict=True)),
        "table": QUARANTINE,
        "reasons": REASONS.rows(operations.quarantine_reasons(store, filters.feed)),
        "reason_table": REASONS,
        "filter_form": QUARANTINE_FILTERS.form(request.query_params, {"feed": names}),
        "previous_offset": max(offset - DEFAULT_LIMIT, 0) if offset else None,
        "next_offset": offset + DEFAULT_LIMIT if offset + DEFAULT_LIMIT < found.total else None,
    }


def _offset(request: Request) -> int:
    text = request.query_params.get("offset", "0").strip() or "0"
    if not text.isdigit() or int(text) > 1_000_000_000:
        raise BadValue("offset must be a whole number, 0 or more", field="offset", value=text)
    return int(text)


async def picked_rows(request: Request) -> list[str]:
    """The ticked rows' ids (`pick` checkboxes)."""
    return [str(value) for value in (await request.form()).getlist("pick")]


def _checked_ids(picked: list[str]) -> list[str]:
    if not picked:
        raise BadValue("Tick the rows to re-process first.", field="pick")
    try:
        return ReprocessRequest(ids=picked).ids
    except ValidationError as exc:
        message = f"Not rows of the quarantine: {exc.errors()[0]['msg']}"
        raise BadValue(message, field="pick") from exc


@router.post("/quarantine/reprocess")
def reprocess_rows(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    admin: AdminDep,
    picked: Annotated[list[str], Depends(picked_rows)],
) -> Response:
    try:
        report = operations.reprocess(session, settings, admin.actor(), _checked_ids(picked))
    except AppError as exc:
        session.rollback()
        flash(request, exc.message, FlashLevel.ERROR)
        return redirect("/quarantine")
    flash(request, reprocess_summary(report))
    return redirect("/quarantine")


def reprocess_summary(report: ReprocessReport) -> str:
    return (
        f"Re-processed {report.reprocessed:,} of {report.picked:,} rows: {report.stored:,} "
        f"stored, {report.duplicates:,} duplicates, {report.quarantined:,} quarantined again, "
        f"{report.skipped:,} left as they were."
    )


# ---- findings --------------------------------------------------------------------------


def findings_filter(filters: AlertFilterDep) -> FindingsFilter:
    """The charts follow the table's day range and report."""
    return FindingsFilter(filters.day_from, filters.day_to, filters.feed)


FindingsFilterDep = Annotated[FindingsFilter, Depends(findings_filter)]


@dataclass(frozen=True, slots=True)
class FindingsView:
    """What the findings page lists: the alert filters and page, and the charts' range."""

    filters: AlertFilter
    charts: FindingsFilter
    page: PageRequest


def findings_view(
    filters: AlertFilterDep, charts: FindingsFilterDep, page: PageDep
) -> FindingsView:
    return FindingsView(filters, charts, page)


@router.get("/findings", response_class=HTMLResponse)
def findings_page(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    view: Annotated[FindingsView, Depends(findings_view)],
) -> Response:
    summary = findings.findings_summary(EventStore(settings.store_dir), principal, view.charts)
    context = _findings_context(request, session, principal, view, summary)
    return render(request, "pipeline/findings.html", context)


def _findings_context(
    request: Request,
    session: Session,
    principal: Principal,
    view: FindingsView,
    summary: FindingsSummary,
) -> dict[str, Any]:
    alerts = findings.list_alerts(session, principal, view.filters, view.page)
    table = EVERY_MEMBERS_ALERTS if findings.sees_every_member(principal) else ALERTS
    choices = findings.alert_choices(session, principal)
    filter_form = ALERT_FILTERS.form(
        request.query_params, {name: [(v, v) for v in values] for name, values in choices.items()}
    )
    return {
        "page": alerts,
        "table": table,
        "rows": table.rows(alerts.items),
        "filter_form": filter_form,
        "filtered": any(field.value for field in filter_form.fields),
        "any_alerts": findings.has_alerts(session, principal),
        "summary": summary,
        "trend_chart": trend_chart(summary),
        "map_chart": findings_map(summary),
        "organisation_id": principal.user.organisation_id,
    }


@router.get(FINDINGS_MAP_DATA)
def findings_map_data(
    session: SessionDep, principal: PrincipalDep, settings: SettingsDep, charts: FindingsFilterDep
) -> dict[str, Any]:
    """The viewer's findings per member state, in the rows `/map/data` serves (the map's
    shape), so the world map draws them the same way."""
    summary = findings.findings_summary(EventStore(settings.store_dir), principal, charts)
    metric = findings_metric(summary)
    return {"metric": metric.name, "label": metric.label, "values": metric_rows(session, metric)}


# ---- charts ----------------------------------------------------------------------------


def findings_metric(summary: FindingsSummary) -> MapMetric:
    """The viewer's findings per source country as a map metric (values of this request)."""
    counts = findings.country_counts(summary)
    label = f"Findings per source country, {summary.day_from} to {summary.day_to}"
    return MapMetric("findings", label, "findings", lambda _session: counts)


def findings_map(summary: FindingsSummary) -> dict[str, Any]:
    """The hub's world map (`web.charts.map_spec`), fed from this viewer's findings.

    `map_spec` joins `/map/data`, whose metrics are hub-wide; findings are each member's
    own, so the map reads the same rows from `/findings/map-data` for the same range.
    """
    spec = map_spec(findings_metric(summary))
    query = {"day_from": summary.day_from, "day_to": summary.day_to}
    lookup = spec["layer"][1]["transform"][0]
    lookup["from"]["data"]["url"] = f"{FINDINGS_MAP_DATA}?{urlencode(query)}"
    return spec


def trend_chart(summary: FindingsSummary) -> dict[str, Any]:
    """Findings per UTC day, one bar a day (days without findings show as gaps)."""
    values = [{"day": item.day.isoformat(), "count": item.count} for item in summary.days]
    day = {"field": "day", "type": "temporal", "timeUnit": "utcyearmonthdate", "title": "Day"}
    return {
        "$schema": VEGA_LITE_SCHEMA,
        "width": "container",
        "height": 200,
        "data": {"values": values},
        "mark": {"type": "bar", "color": "#2f6fdf"},
        "encoding": {
            "x": {**day, "title": None, "axis": {"format": "%d %b", "labelAngle": 0}},
            "y": {
                "field": "count",
                "type": "quantitative",
                "title": "Findings",
                "axis": {"tickMinStep": 1, "format": "d"},
            },
            "tooltip": [day, {"field": "count", "title": "Findings", "format": ","}],
        },
        "config": {"view": {"stroke": None}, "font": FONT},
    }


def throughput_chart(runs: list[RunPublic]) -> dict[str, Any]:
    """Rows per second of each run on the page, oldest first: a slow run stands out."""
    values = [
        {
            "run": f"#{run.id}",
            "rows_per_second": round(run.rows_per_second, 1),
            "rows_in": run.rows_in,
            "seconds": round(run.seconds, 3),
            "status": run.status.label,
        }
        for run in reversed(runs)
    ]
    return {
        "$schema": VEGA_LITE_SCHEMA,
        "width": "container",
        "height": 200,
        "data": {"values": values},
        "mark": {"type": "bar", "color": "#2f6fdf"},
        "encoding": {
            "x": {"field": "run", "type": "ordinal", "sort": None, "title": "Run"},
            "y": {"field": "rows_per_second", "type": "quantitative", "title": "Rows per second"},
            "tooltip": [
                {"field": "run", "title": "Run"},
                {"field": "rows_per_second", "title": "Rows/s", "format": ","},
                {"field": "rows_in", "title": "Rows in", "format": ","},
                {"field": "seconds", "title": "Seconds"},
                {"field": "status", "title": "Status"},
            ],
        },
        "config": {"view": {"stroke": None}, "font": FONT},
    }
