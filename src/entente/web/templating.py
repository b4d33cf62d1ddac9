"""Jinja2 environment: templates of every capability, and the helpers every page uses."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

from entente import __version__
from entente.web.deps import csrf_token


def make_templates(directories: list[Path]) -> Jinja2Templates:
    templates = Jinja2Templates(directory=[str(d) for d in directories],
                                context_processors=[_common_context])
    templates.env.filters["datetime"] = _format_datetime
    templates.env.globals["version"] = __version__
    return templates


def _common_context(request: Request) -> dict[str, Any]:
    return {"csrf_token": csrf_token(request), "current_path": request.url.path}


def _format_datetime(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")
