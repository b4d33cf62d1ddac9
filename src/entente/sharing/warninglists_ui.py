"""UI page of warning lists: what new indicators are checked against, and the admin's switch.

Thin: the same `warninglist_settings` functions as the REST API (`warninglists_api.py`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from entente.members.choices import Role
from entente.sharing import warninglist_settings
from entente.sharing.tables import warning_lists_table
from entente.sharing.warninglist_schemas import warning_list_public
from entente.web.deps import AdminDep, PrincipalDep, SessionDep
from entente.web.templating import LOGIN_REQUIRED, flash, redirect, render

router = APIRouter(include_in_schema=False, dependencies=LOGIN_REQUIRED)


@router.get("/warninglists", response_class=HTMLResponse)
def warning_lists(request: Request, session: SessionDep, principal: PrincipalDep) -> Response:
    items = [warning_list_public(item) for item in warninglist_settings.warning_lists(session)]
    table = warning_lists_table(may_switch=principal.user.role is Role.ADMIN)
    return render(
        request,
        "sharing/warninglists.html",
        {"table": table, "rows": table.rows(items), "count": len(items)},
    )


@router.post("/warninglists/{name}/enable")
def enable_warning_list(
    name: str, request: Request, session: SessionDep, admin: AdminDep
) -> Response:
    item = warninglist_settings.set_enabled(session, admin, name, enabled=True)
    flash(request, f"Warning list '{item.name}' enabled: new indicators that hit it are flagged.")
    return redirect("/warninglists")


@router.post("/warninglists/{name}/disable")
def disable_warning_list(
    name: str, request: Request, session: SessionDep, admin: AdminDep
) -> Response:
    item = warninglist_settings.set_enabled(session, admin, name, enabled=False)
    flash(request, f"Warning list '{item.name}' disabled for the whole hub.")
    return redirect("/warninglists")
