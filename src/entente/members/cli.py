"""`entente member | org | user | token`: the members registry from a shell, as the hub operator."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from entente.core.cli import (
    cli_state,
    counted_table,
    every_item,
    operator_actor,
    say_done,
    validated,
)
from entente.members import accounts, service
from entente.members.choices import ItuRegion, OrganisationType, Role
from entente.members.filters import MemberStateFilter, OrganisationFilter, UserFilter
from entente.members.schemas import (
    MemberStatePublic,
    OrganisationCreate,
    OrganisationPublic,
    TokenCreate,
    UserCreate,
    UserPublic,
    UserUpdate,
)

member_app = typer.Typer(help="The 194 ITU member states.", no_args_is_help=True)
org_app = typer.Typer(
    help="Organisations: national and sector CERTs, agencies, partners.", no_args_is_help=True
)
user_app = typer.Typer(help="User accounts and their roles.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (bearer tokens for the REST API).", no_args_is_help=True)

ORG_HELP = "Organisation id, name or short name."
OrgOption = Annotated[str, typer.Option("--org", help=ORG_HELP)]
RegionOption = Annotated[
    ItuRegion | None, typer.Option("--region", case_sensitive=False, help="ITU region.")
]


# ---- entente member --------------------------------------------------------------------


@member_app.command("list")
def member_list(
    ctx: typer.Context,
    region: RegionOption = None,
    q: Annotated[str | None, typer.Option("--q", help="Part of the name, or alpha-2 code.")] = None,
) -> None:
    """List member states with their region and number of organisations."""
    state = cli_state(ctx)
    filters = MemberStateFilter(region=region, q=q)
    with state.session() as session:
        states = list(every_item(lambda page: service.list_member_states(session, filters, page)))
    state.console.print(member_state_table(states))


@member_app.command("show")
def member_show(
    ctx: typer.Context, code: Annotated[str, typer.Argument(help="Alpha-2 or alpha-3 code.")]
) -> None:
    """Show one member state and its organisations."""
    state = cli_state(ctx)
    with state.session() as session:
        member_state = service.get_member_state(session, code)
        public = service.member_state_public(session, member_state)
        filters = OrganisationFilter(member_state=member_state.alpha2)
        orgs = list(every_item(lambda page: service.list_organisations(session, filters, page)))
    codes = f" ({public.alpha2} / {public.alpha3} / {public.numeric}), ITU region "
    state.console.print(Text.assemble((public.name, "bold"), codes, public.region_label))
    state.console.print(organisation_table(orgs))


def member_state_table(states: list[MemberStatePublic]) -> Table:
    table = counted_table(len(states), "member state")
    for column in ("Code", "Alpha-3", "Name", "Region"):
        table.add_column(column)
    table.add_column("Organisations", justify="right")
    for s in states:
        table.add_row(s.alpha2, s.alpha3, s.name, s.region_label, str(s.organisation_count))
    return table


# ---- entente org -----------------------------------------------------------------------


@org_app.command("create")
def org_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Full name, unique across the hub.")],
    type_: Annotated[OrganisationType, typer.Option("--type", case_sensitive=False)],
    country: Annotated[str, typer.Option("--country", help="Alpha-2 code of the member state.")],
    short_name: Annotated[str | None, typer.Option("--short-name")] = None,
) -> None:
    """Register an organisation of a member state."""
    state = cli_state(ctx)
    data = validated(
        OrganisationCreate, name=name, type=type_, member_state=country, short_name=short_name
    )
    with state.session() as session:
        org = service.create_organisation(session, operator_actor(), data)
    say_done(state.console, f"created organisation {org.id}: {org.name}")


@org_app.command("list")
def org_list(
    ctx: typer.Context,
    country: Annotated[str | None, typer.Option("--country", help="Alpha-2 code.")] = None,
    type_: Annotated[OrganisationType | None, typer.Option("--type", case_sensitive=False)] = None,
    region: RegionOption = None,
) -> None:
    """List organisations, optionally of one country, type or region."""
    state = cli_state(ctx)
    with state.session() as session:
        if country is not None:
            country = service.get_member_state(session, country).alpha2
        filters = OrganisationFilter(member_state=country, type=type_, region=region)
        orgs = list(every_item(lambda page: service.list_organisations(session, filters, page)))
    state.console.print(organisation_table(orgs))


def organisation_table(orgs: list[OrganisationPublic]) -> Table:
    table = counted_table(len(orgs), "organisation")
    table.add_column("Id", justify="right")
    for column in ("Name", "Short name", "Type", "Country"):
        table.add_column(column)
    table.add_column("Users", justify="right")
    for org in orgs:
        table.add_row(
            str(org.id),
            org.name,
            org.short_name or "",
            org.type.label,
            org.member_state,
            str(org.user_count),
        )
    return table


# ---- entente user ----------------------------------------------------------------------


@user_app.command("create")
def user_create(  # noqa: PLR0913 -- one parameter per option is how Typer declares a command
    ctx: typer.Context,
    username: Annotated[str, typer.Argument()],
    email: Annotated[str, typer.Option("--email")],
    org: OrgOption,
    role: Annotated[Role, typer.Option("--role", case_sensitive=False)],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            confirmation_prompt=True,
            hide_input=True,
            help="Prompted for (hidden) when left out.",
        ),
    ],
) -> None:
    """Create a user in an organisation."""
    state = cli_state(ctx)
    with state.session() as session:
        organisation = service.find_organisation(session, org)
        data = validated(
            UserCreate,
            username=username,
            email=email,
            password=password,
            role=role,
            organisation_id=organisation.id,
        )
        user = accounts.create_user(session, operator_actor(), None, data)
    say_done(
        state.console,
        f"created user {user.id}: {user.username} ({user.role.label}, {organisation.name})",
    )


@user_app.command("list")
def user_list(
    ctx: typer.Context,
    org: Annotated[str | None, typer.Option("--org", help=ORG_HELP)] = None,
) -> None:
    """List users, optionally of one organisation."""
    state = cli_state(ctx)
    with state.session() as session:
        org_id = service.find_organisation(session, org).id if org is not None else None
        filters = UserFilter(organisation_id=org_id)
        users = list(every_item(lambda page: accounts.list_users(session, None, filters, page)))
    state.console.print(user_table(users))


@user_app.command("set-role")
def user_set_role(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument()],
    role: Annotated[Role, typer.Argument(case_sensitive=False)],
) -> None:
    """Change a user's role."""
    state = cli_state(ctx)
    with state.session() as session:
        user = accounts.get_user_by_username(session, username)
        accounts.update_user(session, operator_actor(), None, user, UserUpdate(role=role))
    say_done(state.console, f"{user.username} is now {user.role.label}")


