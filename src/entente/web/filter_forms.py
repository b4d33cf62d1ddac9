"""List pages declare their filter form; one template macro (`partials/filter_form.html`) draws it.

The filter dataclass (`members/filters.py`, `sharing/filters.py`, `core/audit.AuditFilter`)
already names every query parameter and its type, for the API, the UI and the CLI alike. The
form is derived from it, so a parameter cannot be renamed in one place and forgotten in
another; a page only adds what a type cannot say: a label, a placeholder, the text of the
"no filter" option, and the choices that come from a query (organisations, member states).

How a type becomes a field:

- a `StrEnum` is a select of its members, each shown by its `label` where it has one;
- `bool` is a Yes/No select, `int` a number input, `date`/`datetime` a date input (the UI
  filters by whole UTC days, see `web/forms.day_start`), `str` a text input;
- `q`, the free-text search of every list, is a search box that filters as one types.

A field stays blank when its query parameter is absent, and otherwise shows what the request
sent, so the form always says which filter the table below applies.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Union, get_args, get_origin, get_type_hints

from pydantic import AwareDatetime, NaiveDatetime

SEARCH_FIELD = "q"

# Shown as a date input. Pydantic's datetimes are marker classes at run time, not `datetime`s.
_DAY_TYPES = (date, AwareDatetime, NaiveDatetime)

# How a select's choices are given per request: (value, label) pairs, e.g. (org.id, org.name).
Choices = Iterable[tuple[object, str]]


class Widget(StrEnum):
    """The HTML control; the value of each input widget is its `type` attribute."""

    SEARCH = "search"
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    SELECT = "select"


@dataclass(frozen=True, slots=True)
class FieldOverride:
    """What a page says about one field beyond its type; `None` keeps the derived default.

    `widget=Widget.SELECT` on a `str` or `int` field means its choices come from a query
    and are passed to `FilterFormSpec.form` on every request.
    """

    label: str | None = None
    blank: str | None = None
    placeholder: str | None = None
    widget: Widget | None = None


@dataclass(frozen=True, slots=True)
class Option:
    value: str
    label: str
    selected: bool


@dataclass(frozen=True, slots=True)
class FormField:
    """One field as the template draws it, with the request's value filled in."""

    name: str
    label: str
    widget: Widget
    value: str
    options: tuple[Option, ...] = ()
    blank: str = "Any"
    placeholder: str = ""

    @property
    def grows(self) -> bool:
        return self.widget is Widget.SEARCH


@dataclass(frozen=True, slots=True)
class FilterForm:
    """A GET form: a filtered list is a link that can be bookmarked and shared."""

    action: str
    fields: tuple[FormField, ...]

    @property
    def trigger(self) -> str:
        """htmx events that refresh the results: any change, and typing in the search box."""
        searches = [f"input from:#f-{f.name} delay:400ms" for f in self.fields if f.grows]
        return ", ".join(["change", "submit", *searches])


@dataclass(frozen=True, slots=True)
class DeclaredField:
    """A field as declared, before a request: its fixed choices, if its type has any."""

    name: str
    label: str
    widget: Widget
    choices: tuple[tuple[str, str], ...]
    blank: str
    placeholder: str


@dataclass(frozen=True, slots=True)
class FilterFormSpec:
    """The filter form of one list page, declared once at import time (see `declare`)."""

    action: str
    fields: tuple[DeclaredField, ...]

    def without(self, *names: str) -> FilterFormSpec:
        """The same form without some fields, e.g. a filter only admins may use."""
        _check_known(names, {f.name for f in self.fields})
        kept = tuple(f for f in self.fields if f.name not in names)
        return dataclasses.replace(self, fields=kept)

    def form(
        self, values: Mapping[str, str], choices: Mapping[str, Choices] | None = None
    ) -> FilterForm:
        """The form for one request: `values` are its query parameters, `choices` the
        options of the selects whose choices come from a query."""
        given = dict(choices or {})
        _check_known(given, {f.name for f in self.fields if f.widget is Widget.SELECT})
        fields = tuple(
            _bind(f, values.get(f.name, "").strip(), given.get(f.name)) for f in self.fields
        )
        return FilterForm(self.action, fields)


