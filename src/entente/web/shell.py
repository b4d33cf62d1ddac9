"""The UI shell: log in and out, the dashboard, and the world map of member states."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from entente.core import audit
from entente.core.errors import NotAuthenticated, RateLimited
from entente.core.pagination import PageRequest
from entente.members import accounts, service
from entente.members.choices import ItuRegion, Role
from entente.members.filters import UserFilter
from entente.members.models import User
from entente.web.charts import map_spec, region_chart
from entente.web.deps import PrincipalDep, SessionDep, check_csrf, client_address
from entente.web.forms import FormDep
from entente.web.map_metrics import DEFAULT_METRIC, METRICS, get_metric, metric_rows
from entente.web.templating import LOGIN_REQUIRED, FlashLevel, flash, redirect, render

router = APIRouter(include_in_schema=False)
pages = APIRouter(dependencies=LOGIN_REQUIRED)

RECENT_AUDIT_ENTRIES = 8


# ---- log in and out --------------------------------------------------------------------


def safe_next(target: str | None) -> str:
    """Only a path on this site: `//host`, `https://host`, `/\\host` leave it (open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or any(ord(ch) < 0x20 for ch in target):
        return "/"
    return target


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next_path: Annotated[str, Query(alias="next")] = "/") -> Response:
    return render(
        request, "login.html", {"next": safe_next(next_path), "username": "", "error": None}
    )


@router.post("/login", response_class=HTMLResponse, dependencies=[Depends(check_csrf)])
def login(request: Request, session: SessionDep, form: FormDep) -> Response:
    target = safe_next(form.get("next"))
    username = form.get("username", "")
    try:
        user = accounts.authenticate(
            session, username, form.get("password", ""), client_address(request)
        )
    except (NotAuthenticated, RateLimited) as exc:
        context = {"next": target, "username": username, "error": exc.message}
        return render(request, "login.html", context, status_code=exc.http_status)
    # A fresh session (and so a fresh CSRF token) for the logged-in user.
    request.session.clear()
    request.session["user_id"] = user.id
    return redirect(target)


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request) -> Response:
    request.session.clear()
    flash(request, "You are logged out.", FlashLevel.INFO)
    return redirect("/login")


# ---- dashboard -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stat:
    label: str
    value: int
    href: str


@pages.get("/", response_class=HTMLResponse)
def dashboard(request: Request, session: SessionDep, principal: PrincipalDep) -> Response:
    return render(request, "dashboard.html", dashboard_context(session, principal.user))


def dashboard_context(session: Session, user: User) -> dict[str, Any]:
    """Counts that tell a member where the hub stands, and what changed lately (admins)."""
    one = PageRequest(limit=1)
    per_state = service.organisations_per_member_state(session)
    per_region: Counter[ItuRegion] = Counter()
    for state, count in per_state:
        per_region[state.region] += count
    stats = [
        Stat("Member states", len(per_state), "/member-states"),
        Stat("Organisations", sum(per_region.values()), "/organisations"),
        Stat(
            "Users" if user.role is Role.ADMIN else "Users in your organisation",
            accounts.list_users(session, user, UserFilter(), one).count,
            "/users",
        ),
        Stat(
            "Your API tokens",
            accounts.list_tokens(session, user, one, owner_id=user.id).count,
            "/tokens",
        ),
    ]
    recent = (
        audit.list_entries(
            session, audit.AuditFilter(), PageRequest(limit=RECENT_AUDIT_ENTRIES)
        ).items
        if user.role is Role.ADMIN
        else []
    )
    return {
        "stats": stats,
        "region_chart": region_chart(per_region),
        "organisation_total": sum(per_region.values()),
        "recent": recent,
    }


# ---- world map -------------------------------------------------------------------------


@pages.get("/map", response_class=HTMLResponse)
def world_map(request: Request, metric: str = DEFAULT_METRIC) -> Response:
    chosen = get_metric(metric)
    return render(
        request,
        "map.html",
        {"metrics": list(METRICS.values()), "metric": chosen, "spec": map_spec(chosen)},
    )


@pages.get("/map/data")
def map_data(session: SessionDep, metric: str = DEFAULT_METRIC) -> dict[str, Any]:
    """The chosen metric per member state, keyed by ISO numeric id like the world atlas."""
    chosen = get_metric(metric)
    return {"metric": chosen.name, "label": chosen.label, "values": metric_rows(session, chosen)}


router.include_router(pages)
