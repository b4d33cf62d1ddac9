"""HTML forms and query strings: blank means "not given", and every wrong field is named.

Browsers submit every field of a form, empty ones as `""`; an API client would leave them
out. These helpers turn the browser's shape into the API's, so the UI validates with the
same pydantic schemas and calls the same services as the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from entente.core.errors import AppError, BadValue, ValidationFailed
from entente.web.deps import CSRF_FIELD

M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", bound=StrEnum)

# Errors not tied to one field are shown above the form under this key.
FORM_WIDE = "__form__"


class InvalidForm(ValidationFailed):
    """Every field a form got wrong at once, so the page can mark each one."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        field, message = next(iter(errors.items()))
        super().__init__(f"{field}: {message}", field=field)
        self.errors = dict(errors)


async def read_form(request: Request) -> dict[str, str]:
    """The submitted fields as text (file uploads are not used by these forms)."""
    form = await request.form()
    return {key: str(value).strip() for key, value in form.items() if key != CSRF_FIELD}


FormDep = Annotated[dict[str, str], Depends(read_form)]


def parse_form(schema: type[M], form: Mapping[str, str], **fixed: object) -> M:
    """Validate a form with the API's schema; blank fields count as not given."""
    values: dict[str, object] = {key: value for key, value in form.items() if value != ""}
    values.update(fixed)
    try:
        return schema.model_validate(values)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or FORM_WIDE
            errors.setdefault(field, _readable(error["msg"], error["type"]))
        raise InvalidForm(errors) from exc


def _readable(message: str, kind: str) -> str:
    if kind == "missing":
        return "This field is required."
    if kind == "extra_forbidden":
        return "This field is not expected here."
    return message.removeprefix("Value error, ")


def field_errors(exc: AppError) -> dict[str, str]:
    """What to show next to each field (or above the form) for an error of a service."""
    if isinstance(exc, InvalidForm):
        return exc.errors
    return {exc.field or FORM_WIDE: exc.message}


def choice(enum: type[E], value: str, field: str) -> E | None:
    """A select's value as the enum member; blank means "any"."""
    if not value:
        return None
    try:
        return enum(value)
    except ValueError as exc:
        allowed = ", ".join(member.value for member in enum)
        raise BadValue(
            f"unknown {field} '{value}'; one of: {allowed}", field=field, value=value
        ) from exc


def day_start(value: str, field: str) -> datetime | None:
    """A `YYYY-MM-DD` date input as the UTC midnight that starts it; blank means none."""
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
    except ValueError as exc:
        raise BadValue(f"{field} must be a date as YYYY-MM-DD", field=field, value=value) from exc


def day_end(value: str, field: str) -> datetime | None:
    """The UTC midnight after a `YYYY-MM-DD` date, so "until" includes the whole day."""
    start = day_start(value, field)
    return None if start is None else start + timedelta(days=1)


def optional_int(value: str, field: str) -> int | None:
    if not value:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise BadValue(f"{field} must be a whole number", field=field, value=value) from exc
