"""Turn errors into responses: JSON `{"error": {...}}` for the API, a page for the UI.

This is the only place that knows HTTP status codes for our errors (`AppError.http_status`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from entente.core.errors import AppError, NotAuthenticated


def error_body(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field, **extra}}


def wants_html(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith("/api/") or path.startswith("/taxii2")) and (
        "text/html" in request.headers.get("accept", "")
    )


async def app_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    if wants_html(request):
        if isinstance(exc, NotAuthenticated):
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return _error_page(request, exc.http_status, exc.message)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, NotAuthenticated) else None
    return JSONResponse(
        error_body(exc.code, exc.message, exc.field), status_code=exc.http_status, headers=headers
    )


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    """FastAPI's own 422, reshaped so the first offending field is named like any other error."""
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"field": ".".join(str(part) for part in err["loc"]), "message": err["msg"]}
        for err in exc.errors()
    ]
    first = problems[0] if problems else {"field": None, "message": "invalid request"}
    code = "malformed_json" if any(e["type"] == "json_invalid" for e in exc.errors()) else "validation_failed"
    message = f"{first['field']}: {first['message']}" if first["field"] else str(first["message"])
    if wants_html(request):
        return _error_page(request, 422, message)
    return JSONResponse(
        error_body(code, message, first["field"], problems=problems), status_code=422
    )


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    if wants_html(request):
        return _error_page(request, exc.status_code, str(exc.detail))
    return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


def _error_page(request: Request, status: int, message: str) -> Response:
    templates = request.app.state.templates
    return templates.TemplateResponse(  # type: ignore[no-any-return]
        request, "core/error.html", {"status": status, "message": message}, status_code=status
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, app_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
