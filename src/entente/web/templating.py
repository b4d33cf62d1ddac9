"""Jinja2 environment: templates of every capability, and the helpers every page uses."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from entente import __version__
from entente.core.markdown import render_markdown
from entente.members.accounts import Principal
from entente.members.choices import Role
from entente.web.deps import PrincipalDep, csrf_token

FLASH_KEY = "flash"


class FlashLevel(StrEnum):
    SUCCESS = "success"
    ERROR = "error"
    INFO = "info"


def make_templates(directories: list[Path]) -> Jinja2Templates:
    templates = Jinja2Templates(
        directory=[str(d) for d in directories], context_processors=[_common_context]
    )
    templates.env.filters["datetime"] = _format_datetime
    templates.env.filters["date"] = _format_date
    templates.env.filters["vega_spec"] = _vega_spec
    templates.env.filters["choices"] = _choices
    templates.env.filters["markdown"] = render_markdown
    templates.env.globals["url_with"] = url_with
    templates.env.globals["version"] = __version__
    return templates


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who the layout shows. Plain values: an error page renders after the session closed."""

    user_id: int
    username: str
    name: str
    organisation: str
    role: Role


def _common_context(request: Request) -> dict[str, Any]:
    me: SignedIn | None = getattr(request.state, "signed_in", None)
    role = me.role if me else None
    return {
        "csrf_token": csrf_token(request),
        "current_path": request.url.path,
        "me": me,
        "is_admin": role is Role.ADMIN,
        "is_manager": role in (Role.ADMIN, Role.ORG_ADMIN),
        "flashes": request.session.pop(FLASH_KEY, []),
    }


def remember_principal(request: Request, principal: PrincipalDep) -> Principal:
    """Log in is required; the layout (and the error page) then shows who is logged in.

    Used as a router-level dependency of UI routers; FastAPI caches `get_principal` per
    request, so the handlers' own `PrincipalDep`/`AdminDep` reuse this lookup.
    """
    user = principal.user
    request.state.signed_in = SignedIn(
        user_id=user.id,
        username=user.username,
        name=user.full_name or user.username,
        organisation=user.organisation.name,
        role=user.role,
    )
    return principal


LOGIN_REQUIRED = [Depends(remember_principal)]


def render(
    request: Request, template: str, context: Mapping[str, Any], status_code: int = 200
) -> HTMLResponse:
    """A page of `template`; the layout adds the CSRF token, the principal and flash messages."""
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, template, dict(context), status_code=status_code)


def flash(request: Request, text: str, level: FlashLevel = FlashLevel.SUCCESS) -> None:
    """A message shown once, on the next page rendered for this session (post/redirect/get)."""
    messages = list(request.session.get(FLASH_KEY, []))
    messages.append({"level": level.value, "text": text})
    request.session[FLASH_KEY] = messages


def redirect(url: str) -> RedirectResponse:
    """303 See Other: after a POST the browser fetches `url` with GET, so reload does not repost."""
    return RedirectResponse(url, status_code=303)


def url_with(request: Request, **params: str | None) -> str:
    """This page's path and query with `params` replaced (None drops one): pagers keep filters."""
    query = request.query_params.multi_items()
    kept = [(key, value) for key, value in query if key not in params]
    kept += [(key, value) for key, value in params.items() if value is not None]
    return request.url.path + ("?" + urlencode(kept) if kept else "")


def _choices(members: Iterable[Any]) -> list[tuple[str, str]]:
    """(value, label) pairs of a choice set, for a `<select>`."""
    return [(member.value, member.label) for member in members]


def _format_datetime(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def _format_date(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d")


def _vega_spec(spec: Mapping[str, Any]) -> Markup:
    """A Vega-Lite spec as JSON in a `data-vega-spec` attribute (the CSP forbids inline scripts)."""
    return Markup.escape(json.dumps(spec, separators=(",", ":")))
