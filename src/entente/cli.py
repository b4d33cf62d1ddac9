"""`entente`: the command line over the same services as the API and the UI.

One error handler (`EntenteGroup.invoke`) turns any `AppError` into a one-line message on
stderr and the error's exit code (2 for bad input, not found or conflict); Typer's own usage
errors already exit 2.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from entente import demo
from entente.alerts.cli import alert_app
from entente.core import migrate
from entente.core.cli import (
    CliState,
    cli_state,
    db_app,
    first_problem,
    operator_actor,
    safe_url,
    say_done,
)
from entente.core.config import Settings
from entente.core.errors import AppError, translate_db_errors
from entente.demo_findings import load_demo_findings
from entente.interop.cli import stix_app
from entente.interop.exports.cli import export_app
from entente.interop.federation.cli import peer_app
from entente.interop.misp_cli import misp_app
from entente.interop.taxii.cli import taxii_app
from entente.members.cli import member_app, org_app, token_app, user_app
from entente.members.constituencies_cli import constituency_app
from entente.pipeline.cli import feed_app, ingest
from entente.pipeline.enrich_cli import enrich_app
from entente.pipeline.worker_cli import worker
from entente.sharing.cli import group_app
from entente.sharing.events_cli import event_app
from entente.sharing.indicators_cli import indicator_app, sighting_app
from entente.sharing.warninglists_cli import warninglist_app

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


class EntenteGroup(TyperGroup):
    """The root command group; every sub-command runs inside its `invoke`, so errors meet here."""

    # `ctx` is typed loosely: its class lives in Typer's private vendored click module.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except AppError as exc:
            report_error(exc)
            raise typer.Exit(exc.exit_code) from exc

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(args))


GLOBAL_OPTIONS = ("--database-url",)


def hoist_global_options(args: list[str]) -> list[str]:
    """Move global options to the front, so `entente demo --database-url URL` works too."""
    hoisted: list[str] = []
    rest: list[str] = []
    position = 0
    while position < len(args):
        arg = args[position]
        if arg == "--":
            rest.extend(args[position:])
            break
        if arg in GLOBAL_OPTIONS and position + 1 < len(args):
            hoisted.extend(args[position : position + 2])
            position += 2
            continue
        (hoisted if arg.split("=", 1)[0] in GLOBAL_OPTIONS else rest).append(arg)
        position += 1
    return hoisted + rest


def report_error(exc: AppError) -> None:
    """One line on stderr: `error: <message> (field: <field>)`."""
    line = Text.assemble(("error:", "bold red"), " ", exc.message)
    if exc.field:
        line.append(f" (field: {exc.field})", style="dim")
    Console(stderr=True).print(line, soft_wrap=True)


app = typer.Typer(
    name="entente",
    cls=EntenteGroup,
    help="Entente: the cooperation hub of a partnership of national CERTs.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(db_app, name="db")
app.add_typer(member_app, name="member")
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(constituency_app, name="constituency")
app.add_typer(group_app, name="group")
app.add_typer(event_app, name="event")
app.add_typer(indicator_app, name="indicator")
app.add_typer(sighting_app, name="sighting")
app.add_typer(warninglist_app, name="warninglist")
app.add_typer(feed_app, name="feed")
app.add_typer(alert_app, name="alert")
app.add_typer(enrich_app, name="enrich")
app.add_typer(stix_app, name="stix")
app.add_typer(misp_app, name="misp")
app.add_typer(taxii_app, name="taxii")
app.add_typer(export_app, name="export")
app.add_typer(peer_app, name="peer")
app.command("ingest")(ingest)
app.command("worker")(worker)

HostOption = Annotated[str, typer.Option("--host", help="Address to listen on.")]
PortOption = Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")]


@app.callback()
def root(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            metavar="URL",
            help="Database to use; overrides ENTENTE_DATABASE_URL (default sqlite:///./var/entente.db).",
        ),
    ] = None,
) -> None:
    """Settings come from ENTENTE_* variables and ./entente.toml; options here override them."""
    try:
        settings = Settings(database_url=database_url) if database_url else Settings()
    except ValidationError as exc:
        raise first_problem(exc) from exc
    state = CliState(settings=settings)
    ctx.obj = state
    ctx.call_on_close(state.close)


@app.command()
def serve(
    ctx: typer.Context, host: HostOption = DEFAULT_HOST, port: PortOption = DEFAULT_PORT
) -> None:
    """Serve the web UI and the REST API with uvicorn."""
    run_server(cli_state(ctx).settings, host, port)


@app.command("demo")
def demo_command(
    ctx: typer.Context,
    host: HostOption = DEFAULT_HOST,
    port: PortOption = DEFAULT_PORT,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve once loaded.")] = True,
) -> None:
    """Migrate the database, load the demo partnership (idempotent), print the logins, serve."""
    state = cli_state(ctx)
    with translate_db_errors():
        migrate.upgrade(state.engine())
    data = demo.read_demo_data()
    with (
        state.session() as session,
        Progress(
            TextColumn("{task.description:<40}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=state.console,
            transient=True,
            # A bar helps a person watching; piped output gets the summary alone.
            disable=not state.console.is_terminal,
        ) as progress,
    ):
        task = progress.add_task("Loading demo data", total=demo.step_count(data))
        summary = demo.load_demo(
            session,
            operator_actor(),
            data,
            lambda label: progress.update(task, advance=1, description=label),
        )
    with state.session() as session, state.console.status("Ingesting the sample feed reports"):
        summary.count("findings", load_demo_findings(session, state.settings, operator_actor()))
    print_demo_summary(state, summary, f"http://{host}:{port}/")
    if serve:
        run_server(state.settings, host, port)


def print_demo_summary(state: CliState, summary: demo.DemoSummary, url: str) -> None:
    console = state.console
    where = safe_url(state.settings.database_url)
    if summary.created:
        added = ", ".join(f"{count} {what}" for what, count in summary.created.items())
        say_done(console, f"loaded the demo into {where}: {added}")
    else:
        say_done(console, f"the demo was already loaded into {where}; nothing added")
    logins = Table(title="Demo logins", title_justify="left")
    for column in ("Username", "Role", "Organisation"):
        logins.add_column(column)
    for login in summary.logins:
        logins.add_row(login.username, login.role.label, login.organisation)
    console.print(logins)
    console.print(Text.assemble("Password for every demo login: ", (demo.DEMO_PASSWORD, "bold")))
    for token in summary.new_tokens:
        console.print(f"API token '{token.name}' of {token.username} (shown once): ", end="")
        console.print(token.clear, soft_wrap=True)
    console.print("All organisations, people and tokens in the demo are fictional.")
    console.print(Text.assemble("Open ", (url, "bold")))


def run_server(settings: Settings, host: str, port: int) -> None:
    """Run uvicorn in this process on the app built from `settings`."""
    # Imported here: the other commands start faster without the whole web stack loaded.
    import uvicorn

    from entente.web.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level.lower())


def main() -> None:
    """Entry point of the `entente` script."""
    app()