def declare(
    filters: type[Any],
    action: str,
    overrides: Mapping[str, FieldOverride] | None = None,
    order: Sequence[str] | None = None,
) -> FilterFormSpec:
    """The filter form of `filters` (a dataclass), fields in `order` (default: all, as declared).

    Fails at import time on a field name that the dataclass lacks or on a type no field
    kind fits, so a renamed filter parameter breaks the build, not the page.
    """
    if not dataclasses.is_dataclass(filters):
        raise TypeError(f"{filters!r} is not a filter dataclass")
    hints = get_type_hints(filters)
    names = [f.name for f in dataclasses.fields(filters)]
    given = dict(overrides or {})
    _check_known([*given, *(order or ())], set(names))
    declared = tuple(
        _declare_field(name, hints[name], given.get(name, FieldOverride()))
        for name in (order or names)
    )
    return FilterFormSpec(action, declared)


def _declare_field(name: str, annotation: object, override: FieldOverride) -> DeclaredField:
    widget, choices = _kind(name, _without_none(annotation))
    if override.widget is not None:
        widget = override.widget
    return DeclaredField(
        name=name,
        label=override.label or _label(name),
        widget=widget,
        choices=choices,
        blank=override.blank or "Any",
        placeholder=override.placeholder or "",
    )


def _without_none(annotation: object) -> object:
    """`X | None` as `X`: every filter is optional, absent meaning "any"."""
    if get_origin(annotation) in (Union, types.UnionType):
        present = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(present) == 1:
            return present[0]
    return annotation


def _kind(name: str, kind: object) -> tuple[Widget, tuple[tuple[str, str], ...]]:
    if isinstance(kind, type) and issubclass(kind, StrEnum):
        return Widget.SELECT, tuple((m.value, str(getattr(m, "label", m.value))) for m in kind)
    if kind is bool:
        return Widget.SELECT, (("true", "Yes"), ("false", "No"))
    if kind is int:
        return Widget.NUMBER, ()
    if isinstance(kind, type) and issubclass(kind, _DAY_TYPES):
        return Widget.DATE, ()
    if kind is str:
        return (Widget.SEARCH if name == SEARCH_FIELD else Widget.TEXT), ()
    raise TypeError(f"filter field '{name}' has type {kind!r}, which no form field fits")


def _label(name: str) -> str:
    """`organisation_id` -> "Organisation", `object_type` -> "Object type", `q` -> "Search"."""
    if name == SEARCH_FIELD:
        return "Search"
    return name.removesuffix("_id").replace("_", " ").capitalize()


def _bind(declared: DeclaredField, value: str, choices: Choices | None) -> FormField:
    name, label, widget = declared.name, declared.label, declared.widget
    if widget is not Widget.SELECT:
        return FormField(name, label, widget, value, placeholder=declared.placeholder)
    if choices is None and not declared.choices:
        raise ValueError(f"filter field '{name}' takes its choices from a query; none given")
    pairs = declared.choices if choices is None else [(str(v), text) for v, text in choices]
    options = [Option(v, text, _same(v, value)) for v, text in pairs]
    if value and not any(option.selected for option in options):
        # A value no choice offers (an action not yet recorded, say) still filters the list,
        # so the form keeps showing it rather than claiming "any".
        options.append(Option(value, value, selected=True))
    return FormField(name, label, widget, value, tuple(options), blank=declared.blank)


def _same(choice: str, value: str) -> bool:
    """`?member_state=gh` selects Ghana, as the organisation list reads it; the other
    choices (enum values, row ids, audit action names) have one case only."""
    return choice.casefold() == value.casefold()


def _check_known(names: Iterable[str], known: set[str]) -> None:
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(
            f"no such filter field: {', '.join(unknown)}; one of: {', '.join(sorted(known))}"
        )
