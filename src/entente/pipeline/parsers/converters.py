"""The named converters a feed mapping may apply to a source column, as polars expressions.

Converters only do cheap textual work that needs knowledge of the feed (Shadowserver's
`0` for "no ASN", a URL split over two columns, a timestamp known to be UTC). They never
type or validate: the normaliser does that for every field, and quarantines what does not
fit, so a junk value reaches it unchanged rather than being silently dropped here.

Each converter takes the column's expression and the rule's arguments (column names or
literals, as the converter says) and returns a String expression.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import polars as pl

from entente.core.errors import BadValue


@dataclass(frozen=True, slots=True)
class Converter:
    """A converter: what it does (for the docs) and whether its arguments name columns."""

    convert: Callable[[pl.Expr, tuple[str, ...]], pl.Expr]
    description: str
    arguments_are_columns: bool = False


_PLACEHOLDERS = ("", "none", "null", "unknown", "n/a", "-")
_DATE = r"^\d{4}-\d{2}-\d{2}$"
_DATE_TIME = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?: ?UTC| ?GMT|Z)?$"
_REQUEST = r"^[A-Z]+ +(\S+)(?: +HTTP/[0-9.]+)?$"
_ENDPOINT = r"^(?:\[([^\]]+)\]|([^:\[\]]+)):(\d{1,5})$"
_SCHEME = r"^[A-Za-z][A-Za-z0-9+.-]*://"


def _keep(value: pl.Expr, arguments: tuple[str, ...]) -> pl.Expr:
    return value


def _lower(value: pl.Expr, arguments: tuple[str, ...]) -> pl.Expr:
    return value.str.to_lowercase()


def _strip(value: pl.Expr, arguments: tuple[str, ...]) -> pl.Expr:
    return value.str.strip_chars()


def _add_utc(value: pl.Expr, arguments: tuple[str, ...]) -> pl.Expr:
    # Slices rather than a capturing regex replace: three times faster on a million rows.
    moment = value.str.slice(0, 10) + "T" + value.str.slice(11, 8) + "+00:00"
    return (
        pl.when(value.str.contains(_DATE_TIME))
        .then(moment)
        .when(value.str.contains(_DATE))
        .then(value + "T00:00:00+00:00")
        .otherwise(value)
    )


def _zero_to_null(value: pl.Expr, arguments: tuple[str, ...]) -> pl.Expr:
    return pl.when(value.str.strip_chars() == "0").then(None).otherwise(value)


def _placeholder_to_null(value: pl.Expr, arguments: tuple[str, ...]) -> pl.Expr:
    placeholder = value.str.strip_chars().str.to_lowercase().is_in(_PLACEHOLDERS)
    return pl.when(placeholder).then(None).otherwise(value)


def _endpoint_host(value: pl.Expr, arguments: tuple[str, ...]) -> pl.Expr:
    text = value.str.strip_chars()
    bracketed, plain = text.str.extract(_ENDPOINT, 1), text.str.extract(_ENDPOINT, 2)
    return pl.coalesce(bracketed, plain, text)


def _endpoint_port(value: pl.Expr, arguments: tuple[str, ...]) -> pl.Expr:
    return value.str.strip_chars().str.extract(_ENDPOINT, 3)


def _url_from_request(value: pl.Expr, arguments: tuple[str, ...]) -> pl.Expr:
    text = value.str.strip_chars()
    path = pl.coalesce(text.str.extract(_REQUEST, 1), text)
    host = pl.coalesce([pl.col(name) for name in arguments]) if arguments else pl.lit(None)
    return (
        pl.when(path.str.contains(_SCHEME))
        .then(path)
        .when(host.is_not_null() & path.str.starts_with("/"))
        .then(pl.lit("http://") + host.cast(pl.String) + path)
        .otherwise(None)
    )


def _lookup(value: pl.Expr, arguments: tuple[str, ...]) -> pl.Expr:
    table = dict(argument.split("=", 1) for argument in arguments)
    key = value.str.strip_chars().str.to_lowercase()
    return key.replace_strict(table, default=None, return_dtype=pl.String)


CONVERTERS: Mapping[str, Converter] = MappingProxyType(
    {
        "keep": Converter(_keep, "the value as read"),
        "lower": Converter(_lower, "lower-cased"),
        "strip": Converter(_strip, "surrounding white space removed"),
        "add_utc": Converter(
            _add_utc,
            "a time without a zone (or in `UTC`, `GMT`, `Z`) is written as UTC: "
            "`2026-11-20 03:14:15` becomes `2026-11-20T03:14:15+00:00`, a bare date is "
            "midnight UTC; other text as read",
        ),
        "zero_to_null": Converter(_zero_to_null, "`0` (the feed's 'unknown') becomes empty"),
        "placeholder_to_null": Converter(
            _placeholder_to_null, "`None`, `null`, `unknown`, `n/a`, `-` become empty"
        ),
        "endpoint_host": Converter(
            _endpoint_host, "the host of `host:port` (`[v6]:port` too); other values as read"
        ),
        "endpoint_port": Converter(_endpoint_port, "the port of `host:port`, else empty"),
        "url_from_request": Converter(
            _url_from_request,
            "a URL from a request path (`GET /x HTTP/1.1` or `/x`) and the first non-empty "
            "host column named; full URLs as read",
            arguments_are_columns=True,
        ),
        "lookup": Converter(
            _lookup, "the value translated by the rule's `from=to` table (case-insensitive)"
        ),
    }
)
"""Every converter a mapping may name, by name."""


def converter(name: str) -> Converter:
    """The converter called `name`; `BadValue` lists the known ones."""
    found = CONVERTERS.get(name)
    if found is None:
        known = ", ".join(CONVERTERS)
        raise BadValue(f"unknown converter {name!r}; known: {known}", field="converter", value=name)
    return found
