"""Entente's own exceptions. Services raise only these; the edges map them.

    AppError
     +-- NotFound               404  the object does not exist *or the viewer may not see it*
     +-- PermissionDenied       403  the viewer is known but the action is not theirs to take
     +-- NotAuthenticated       401  no valid session or token
     +-- Conflict               409  a unique name or code is already taken
     +-- RateLimited            429  too many attempts; retry later
     +-- ValidationFailed       422  input is wrong; `field` names what, `value` shows it
     |    +-- UnknownField
     |    +-- BadValue
     +-- PayloadTooLarge        413  the request body exceeds `max_body_bytes`
     +-- ServiceUnavailable     503  a backing service (database, Redis) does not answer
 +-- FeedError              422  a feed cannot be read as a whole (single bad rows are quarantined)
      +-- FetchError        502  the feed's source could not be fetched (file missing, HTTP error)
      +-- ParseError        422  the file is not what its parser reads; names file, line, column

One FastAPI handler (`web/errors.py`) turns these into `{"error": {"code", "message",
"field"}}` with `http_status`; one Typer handler (`cli.py`) prints the message and exits
with `exit_code`. Errors from the database driver are translated by `translate_db_errors`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from sqlalchemy import exc as sa_exc


class AppError(Exception):
    """Base of every error a service may raise on purpose."""

    http_status: ClassVar[int] = 400
    exit_code: ClassVar[int] = 1
    code: ClassVar[str] = "error"

    def __init__(self, message: str, *, field: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value


class NotFound(AppError):
    http_status = 404
    exit_code = 2
    code = "not_found"


class PermissionDenied(AppError):
    http_status = 403
    exit_code = 2
    code = "permission_denied"


class NotAuthenticated(AppError):
    http_status = 401
    exit_code = 2
    code = "not_authenticated"


class Conflict(AppError):
    http_status = 409
    exit_code = 2
    code = "conflict"


class RateLimited(AppError):
    http_status = 429
    exit_code = 2
    code = "rate_limited"


class ValidationFailed(AppError):
    http_status = 422
    exit_code = 2
    code = "validation_failed"


class UnknownField(ValidationFailed):
    code = "unknown_field"


class BadValue(ValidationFailed):
    code = "bad_value"


class PayloadTooLarge(AppError):
    http_status = 413
    exit_code = 2
    code = "payload_too_large"


class ServiceUnavailable(AppError):
    http_status = 503
    exit_code = 3
    code = "service_unavailable"


class FeedError(AppError):
    http_status = 422
    exit_code = 2
    code = "feed_error"


class FetchError(FeedError):
    http_status = 502
    code = "fetch_error"


class ParseError(FeedError):
    """A whole file cannot be parsed: wrong delimiter, encoding, missing columns, truncation.

    The message names the file, the line and, where known, the column, so an operator can
    open the file at that place.
    """

    code = "parse_error"

    def __init__(
        self, message: str, *, file: str, line: int | None = None, column: str | None = None
    ) -> None:
        where = ", ".join(
            part
            for part in (file, f"line {line}" if line else "", f"column {column}" if column else "")
            if part
        )
        super().__init__(f"{where}: {message}", field=column, value=line)
        self.file = file
        self.line = line
        self.column = column


@contextmanager
def translate_db_errors() -> Iterator[None]:
    """Turn driver errors into ours so no `sqlalchemy` exception crosses a service boundary."""
    try:
        yield
    except sa_exc.IntegrityError as exc:
        raise Conflict(f"conflicts with a stored record: {_driver_message(exc)}") from exc
    except sa_exc.OperationalError as exc:
        raise ServiceUnavailable(f"database unavailable: {_driver_message(exc)}") from exc
    except sa_exc.InterfaceError as exc:
        raise ServiceUnavailable(f"database unavailable: {_driver_message(exc)}") from exc


def _driver_message(exc: sa_exc.DBAPIError) -> str:
    return str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)