def user_table(users: list[UserPublic]) -> Table:
    table = counted_table(len(users), "user")
    table.add_column("Id", justify="right")
    # Identifiers never wrap; roles show the value `set-role` takes.
    table.add_column("Username", no_wrap=True)
    table.add_column("Role", no_wrap=True)
    for column in ("Name", "Organisation", "E-mail"):
        table.add_column(column)
    for u in users:
        username = u.username if u.is_active else f"{u.username} (inactive)"
        table.add_row(str(u.id), username, u.role.value, u.full_name, u.organisation_name, u.email)
    return table


# ---- entente token ---------------------------------------------------------------------


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Whose token it is.")],
    name: Annotated[str, typer.Option("--name", help="What the token is for.")],
    days: Annotated[
        int | None, typer.Option("--days", help="Lifetime; default: the hub's.")
    ] = None,
) -> None:
    """Create an API token and print it once; only its hash is stored."""
    state = cli_state(ctx)
    data = validated(TokenCreate, name=name, expires_in_days=days)
    with state.session() as session:
        owner = accounts.get_user_by_username(session, username)
        token, clear = accounts.create_token(session, operator_actor(), owner, data)
    say_done(
        state.console,
        f"token {token.id} '{token.name}' for {owner.username}, "
        f"expires {token.expires_at:%Y-%m-%d}. Store it now, it is shown once:",
    )
    # On a line of its own and never wrapped, so it can be piped or copied whole.
    state.console.print(clear, soft_wrap=True)


@token_app.command("revoke")
def token_revoke(ctx: typer.Context, token_id: Annotated[int, typer.Argument()]) -> None:
    """Revoke an API token by id; it is refused from then on."""
    state = cli_state(ctx)
    with state.session() as session:
        token = accounts.get_token(session, None, token_id)
        accounts.revoke_token(session, operator_actor(), token)
        owner = token.user.username
    say_done(state.console, f"revoked token {token.id} '{token.name}' of {owner}")
