"""UI of indicators: bulk adding with a preview, and reporting a sighting from an event's page.

Bulk adding is two steps of one form. "Preview" runs the extractor over the pasted text (a
list with a value a line, or a paragraph of a defanged report) and shows what it found, each
value with a checkbox and the warning lists it hits, then what it could not use. "Save" adds
the ticked values through `indicator_service.add_indicators`, the API's own path, and shows
what was added, what the event already held and what was refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from entente.core.errors import AppError, BadValue
from entente.sharing import indicator_service, sightings
from entente.sharing.api import EventDep
from entente.sharing.indicators import (
    MAX_TEXT_CHARACTERS,
    MAX_TEXT_LINES,
    ExtractionFailure,
    IndicatorType,
    extract,
)
from entente.sharing.indicators_api import IndicatorDep
from entente.sharing.models import Event
from entente.sharing.permissions import require_owner
from entente.sharing.schemas import (
    MAX_INDICATORS_PER_REQUEST,
    IndicatorBatch,
    IndicatorBatchResult,
    SightingCreate,
)
from entente.sharing.warninglist_settings import active_warning_lists
from entente.web.deps import PrincipalDep, SessionDep, SettingsDep
from entente.web.forms import FormDep, field_errors, parse_form
from entente.web.templating import LOGIN_REQUIRED, flash, redirect, render

router = APIRouter(include_in_schema=False, dependencies=LOGIN_REQUIRED)

BULK_TEMPLATE = "sharing/event_bulk.html"
# One save adds what one API request may; a longer paste is added in parts.
MAX_PREVIEW_ROWS = MAX_INDICATORS_PER_REQUEST
MAX_UNMATCHED_LINES_SHOWN = 100
# A ticked row is sent back as "<type>|<canonical value>"; no type name holds a "|".
PICK_SEPARATOR = "|"


# ---- the form --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BulkForm:
    action: str
    text: str
    picks: tuple[str, ...]
    to_ids: bool


async def read_bulk_form(request: Request, settings: SettingsDep) -> BulkForm:
    """The bulk form, read with room for a whole paste and a checkbox per row.

    Starlette's defaults (1,000 fields, 1 MB a field) suit ordinary forms, not this one. The
    page posts through htmx, which sends the CSRF token as a header, so the body is first
    parsed here, with these limits. A browser without JavaScript puts the token in the body,
    which the CSRF check parses with the defaults: there a paste is limited to 1 MB and a
    save to about 1,000 rows.
    """
    form = await request.form(
        max_fields=MAX_PREVIEW_ROWS + 10, max_part_size=settings.max_body_bytes
    )
    return BulkForm(
        action=str(form.get("action", "preview")),
        text=str(form.get("text", "")),
        picks=tuple(str(pick) for pick in form.getlist("pick")),
        to_ids=form.get("to_ids") == "true",
    )


BulkFormDep = Annotated[BulkForm, Depends(read_bulk_form)]


# ---- the preview -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PreviewRow:
    type: IndicatorType
    value: str
    line: int
    occurrences: int
    warning_lists: tuple[str, ...]

    @property
    def pick(self) -> str:
        return f"{self.type.value}{PICK_SEPARATOR}{self.value}"


@dataclass(frozen=True, slots=True)
class UnmatchedLine:
    number: int
    text: str


@dataclass(frozen=True, slots=True)
class Preview:
    """What a paste holds, as the page shows it (at most one save's worth of rows)."""

    rows: tuple[PreviewRow, ...]
    found: int
    failures: tuple[ExtractionFailure, ...]
    unmatched: tuple[UnmatchedLine, ...]
    unmatched_count: int
    line_count: int


def build_preview(session: Session, text: str) -> Preview:
    """Extract the indicators of `text` and check them against the enabled warning lists."""
    if not text.strip():
        raise BadValue("paste some text to look for indicators in", field="text", value="")
    result = extract(text)
    shown = result.indicators[:MAX_PREVIEW_ROWS]
    hits = active_warning_lists(session).match_many(
        [item.type for item in shown], [item.value for item in shown]
    )
    lines = text.split("\n")
    unmatched = tuple(
        UnmatchedLine(number, lines[number - 1].strip())
        for number in result.lines_without_indicators[:MAX_UNMATCHED_LINES_SHOWN]
    )
    return Preview(
        rows=tuple(
            PreviewRow(i.type, i.value, i.line, i.occurrences, tuple(names))
            for i, names in zip(shown, hits, strict=True)
        ),
        found=len(result.indicators),
        failures=result.failures,
        unmatched=unmatched,
        unmatched_count=len(result.lines_without_indicators),
        line_count=result.line_count,
    )


# ---- the pages -------------------------------------------------------------------------


@router.get("/events/{event_id}/indicators/bulk", response_class=HTMLResponse)
def bulk_page(event: EventDep, request: Request, principal: PrincipalDep) -> Response:
    require_owner(principal, event)
    return render(request, BULK_TEMPLATE, _context(event, text="", errors={}))


@router.post("/events/{event_id}/indicators/bulk", response_class=HTMLResponse)
def bulk_submit(
    event: EventDep,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    form: BulkFormDep,
) -> Response:
    require_owner(principal, event)
    if form.action != "save":
        return _preview_page(request, session, event, form)
    try:
        if not form.picks:
            raise BadValue("tick at least one indicator to add", field="pick", value=None)
        batch = parse_form(IndicatorBatch, {}, indicators=[_picked(p, form) for p in form.picks])
        result = indicator_service.add_indicators(session, principal, event, batch)
    except AppError as exc:
        session.rollback()
        return _preview_page(request, session, event, form, exc)
    context = _context(event, text="", errors={})
    context.update(result=result, rejected=_rejected_rows(result, form.picks))
    return render(request, BULK_TEMPLATE, context, status_code=201)


def _picked(pick: str, form: BulkForm) -> dict[str, object]:
    indicator_type, _, value = pick.partition(PICK_SEPARATOR)
    return {"type": indicator_type, "value": value, "to_ids": form.to_ids}


def _rejected_rows(result: IndicatorBatchResult, picks: tuple[str, ...]) -> list[tuple[str, str]]:
    """(value as ticked, why it was refused) for each refused row."""
    return [
        (picks[item.index].partition(PICK_SEPARATOR)[2], item.message) for item in result.rejected
    ]


def _preview_page(
    request: Request,
    session: Session,
    event: Event,
    form: BulkForm,
    failure: AppError | None = None,
) -> Response:
    """The form with its preview; after a failed save, the rows stay ticked as they were."""
    errors = field_errors(failure) if failure else {}
    status = failure.http_status if failure else 200
    preview = None
    try:
        preview = build_preview(session, form.text)
    except BadValue as exc:
        errors, status = {"text": exc.message}, exc.http_status
    context = _context(event, text=form.text, errors=errors)
    context.update(
        preview=preview,
        picked=frozenset(form.picks) if form.action == "save" else None,
        to_ids=form.to_ids,
    )
    return render(request, BULK_TEMPLATE, context, status_code=status)


def _context(event: Event, text: str, errors: dict[str, str]) -> dict[str, object]:
    return {
        "event": event,
        "values": {"text": text},
        "errors": errors,
        "preview": None,
        "picked": None,
        "to_ids": False,
        "result": None,
        "max_rows": MAX_PREVIEW_ROWS,
        "max_characters": MAX_TEXT_CHARACTERS,
        "max_lines": MAX_TEXT_LINES,
    }


# ---- sightings -------------------------------------------------------------------------


@router.post("/indicators/{indicator_id}/sightings")
def report_sighting(
    indicator: IndicatorDep,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    form: FormDep,
) -> Response:
    """A sighting reported with a button of the event page; back to the same indicator page."""
    data = parse_form(SightingCreate, {"kind": form.get("kind", "")})
    value, event_id = indicator.value, indicator.event_id
    sightings.add_sighting(session, principal, indicator, data)
    flash(request, f"Reported {value} as '{data.kind.label}'.")
    cursor = form.get("cursor", "")
    query = "?" + urlencode({"cursor": cursor}) if cursor else ""
    return redirect(f"/events/{event_id}{query}#indicator-{indicator.id}")
