"""UI page of the audit log: every write on the hub, newest first. Platform admins only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from entente.core import audit
from entente.core.audit import AuditEntry, AuditFilter
from entente.core.schemas import PlainText
from entente.web.deps import AdminDep, PageDep, SessionDep
from entente.web.filter_forms import FieldOverride, Widget, declare
from entente.web.forms import day_end, day_start
from entente.web.tables import Cell, Column, Style, Table, code, muted, text
from entente.web.templating import LOGIN_REQUIRED, render

router = APIRouter(include_in_schema=False, dependencies=LOGIN_REQUIRED)


def _object(entry: AuditEntry) -> Cell:
    label = (
        entry.object_type if entry.object_id is None else f"{entry.object_type} #{entry.object_id}"
    )
    return code(label)


def _detail(entry: AuditEntry) -> Cell:
    return muted(", ".join(f"{key}={value}" for key, value in sorted(entry.detail.items())))


AUDIT_ENTRIES = Table[AuditEntry](
    columns=(
        Column("When", lambda e: Cell(e.at.strftime("%Y-%m-%d %H:%M:%S"), style=Style.TIME)),
        Column("Actor", lambda e: text(e.actor)),
        Column("Action", lambda e: Cell(e.action, badge="blue")),
        Column("Object", _object),
        Column("Via", lambda e: text(e.via)),
        Column("Address", lambda e: muted(e.client_address or "")),
        Column("Detail", _detail),
    ),
    empty="No audit entries match these filters.",
)

AUDIT_FILTERS = declare(
    AuditFilter,
    "/audit",
    {
        # Free text in the API; the page offers the actions recorded so far.
        "action": FieldOverride(widget=Widget.SELECT, blank="Any action"),
        "actor": FieldOverride(placeholder="username"),
        "object_type": FieldOverride(placeholder="organisation, user, token…"),
    },
)


def audit_filter(
    action: PlainText = "",
    actor: PlainText = "",
    object_type: PlainText = "",
    since: PlainText = "",
    until: PlainText = "",
) -> AuditFilter:
    """The filter form's fields; dates are whole UTC days, `until` included."""
    return AuditFilter(
        action=action or None,
        actor=actor.strip() or None,
        object_type=object_type.strip() or None,
        since=day_start(since, "since"),
        until=day_end(until, "until"),
    )


@router.get("/audit", response_class=HTMLResponse)
def audit_log(
    request: Request,
    session: SessionDep,
    _admin: AdminDep,
    filters: Annotated[AuditFilter, Depends(audit_filter)],
    page: PageDep,
) -> Response:
    result = audit.list_entries(session, filters, page)
    return render(
        request,
        "core/audit.html",
        {
            "page": result,
            "rows": AUDIT_ENTRIES.rows(result.items),
            "table": AUDIT_ENTRIES,
            "filter_form": AUDIT_FILTERS.form(
                request.query_params, {"action": [(a, a) for a in audit.actions(session)]}
            ),
        },
    )
