"""What the `entente event | indicator | sighting | warninglist` commands share: their options.

These commands act as the user named by `--as` (`acting_principal`): the API's service
functions run with that user's role and organisation, so the access predicate applies and an
object the user may not see is "not found", exactly as one that does not exist. (`entente
group` instead runs as the hub operator, with no role checks.)

Option values are parsed here rather than by Typer's types so that a bad one is the one-line
`error: ... (field: --option)`, exit code 2, that every other bad input gets, and a service's
field names are reported as the options the user typed (`options_named`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic_core import to_json
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from entente.core.cli import counted_table
from entente.core.errors import AppError, BadValue, PermissionDenied
from entente.core.pagination import MAX_LIMIT, Page, PageRequest
from entente.members import accounts
from entente.members.accounts import Principal
from entente.members.service import find_organisation, get_member_state
from entente.sharing.filters import EventFilter
from entente.sharing.indicators import IndicatorType
from entente.vocabulary.markings import TLP

T = TypeVar("T")
ChoiceT = TypeVar("ChoiceT", bound=StrEnum)

# ---- parsing options into one-line errors --------------------------------------------------


def option_parser(option: str, convert: Callable[[str], T], expected: str) -> Callable[[str], T]:
    """A Typer `parser` whose bad value is a `BadValue` naming `option`, not a usage box."""

    def parse(text: str) -> T:
        try:
            return convert(text)
        except ValueError:
            raise BadValue(f"{text!r} is not {expected}", field=option, value=text) from None

    return parse


def choice_parser(option: str, choices: type[ChoiceT]) -> Callable[[str], ChoiceT]:
    names = ", ".join(choice.value for choice in choices)
    # `TLP:AMBER` as printed in the tables reads back too.
    return option_parser(
        option,
        lambda text: choices(str(text).strip().lower().removeprefix("tlp:")),
        f"one of {names}",
    )


def choices_metavar(choices: type[StrEnum]) -> str:
    return "[" + "|".join(choice.value for choice in choices) + "]"


def positive_int(text: str) -> int:
    number = int(text)
    if number < 1:
        raise ValueError(text)
    return number


def aware_datetime(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(text)
    return moment


# Typer declares `Option` and `Argument` as returning Any.
def date_option(option: str, description: str) -> Any:
    parse = option_parser(option, date.fromisoformat, "a date (YYYY-MM-DD)")
    return typer.Option(option, parser=parse, metavar="YYYY-MM-DD", help=description)


def choice_option(option: str, choices: type[StrEnum], description: str) -> Any:
    parse = choice_parser(option, choices)
    return typer.Option(option, parser=parse, metavar=choices_metavar(choices), help=description)


def indicator_type_option(description: str) -> Any:
    # 21 types would swamp the help line; a bad one is answered with the whole list.
    parse = choice_parser("--type", IndicatorType)
    return typer.Option("--type", parser=parse, metavar="TYPE", help=description)


def id_argument(name: str) -> Any:
    parse = option_parser(name, positive_int, "an id (a whole number from 1)")
    return typer.Argument(parser=parse, metavar=name, show_default=False)


@contextmanager
def options_named(options: Mapping[str, str]) -> Iterator[None]:
    """Report a service's field (`event_date`, `tags.0`) as the option the user typed (`--date`)."""
    try:
        yield
    except AppError as exc:
        name = (exc.field or "").split(".")[0].split("[")[0]
        if name in options:
            exc.field = options[name]
        raise


def read_text(path: Path, option: str) -> str:
    """A file's whole text, or standard input's for `-`."""
    try:
        if str(path) == "-":
            return sys.stdin.read()
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise BadValue(
            f"cannot read {str(path)!r}: {reason}", field=option, value=str(path)
        ) from exc


# ---- the acting user, output ----------------------------------------------------------------


def acting_principal(session: Session, username: str) -> Principal:
    """The user named by `--as` with the viewer the access predicate sees, as at a login."""
    with options_named({"username": "--as"}):
        user = accounts.get_user_by_username(session, username)
    if not user.is_active or not user.organisation.is_active:
        whose = "user" if not user.is_active else "organisation of the user"
        raise PermissionDenied(f"the {whose} '{username}' is deactivated", field="--as")
    return Principal(user=user, viewer=accounts.load_viewer(session, user), via="cli")


def first_items(fetch: Callable[[PageRequest], Page[T]], limit: int) -> tuple[list[T], int]:
    """Up to `limit` items of a paginated service list, and how many match in all."""
    page = fetch(PageRequest(limit=min(limit, MAX_LIMIT)))
    items = list(page.items)
    while page.next_cursor is not None and len(items) < limit:
        request = PageRequest(cursor=page.next_cursor, limit=min(limit - len(items), MAX_LIMIT))
        page = fetch(request)
        items.extend(page.items)
    return items, page.count


def print_json(console: Console, payload: object) -> None:
    """The API's shapes, never wrapped or styled, for `jq` and scripts."""
    console.out(to_json(payload, indent=2).decode(), highlight=False)


def listed_table(shown: int, total: int, noun: str) -> Table:
    table = counted_table(total, noun)
    if shown < total:
        table.caption = f"{table.caption}, the newest {shown} shown (--limit for more)"
    return table


AsOption = Annotated[
    str,
    typer.Option("--as", metavar="USERNAME", help="Act as this user: their role and access apply."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
LimitOption = Annotated[
    int,
    typer.Option(
        "--limit",
        parser=option_parser("--limit", positive_int, "a whole number from 1"),
        metavar="N",
        help="Show at most N, newest first.",
    ),
]
EventId = Annotated[int, id_argument("EVENT_ID")]
OrganisationFilterOption = Annotated[
    str | None,
    typer.Option("--organisation", help="Owner organisation id, name or short name."),
]
MemberStateOption = Annotated[
    str | None, typer.Option("--member-state", help="Alpha-2 code of the owner's member state.")
]
TagFilterOption = Annotated[str | None, typer.Option("--tag", help="Events with this tag.")]
TlpFilterOption = Annotated[TLP | None, choice_option("--tlp", TLP, "Only this TLP.")]
SinceOption = Annotated[date | None, date_option("--since", "Event date on or after.")]
UntilOption = Annotated[date | None, date_option("--until", "Event date on or before.")]
FILTER_OPTIONS = {
    "organisation": "--organisation",
    "member_state": "--member-state",
    "cidr": "--cidr",
}


def organisation_id(session: Session, reference: str | None) -> int | None:
    return find_organisation(session, reference).id if reference else None


def member_state_code(session: Session, code: str | None) -> str | None:
    return get_member_state(session, code).alpha2 if code else None


def event_filter(
    session: Session, *, organisation: str | None, member_state: str | None, **values: Any
) -> EventFilter:
    """The filter the event options give, with `--organisation` and `--member-state` resolved
    (call inside `options_named(FILTER_OPTIONS)` so a bad one is named as typed)."""
    return EventFilter(
        organisation_id=organisation_id(session, organisation),
        member_state=member_state_code(session, member_state),
        **values,
    )


def event_or_filters(event_id: int | None, filter_values: Iterable[object]) -> None:
    """Refuse `--event` beside event filters: the user meant one or the other."""
    if event_id is not None and any(value is not None for value in filter_values):
        raise BadValue("give --event or filters, not both", field="--event")
