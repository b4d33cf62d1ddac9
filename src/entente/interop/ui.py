"""UI pages of interop: import a file into an event with a preview first, and (through
`taxii/ui.py`) the TAXII collections. One router, so the app mounts interop's pages at once.

The import is two steps. The upload is kept on disk (`pending_imports`) and previewed: the
real import runs in a rehearsal that is rolled back (`event_import.preview_import`), and
the page shows what it would add, keep, find already there and reject. Confirming imports
that same file for real. Only writers of the event's owner organisation import; an event
the viewer may not see is a 404, as everywhere (`EventDep`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from entente.core.config import Settings
from entente.core.errors import AppError, BadValue
from entente.interop import event_import, pending_imports
from entente.interop.event_import import ImportReport
from entente.interop.pending_imports import ImportFormat, PendingImport
from entente.interop.taxii import ui as taxii_ui
from entente.members.accounts import Principal
from entente.sharing.api import EventDep
from entente.sharing.models import Event
from entente.sharing.permissions import require_owner
from entente.web.deps import PrincipalDep, SessionDep, SettingsDep
from entente.web.forms import FormDep, choice, field_errors
from entente.web.templating import LOGIN_REQUIRED, flash, redirect, render

router = APIRouter(include_in_schema=False, dependencies=LOGIN_REQUIRED)
router.include_router(taxii_ui.router)


@dataclass(frozen=True, slots=True)
class ImportUpload:
    """The upload form as sent: the chosen format, and the file, if one was chosen."""

    format: str
    file: UploadFile | None


async def import_upload(request: Request) -> ImportUpload:
    form = await request.form()
    upload = form.get("file")
    chosen = upload if isinstance(upload, UploadFile) and upload.filename else None
    return ImportUpload(str(form.get("format", "")).strip(), chosen)


ImportUploadDep = Annotated[ImportUpload, Depends(import_upload)]


@dataclass(frozen=True, slots=True)
class ImportDesk:
    """The event imported into, by whom, and the limits: checked once per request, so an
    analyst of another organisation gets a 403 (a 404 where the event is hidden from them)
    before any file is read."""

    event: Event
    principal: Principal
    settings: Settings

    @property
    def owner(self) -> tuple[int, int]:
        """Whose pending upload it is (`pending_imports`): this user, for this event."""
        return (self.principal.user.id, self.event.id)


def import_desk(event: EventDep, principal: PrincipalDep, settings: SettingsDep) -> ImportDesk:
    require_owner(principal, event)
    return ImportDesk(event, principal, settings)


ImportDeskDep = Annotated[ImportDesk, Depends(import_desk)]


@router.get("/events/{event_id}/import", response_class=HTMLResponse)
def import_page(desk: ImportDeskDep, request: Request) -> Response:
    return _page(request, desk, {"format": ImportFormat.STIX.value})


@router.post("/events/{event_id}/import/preview", response_class=HTMLResponse)
def preview(
    desk: ImportDeskDep, request: Request, session: SessionDep, upload: ImportUploadDep
) -> Response:
    values = {"format": upload.format}
    try:
        pending = _save(desk, upload)
        report = _previewed(session, desk, pending)
    except AppError as exc:
        session.rollback()
        return _page(request, desk, values, exc)
    name = upload.file.filename if upload.file else ""
    context = {"report": report, "pending": pending, "file_name": name}
    return _page(request, desk, values, extra=context)


@router.post("/events/{event_id}/import", response_class=HTMLResponse)
def confirm_import(
    desk: ImportDeskDep, request: Request, session: SessionDep, form: FormDep
) -> Response:
    values = {"format": form.get("format", "")}
    try:
        import_format = _format(form.get("format", ""))
        token = form.get("token", "")
        pending = pending_imports.pending_upload(desk.settings, desk.owner, import_format, token)
        report = event_import.run_import(session, desk.principal, desk.event, pending)
    except AppError as exc:
        session.rollback()
        return _page(request, desk, values, exc)
    pending_imports.discard(pending)
    flash(request, f"Imported: {report.summary()}")
    return redirect(f"/events/{desk.event.id}")


def _save(desk: ImportDesk, upload: ImportUpload) -> PendingImport:
    import_format = _format(upload.format)
    if upload.file is None:
        raise BadValue("choose a file to import", field="file")
    return pending_imports.save_upload(desk.settings, desk.owner, import_format, upload.file.file)


def _previewed(session: Session, desk: ImportDesk, pending: PendingImport) -> ImportReport:
    """The preview; a file that cannot be imported is removed at once, the error kept."""
    try:
        return event_import.preview_import(session, desk.principal, desk.event, pending)
    except AppError as exc:
        pending_imports.discard(pending)
        raise BadValue(f"{pending.format.label}: {exc.message}", field="file") from exc


def _format(value: str) -> ImportFormat:
    chosen = choice(ImportFormat, value, "format")
    if chosen is None:
        raise BadValue("choose the file's format", field="format")
    return chosen


def _page(
    request: Request,
    desk: ImportDesk,
    values: dict[str, str],
    error: AppError | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    context = {
        "event": desk.event,
        "values": values,
        "errors": field_errors(error) if error else {},
        "formats": [(f.value, f.label) for f in ImportFormat],
        "max_upload_bytes": desk.settings.max_body_bytes,
        **(extra or {}),
    }
    status = error.http_status if error else 200
    return render(request, "interop/event_import.html", context, status_code=status)
