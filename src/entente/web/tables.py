"""List pages declare their columns; one template macro (`partials/table.html`) draws them all.

A column maps a row to a `Cell`: text, optionally a link, a badge colour, or a small POST
action (a button in a CSRF-protected form). Labels and colours come from the row's enums.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")


class Align(StrEnum):
    LEFT = "left"
    RIGHT = "right"


class Style(StrEnum):
    PLAIN = "plain"
    CODE = "code"
    MUTED = "muted"
    TIME = "time"


@dataclass(frozen=True, slots=True)
class Action:
    """A button that POSTs to `url` (with the CSRF token), after the browser asks `confirm`."""

    label: str
    url: str
    confirm: str


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    href: str | None = None
    badge: str | None = None
    style: Style = Style.PLAIN
    action: Action | None = None


# Not slotted: `Table[Row](...)` sets `__orig_class__`, which a slotted generic refuses.
@dataclass(frozen=True)
class Column(Generic[T]):
    header: str
    cell: Callable[[T], Cell]
    align: Align = Align.LEFT


@dataclass(frozen=True)
class Table(Generic[T]):
    columns: Sequence[Column[T]]
    empty: str

    def rows(self, items: Sequence[T]) -> list[list[Cell]]:
        return [[column.cell(item) for column in self.columns] for item in items]


def text(value: object) -> Cell:
    return Cell("" if value is None else str(value))


def muted(value: object) -> Cell:
    return Cell("" if value is None else str(value), style=Style.MUTED)


def when(value: datetime | None, never: str = "never") -> Cell:
    """A timestamp to the minute (UTC), kept on one line."""
    return Cell(never if value is None else value.strftime("%Y-%m-%d %H:%M"), style=Style.TIME)


def code(value: object) -> Cell:
    return Cell(str(value), style=Style.CODE)
