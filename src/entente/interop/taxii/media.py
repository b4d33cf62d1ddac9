"""TAXII 2.1 media types, content negotiation, and the error body every failure carries.

Section 1.6.8: requests and responses are `application/taxii+json;version=2.1`; a client
that accepts nothing the server offers gets 406, a body of another type 415 (section 3.3).
Section 3.6.1: every error is an error message resource (`title`, `description`,
`http_status`, ...). The app's own error handlers write Entente's REST error shape, so the
TAXII routes use `TaxiiRoute`, which turns every error raised while handling a request
(dependencies included) into the TAXII body before it reaches them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from entente.core.errors import AppError

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
_TAXII_TYPE = "application/taxii+json"
_VERSION = "2.1"


class TaxiiResponse(Response):
    """A JSON body sent as `application/taxii+json;version=2.1` (no charset parameter:
    clients such as taxii2-client compare the parameters exactly)."""

    media_type = TAXII_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        if isinstance(content, str):
            return content.encode()
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()


class NotAcceptable(AppError):
    http_status = 406
    exit_code = 2
    code = "not_acceptable"


class UnsupportedMediaType(AppError):
    http_status = 415
    exit_code = 2
    code = "unsupported_media_type"


def _is_taxii_21(media_range: str) -> bool:
    """`application/taxii+json` with `version=2.1` or no version (section 1.6.8.1: without
    a version the latest is meant)."""
    kind, *parameters = (part.strip() for part in media_range.split(";"))
    if kind.lower() != _TAXII_TYPE:
        return False
    versions = [p.split("=", 1)[1].strip() for p in parameters if p.lower().startswith("version=")]
    return all(version == _VERSION for version in versions)


def check_accept(request: Request) -> None:
    """406 unless the Accept header names TAXII 2.1 (a bare `*/*` is not a TAXII client)."""
    accept = request.headers.get("accept", "")
    if not any(_is_taxii_21(media_range) for media_range in accept.split(",")):
        raise NotAcceptable(
            f"send 'Accept: {TAXII_MEDIA_TYPE}'; got {accept!r}", field="Accept", value=accept
        )


def check_content_type(request: Request) -> None:
    """415 unless the body is declared as TAXII 2.1 (section 5.4: an envelope)."""
    content_type = request.headers.get("content-type", "")
    if not _is_taxii_21(content_type):
        raise UnsupportedMediaType(
            f"send 'Content-Type: {TAXII_MEDIA_TYPE}'; got {content_type!r}",
            field="Content-Type",
            value=content_type,
        )


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    406: "Not Acceptable",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    503: "Service Unavailable",
}
# Bad input is 400 in TAXII (section 3.6), where Entente's REST API answers 422.
_TAXII_STATUS = {422: 400}


def error_response(
    status: int, description: str, error_code: str, details: dict[str, Any] | None = None
) -> TaxiiResponse:
    """An error message resource (section 3.6.1) with the given HTTP status."""
    body: dict[str, Any] = {
        "title": _TITLES.get(status, "Error"),
        "description": description,
        "error_code": error_code,
        "http_status": str(status),
    }
    if details:
        body["details"] = details
    headers = {"WWW-Authenticate": 'Bearer, Basic realm="entente"'} if status == 401 else None
    return TaxiiResponse(body, status_code=status, headers=headers)


def app_error_response(exc: AppError) -> TaxiiResponse:
    status = _TAXII_STATUS.get(exc.http_status, exc.http_status)
    details = {"field": exc.field} if exc.field else None
    return error_response(status, exc.message, exc.code, details)


def _validation_response(exc: RequestValidationError) -> TaxiiResponse:
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    field = ".".join(str(part) for part in first["loc"] if part not in ("query", "path", "body"))
    return error_response(
        400,
        f"{field}: {first['msg']}" if field else str(first["msg"]),
        "bad_value",
        {"field": field} if field else None,
    )


class TaxiiRoute(APIRoute):
    """A route whose every error, from any dependency or the handler, is a TAXII error body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def taxii_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except AppError as exc:
                return app_error_response(exc)
            except RequestValidationError as exc:
                return _validation_response(exc)
            except StarletteHTTPException as exc:
                return error_response(exc.status_code, str(exc.detail), "http_error")

        return taxii_handler
