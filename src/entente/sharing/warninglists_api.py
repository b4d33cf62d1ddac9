"""REST routes of warning lists: read them, check values, and the admin's on/off switch."""

from __future__ import annotations

from fastapi import APIRouter

from entente.sharing import warninglist_settings
from entente.sharing.warninglist_schemas import (
    WarningListCheck,
    WarningListCheckResult,
    WarningListPublic,
    WarningListSwitch,
    warning_list_public,
)
from entente.web.deps import AdminDep, PrincipalDep, SessionDep
from entente.web.errors import ERROR_RESPONSES

router = APIRouter(responses=ERROR_RESPONSES, tags=["warning lists"])


@router.get("/warninglists", response_model=list[WarningListPublic])
def list_warning_lists(session: SessionDep, _: PrincipalDep) -> list[WarningListPublic]:
    """Every shipped list with its current switch (entries are counted, not listed)."""
    return [warning_list_public(item) for item in warninglist_settings.warning_lists(session)]


@router.put("/warninglists/{name}", response_model=WarningListPublic)
def switch_warning_list(
    name: str, data: WarningListSwitch, session: SessionDep, admin: AdminDep
) -> WarningListPublic:
    """Switch a list on or off for the whole hub (platform admins)."""
    item = warninglist_settings.set_enabled(session, admin, name, data.enabled)
    return warning_list_public(item)


@router.post("/warninglists/check", response_model=WarningListCheckResult)
def check_values(
    data: WarningListCheck, session: SessionDep, _: PrincipalDep
) -> WarningListCheckResult:
    """Which enabled lists each value hits: a check before sharing or blocking it."""
    hits = warninglist_settings.check_values(session, data.type, data.values)
    return WarningListCheckResult(hits=hits)
