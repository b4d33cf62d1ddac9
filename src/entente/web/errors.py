"""Turn errors into responses: JSON `{"error": {...}}` for the API, a page for the UI.

This is the only place that knows HTTP status codes for our errors (`AppError.http_status`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from entente.core.errors import (
    AppError,
    Conflict,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ValidationFailed,
)

# Where FastAPI found a bad input; the client named the field without it.
_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


class FieldProblem(BaseModel):
    field: str | None
    message: str


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, machine-readable: not_found, bad_value, ...")
    message: str = Field(description="For people: what is wrong, naming the value")
    field: str | None = Field(description="The input at fault, when one is")
    problems: list[FieldProblem] | None = Field(
        default=None, description="Every invalid input, when the request had several"
    )


class ErrorResponse(BaseModel):
    """The one shape of every error the API returns."""

    error: ErrorDetail


def _documented(descriptions: dict[type[AppError], str]) -> dict[int | str, dict[str, Any]]:
    return {
        error.http_status: {"model": ErrorResponse, "description": description}
        for error, description in descriptions.items()
    }


# Declared on every API router, so the OpenAPI document lists what a client must handle.
ERROR_RESPONSES = _documented(
    {
        NotAuthenticated: "No valid API token or session",
        PermissionDenied: "Authenticated, but the action is not yours to take",
        NotFound: "No such object, or none you may see",
        Conflict: "A unique name or code is already taken",
        PayloadTooLarge: "The request body exceeds the size limit",
        ValidationFailed: "Invalid input; `field` names it",
    }
)


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
    code, problems = _problems(exc.errors())
    first = problems[0] if problems else {"field": None, "message": "invalid request"}
    message = f"{first['field']}: {first['message']}" if first["field"] else str(first["message"])
    if wants_html(request):
        return _error_page(request, 422, message)
    return JSONResponse(
        error_body(code, message, first["field"], problems=problems), status_code=422
    )


def _problems(errors: Sequence[Any]) -> tuple[str, list[dict[str, Any]]]:
    """The error code, and each problem with the field named as the client sent it."""
    for error in errors:
        if error["type"] == "json_invalid":
            reason = f"{error.get('ctx', {}).get('error', '')} at character {error['loc'][-1]}"
            return "malformed_json", [{"field": None, "message": f"body is not JSON: {reason}"}]
    problems = [{"field": _field_name(error["loc"]), "message": error["msg"]} for error in errors]
    unknown = bool(errors) and errors[0]["type"] == "extra_forbidden"
    return ("unknown_field" if unknown else "validation_failed"), problems


def _field_name(location: tuple[int | str, ...]) -> str | None:
    parts = location[1:] if location and location[0] in _LOCATIONS else location
    return ".".join(str(part) for part in parts) or None


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and _sent_json(request):
        # FastAPI's answer to a JSON body it cannot even decode (not UTF-8, say): for the
        # client that is malformed JSON like any other, so it gets the same 422.
        return JSONResponse(
            error_body("malformed_json", f"body is not JSON: {exc.detail}"), status_code=422
        )
    if exc.status_code == 400 and _sent_form(request):
        # Starlette's answer to a multipart body it cannot read: a bad upload, so the 422
        # of any bad input, naming the form.
        return JSONResponse(
            error_body("validation_failed", f"the form cannot be read: {exc.detail}", "file"),
            status_code=422,
        )
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    if wants_html(request):
        return _error_page(request, exc.status_code, str(exc.detail))
    return JSONResponse(
        error_body(code, str(exc.detail)),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def _sent_form(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("multipart/form-data")


def _sent_json(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip().endswith("json")


def _error_page(request: Request, status: int, message: str) -> Response:
    templates = request.app.state.templates
    return templates.TemplateResponse(  # type: ignore[no-any-return]
        request, "core/error.html", {"status": status, "message": message}, status_code=status
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, app_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
