"""UI pages of the members capability: member states, organisations, users, API tokens.

Thin: each handler calls the same service function as the REST API (`members/api.py`),
with an actor whose door is "ui". Forms that fail come back with the entered values and
the error next to the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from entente.core.errors import AppError
from entente.core.pagination import LARGEST_PAGE
from entente.members import accounts, constituencies, service, tables
from entente.members.api import OrganisationDep, TokenDep, UserDep
from entente.members.choices import ItuRegion, OrganisationType, Role
from entente.members.filters import MemberStateFilter, OrganisationFilter, UserFilter
from entente.members.models import Organisation, User
from entente.members.schemas import (
    MemberStatePublic,
    OrganisationCreate,
    OrganisationPublic,
    OrganisationUpdate,
    TokenCreate,
    UserCreate,
    UserUpdate,
)
from entente.web.deps import (
    AdminDep,
    ManagerDep,
    PageDep,
    PrincipalDep,
    SessionDep,
    SettingsDep,
)
from entente.web.filter_forms import FieldOverride, FilterForm, Widget, declare
from entente.web.forms import FormDep, choice, field_errors, optional_int, parse_form
from entente.web.templating import LOGIN_REQUIRED, flash, redirect, render

router = APIRouter(include_in_schema=False, dependencies=LOGIN_REQUIRED)


# ---- filters: blank select or search box means "any" -----------------------------------


def member_state_filter(region: str = "", q: str = "") -> MemberStateFilter:
    return MemberStateFilter(region=choice(ItuRegion, region, "region"), q=q.strip() or None)


def organisation_filter(
    member_state: str = "", type: str = "", region: str = "", q: str = ""
) -> OrganisationFilter:
    return OrganisationFilter(
        member_state=member_state.strip() or None,
        type=choice(OrganisationType, type, "type"),
        region=choice(ItuRegion, region, "region"),
        q=q.strip() or None,
    )


def user_filter(organisation_id: str = "", role: str = "", q: str = "") -> UserFilter:
    return UserFilter(
        organisation_id=optional_int(organisation_id, "organisation_id"),
        role=choice(Role, role, "role"),
        q=q.strip() or None,
    )


MemberStateFilterDep = Annotated[MemberStateFilter, Depends(member_state_filter)]
OrganisationFilterDep = Annotated[OrganisationFilter, Depends(organisation_filter)]
UserFilterDep = Annotated[UserFilter, Depends(user_filter)]

_REGION = FieldOverride(label="ITU region", blank="All regions")

MEMBER_STATE_FILTERS = declare(
    MemberStateFilter,
    "/member-states",
    {"region": _REGION, "q": FieldOverride(placeholder="Name or alpha-2 code")},
)
ORGANISATION_FILTERS = declare(
    OrganisationFilter,
    "/organisations",
    {
        "member_state": FieldOverride(blank="All member states", widget=Widget.SELECT),
        "type": FieldOverride(blank="All types"),
        "region": _REGION,
        "q": FieldOverride(placeholder="Name or short name"),
    },
)
USER_FILTERS = declare(
    UserFilter,
    "/users",
    {
        "organisation_id": FieldOverride(blank="All organisations", widget=Widget.SELECT),
        "role": FieldOverride(blank="All roles"),
        "q": FieldOverride(placeholder="Username, name or e-mail"),
    },
)
# Everyone else only ever sees the people of their own organisation.
USER_FILTERS_OF_NON_ADMINS = USER_FILTERS.without("organisation_id")


# ---- member states ---------------------------------------------------------------------


@router.get("/member-states", response_class=HTMLResponse)
def member_states(
    request: Request, session: SessionDep, filters: MemberStateFilterDep, page: PageDep
) -> Response:
    result = service.list_member_states(session, filters, page)
    return render(
        request,
        "members/member_states.html",
        {
            "page": result,
            "rows": tables.MEMBER_STATES.rows(result.items),
            "table": tables.MEMBER_STATES,
            "filter_form": MEMBER_STATE_FILTERS.form(request.query_params),
        },
    )


@router.get("/member-states/{code}", response_class=HTMLResponse)
def member_state_page(code: str, request: Request, session: SessionDep, page: PageDep) -> Response:
    state = service.member_state_public(session, service.get_member_state(session, code))
    organisations = service.list_organisations(
        session, OrganisationFilter(member_state=state.alpha2), page
    )
    return render(
        request,
        "members/member_state.html",
        {
            "state": state,
            "page": organisations,
            "table": tables.ORGANISATIONS,
            "rows": tables.ORGANISATIONS.rows(organisations.items),
        },
    )


# ---- organisations ---------------------------------------------------------------------


@router.get("/organisations", response_class=HTMLResponse)
def organisations(
    request: Request, session: SessionDep, filters: OrganisationFilterDep, page: PageDep
) -> Response:
    result = service.list_organisations(session, filters, page)
    return render(
        request,
        "members/organisations.html",
        {
            "page": result,
            "rows": tables.ORGANISATIONS.rows(result.items),
            "table": tables.ORGANISATIONS,
            "filter_form": ORGANISATION_FILTERS.form(
                request.query_params,
                {"member_state": [(s.alpha2, s.name) for s in _all_member_states(session)]},
            ),
        },
    )


@router.get("/organisations/new", response_class=HTMLResponse)
def new_organisation(
    request: Request, session: SessionDep, _admin: AdminDep, member_state: str = ""
) -> Response:
    defaults = {"type": OrganisationType.NATIONAL_CERT.value, "member_state": member_state}
    return _organisation_form(request, session, None, defaults)


@router.post("/organisations/new", response_class=HTMLResponse)
def create_organisation(
    request: Request, session: SessionDep, admin: AdminDep, form: FormDep
) -> Response:
    try:
        data = parse_form(OrganisationCreate, form)
        created = service.create_organisation(session, admin.actor(), data)
    except AppError as exc:
        session.rollback()
        return _organisation_form(request, session, None, form, exc)
    flash(request, f"Organisation '{created.name}' created.")
    return redirect(f"/organisations/{created.id}")


@router.get("/organisations/{organisation_id}", response_class=HTMLResponse)
def organisation_page(
    organisation: OrganisationDep,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
) -> Response:
    users = accounts.list_users(
        session, principal.user, UserFilter(organisation_id=organisation.id), page
    )
    return render(
        request,
        "members/organisation.html",
        {
            "organisation": organisation,
            "page": users,
            "table": tables.USERS,
            "rows": tables.USERS.rows(users.items),
            "may_edit": _may_edit(principal.user, organisation),
            "constituency_counts": constituencies.counts_by_kind(session, organisation.id),
        },
    )


@router.get("/organisations/{organisation_id}/edit", response_class=HTMLResponse)
def edit_organisation(
    organisation: OrganisationDep, request: Request, session: SessionDep, manager: ManagerDep
) -> Response:
    service.check_may_edit_organisation(manager.user, organisation)
    return _organisation_form(request, session, organisation, _organisation_values(organisation))


@router.post("/organisations/{organisation_id}/edit", response_class=HTMLResponse)
def update_organisation(
    organisation: OrganisationDep,
    request: Request,
    session: SessionDep,
    manager: ManagerDep,
    form: FormDep,
) -> Response:
    service.check_may_edit_organisation(manager.user, organisation)
    try:
        data = parse_form(OrganisationUpdate, form, **_cleared(form))
        service.update_organisation(session, manager.actor(), organisation, data)
    except AppError as exc:
        session.rollback()
        return _organisation_form(request, session, organisation, form, exc)
    flash(request, f"Organisation '{organisation.name}' saved.")
    return redirect(f"/organisations/{organisation.id}")


def _organisation_form(
    request: Request,
    session: Session,
    organisation: Organisation | None,
    values: Mapping[str, str],
    error: AppError | None = None,
) -> Response:
    return render(
        request,
        "members/organisation_form.html",
        {
            "organisation": organisation,
            "values": values,
            "errors": field_errors(error) if error else {},
            "types": list(OrganisationType),
            "member_states": _all_member_states(session),
        },
        status_code=error.http_status if error else 200,
    )


# Optional fields an edit form may empty; blank elsewhere means "not given".
CLEARABLE_ORGANISATION_FIELDS = ("short_name", "website", "description")


def _cleared(form: Mapping[str, str]) -> dict[str, None]:
    return {field: None for field in CLEARABLE_ORGANISATION_FIELDS if form.get(field) == ""}


def _organisation_values(organisation: Organisation) -> dict[str, str]:
    return {
        "name": organisation.name,
        "short_name": organisation.short_name or "",
        "type": organisation.type.value,
        "website": organisation.website or "",
        "description": organisation.description or "",
    }


def _may_edit(user: User, organisation: Organisation) -> bool:
    try:
        service.check_may_edit_organisation(user, organisation)
    except AppError:
        return False
    return True


def _all_member_states(session: Session) -> list[MemberStatePublic]:
    return service.list_member_states(session, MemberStateFilter(), LARGEST_PAGE).items


# ---- users -----------------------------------------------------------------------------


@router.get("/users", response_class=HTMLResponse)
def users(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    filters: UserFilterDep,
    page: PageDep,
) -> Response:
    result = accounts.list_users(session, principal.user, filters, page)
    return render(
        request,
        "members/users.html",
        {
            "page": result,
            "rows": tables.USERS.rows(result.items),
            "table": tables.USERS,
            "filter_form": _user_filter_form(request, session, principal.user),
        },
    )


def _user_filter_form(request: Request, session: Session, viewer: User) -> FilterForm:
    if viewer.role is not Role.ADMIN:
        return USER_FILTERS_OF_NON_ADMINS.form(request.query_params)
    organisations = _organisations_for(session, viewer)
    return USER_FILTERS.form(
        request.query_params, {"organisation_id": [(o.id, o.name) for o in organisations]}
    )


@router.get("/users/new", response_class=HTMLResponse)
def new_user(
    request: Request, session: SessionDep, manager: ManagerDep, organisation_id: str = ""
) -> Response:
    organisation = organisation_id or str(manager.user.organisation_id)
    defaults = {"role": Role.ANALYST.value, "organisation_id": organisation}
    return _user_form(request, session, manager.user, defaults)


@router.post("/users/new", response_class=HTMLResponse)
def create_user(
    request: Request, session: SessionDep, manager: ManagerDep, form: FormDep
) -> Response:
    try:
        data = parse_form(UserCreate, form)
        created = accounts.create_user(session, manager.actor(), manager.user, data)
    except AppError as exc:
        session.rollback()
        return _user_form(request, session, manager.user, form, exc)
    flash(request, f"User '{created.username}' created.")
    return redirect(f"/users/{created.id}")


@router.get("/users/{user_id}", response_class=HTMLResponse)
def user_page(user: UserDep, request: Request, principal: PrincipalDep) -> Response:
    return _user_page(request, principal.user, user)


@router.post("/users/{user_id}/role", response_class=HTMLResponse)
def change_role(
    user: UserDep, request: Request, session: SessionDep, manager: ManagerDep, form: FormDep
) -> Response:
    try:
        data = parse_form(UserUpdate, {"role": form.get("role", "")})
        accounts.update_user(session, manager.actor(), manager.user, user, data)
    except AppError as exc:
        session.rollback()
        return _user_page(request, manager.user, user, exc)
    flash(request, f"{user.username} is now {user.role.label}.")
    return redirect(f"/users/{user.id}")


def _user_page(
    request: Request, viewer: User, user: User, error: AppError | None = None
) -> Response:
    return render(
        request,
        "members/user.html",
        {
            "user": user,
            "roles": _grantable_roles(viewer),
            "may_change_role": viewer.role in (Role.ADMIN, Role.ORG_ADMIN) and viewer.id != user.id,
            "errors": field_errors(error) if error else {},
        },
        status_code=error.http_status if error else 200,
    )


def _user_form(
    request: Request,
    session: Session,
    by: User,
    values: Mapping[str, str],
    error: AppError | None = None,
) -> Response:
    return render(
        request,
        "members/user_form.html",
        {
            "values": values,
            "errors": field_errors(error) if error else {},
            "roles": _grantable_roles(by),
            "organisations": _organisations_for(session, by),
        },
        status_code=error.http_status if error else 200,
    )


def _grantable_roles(by: User) -> list[Role]:
    if by.role is Role.ADMIN:
        return list(Role)
    return [role for role in Role if role in accounts.ORG_ADMIN_GRANTABLE]


def _organisations_for(session: Session, by: User) -> list[OrganisationPublic]:
    """Admins pick any organisation; everyone else only ever acts within their own."""
    if by.role is Role.ADMIN:
        return service.list_organisations(session, OrganisationFilter(), LARGEST_PAGE).items
    return [service.organisation_public(by.organisation)]


# ---- API tokens ------------------------------------------------------------------------


@router.get("/tokens", response_class=HTMLResponse)
def tokens(
    request: Request, session: SessionDep, principal: PrincipalDep, page: PageDep
) -> Response:
    result = accounts.list_tokens(session, principal.user, page)
    return render(
        request,
        "members/tokens.html",
        {
            "page": result,
            "rows": tables.TOKENS.rows(result.items),
            "table": tables.TOKENS,
        },
    )


@router.get("/tokens/new", response_class=HTMLResponse)
def new_token(request: Request, _principal: PrincipalDep, settings: SettingsDep) -> Response:
    values = {"expires_in_days": str(settings.token_default_days)}
    return render(request, "members/token_form.html", {"values": values, "errors": {}})


@router.post("/tokens/new", response_class=HTMLResponse)
def create_token(
    request: Request, session: SessionDep, principal: PrincipalDep, form: FormDep
) -> Response:
    try:
        data = parse_form(TokenCreate, form)
        token, clear = accounts.create_token(session, principal.actor(), principal.user, data)
    except AppError as exc:
        session.rollback()
        return render(
            request,
            "members/token_form.html",
            {"values": form, "errors": field_errors(exc)},
            status_code=exc.http_status,
        )
    return render(
        request,
        "members/token_created.html",
        {"token": accounts.token_public(token), "clear": clear},
        status_code=201,
    )


@router.post("/tokens/{token_id}/revoke")
def revoke_token(
    token: TokenDep, request: Request, session: SessionDep, principal: PrincipalDep
) -> Response:
    accounts.revoke_token(session, principal.actor(), token)
    flash(request, f"Token '{token.name}' revoked.")
    return redirect("/tokens")
