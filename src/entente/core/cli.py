"""What every CLI sub-app shares (the run's state, the operator, input checks) and `entente db`.

The CLI acts as the operator of the hub: it has shell access to the server, so it calls the
services with `by=None` (no acting user to check) and an `Actor` naming the OS user, which
is what the audit log then shows.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

import typer
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from entente.core import migrate
from entente.core.audit import Actor
from entente.core.config import Settings
from entente.core.db import create_db_engine, make_session_factory
from entente.core.errors import BadValue, translate_db_errors
from entente.core.pagination import MAX_LIMIT, Page, PageRequest

T = TypeVar("T")
ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass
class CliState:
    """The one object a CLI run carries in Typer's context: settings, and a lazily made engine."""

    settings: Settings
    console: Console = field(default_factory=lambda: plain_console())
    _engine: Engine | None = None

    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_db_engine(self.settings)
        return self._engine

    def session_factory(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine(), self.settings)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose driver errors (database down, constraint hit) become ours."""
        with translate_db_errors(), self.session_factory()() as session:
            yield session

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def plain_console() -> Console:
    """Standard output with rich markup off: names from the database may contain `[/]`."""
    return Console(markup=False, highlight=False)


def say_done(console: Console, message: str) -> None:
    console.print(Text.assemble(("✓", "green"), " ", message))


def cli_state(ctx: typer.Context) -> CliState:
    """The run's state, put there by the root callback in `entente.cli`."""
    state = ctx.find_root().obj
    assert isinstance(state, CliState), "the root callback sets the CLI state"
    return state


def operator_actor() -> Actor:
    """The audit identity of whoever runs the CLI: `cli:<os user>`."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        # A container may run under a uid without a passwd entry or $USER.
        user = "unknown"
    return Actor(label=f"cli:{user}"[:100], via="cli")


def validated(model: type[ModelT], **values: Any) -> ModelT:
    """Build a pydantic input model, reporting the first problem as `BadValue` naming the field."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise first_problem(exc) from exc


def first_problem(exc: ValidationError) -> BadValue:
    """The first problem pydantic found, as the `BadValue` the error handler reports."""
    first = exc.errors()[0]
    name = ".".join(str(part) for part in first["loc"]) or None
    # The value is not echoed: it may be a password.
    return BadValue(first["msg"], field=name, value=first.get("input"))


def every_item(fetch: Callable[[PageRequest], Page[T]]) -> Iterator[T]:
    """All items of a paginated service list, page after page, so no list stops at a limit."""
    request = PageRequest(limit=MAX_LIMIT)
    while True:
        page = fetch(request)
        yield from page.items
        if page.next_cursor is None:
            return
        request = PageRequest(cursor=page.next_cursor, limit=MAX_LIMIT)


@contextmanager
def text_output(output: Path, option: str = "--output") -> Iterator[TextIO]:
    """Where a command writes: standard output for `-`, else a file that appears whole or not
    at all (written beside it as `.part` and renamed when done, removed on any failure)."""
    if str(output) == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    partial = output.with_name(output.name + ".part")
    try:
        with partial.open("w", encoding="utf-8") as sink:
            yield sink
        partial.replace(output)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BadValue(f"cannot write {str(output)!r}: {exc.strerror}", field=option) from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def counted_table(count: int, noun: str) -> Table:
    """A table captioned with how many rows it has: `1 organisation`, `36 organisations`."""
    return Table(caption=f"{count} {noun}{'' if count == 1 else 's'}", caption_justify="left")


def safe_url(url: str) -> str:
    """The database URL with any password masked, fit to print."""
    return make_url(url).render_as_string(hide_password=True)


# ---- entente db ------------------------------------------------------------------------

db_app = typer.Typer(help="Database schema: apply and inspect migrations.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply every pending migration (safe to run again)."""
    state = cli_state(ctx)
    with translate_db_errors():
        migrate.upgrade(state.engine())
        revision = current_revision(state.engine())
    where = safe_url(state.settings.database_url)
    say_done(state.console, f"{where} is at revision {revision}")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Show the database's revision and whether migrations are pending."""
    state = cli_state(ctx)
    with translate_db_errors():
        revision = current_revision(state.engine())
    head = head_revision()
    status = ("up to date", "green") if revision == head else (f"behind (head is {head})", "yellow")
    where = safe_url(state.settings.database_url)
    state.console.print(Text.assemble(f"{where}: revision {revision}, ", status))


def current_revision(engine: Engine) -> str:
    """The revision the database is at, or `none` for an empty database."""
    with engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
    return revision or "none"


def head_revision() -> str:
    script = ScriptDirectory(str(migrate.MIGRATIONS))
    return script.get_current_head() or "none"
