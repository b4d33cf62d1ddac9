"""REST routes of the members capability. Thin: each handler calls one service function."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, status

from entente.members import accounts, service
from entente.members.filters import MemberStateFilter, OrganisationFilter, UserFilter
from entente.members.models import ApiToken, Organisation, User
from entente.members.schemas import (
    ListOf,
    Me,
    MemberStatePublic,
    OrganisationCreate,
    OrganisationPublic,
    OrganisationUpdate,
    RowId,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    UserCreate,
    UserPublic,
    UserUpdate,
    list_of,
)
from entente.web.deps import (
    AdminDep,
    ManagerDep,
    PageDep,
    PrincipalDep,
    SessionDep,
)
from entente.web.errors import ERROR_RESPONSES

router = APIRouter(responses=ERROR_RESPONSES)


# ---- declared loaders: "load this row or 404, and check the caller may act on it" -------


def organisation_dep(organisation_id: RowId, session: SessionDep, _p: PrincipalDep) -> Organisation:
    return service.get_organisation(session, organisation_id)


def user_dep(user_id: RowId, session: SessionDep, principal: PrincipalDep) -> User:
    return accounts.get_user(session, principal.user, user_id)


def token_dep(token_id: RowId, session: SessionDep, principal: PrincipalDep) -> ApiToken:
    return accounts.get_token(session, principal.user, token_id)


OrganisationDep = Annotated[Organisation, Depends(organisation_dep)]
UserDep = Annotated[User, Depends(user_dep)]
TokenDep = Annotated[ApiToken, Depends(token_dep)]


# ---- member states ---------------------------------------------------------------------


@router.get("/member-states", response_model=ListOf[MemberStatePublic], tags=["member states"])
def list_member_states(
    session: SessionDep, filters: Annotated[MemberStateFilter, Depends()], page: PageDep
) -> ListOf[MemberStatePublic]:
    """The 194 ITU member states, by name, with their ITU region and organisation count.

    Public reference data: no token needed.
    """
    return list_of(service.list_member_states(session, filters, page))


@router.get("/member-states/{code}", response_model=MemberStatePublic, tags=["member states"])
def get_member_state(
    code: Annotated[str, Path(pattern=r"^[A-Za-z]{2,3}$", description="alpha-2 or alpha-3")],
    session: SessionDep,
) -> MemberStatePublic:
    """One member state by ISO 3166-1 alpha-2 or alpha-3 code."""
    return service.member_state_public(session, service.get_member_state(session, code))


# ---- organisations ---------------------------------------------------------------------


@router.get("/organisations", response_model=ListOf[OrganisationPublic], tags=["organisations"])
def list_organisations(
    session: SessionDep,
    _p: PrincipalDep,
    filters: Annotated[OrganisationFilter, Depends()],
    page: PageDep,
) -> ListOf[OrganisationPublic]:
    return list_of(service.list_organisations(session, filters, page))


@router.post(
    "/organisations",
    response_model=OrganisationPublic,
    status_code=status.HTTP_201_CREATED,
    tags=["organisations"],
)
def create_organisation(
    data: OrganisationCreate, session: SessionDep, admin: AdminDep
) -> OrganisationPublic:
    """Register an organisation of a member state. Platform admins only."""
    organisation = service.create_organisation(session, admin.actor(), data)
    return service.organisation_public(organisation, 0)


@router.get(
    "/organisations/{organisation_id}", response_model=OrganisationPublic, tags=["organisations"]
)
def get_organisation(organisation: OrganisationDep) -> OrganisationPublic:
    return service.organisation_public(organisation)


@router.patch(
    "/organisations/{organisation_id}", response_model=OrganisationPublic, tags=["organisations"]
)
def update_organisation(
    organisation: OrganisationDep,
    data: OrganisationUpdate,
    session: SessionDep,
    manager: ManagerDep,
) -> OrganisationPublic:
    """Platform admins edit any organisation; organisation admins edit their own."""
    service.check_may_edit_organisation(manager.user, organisation)
    updated = service.update_organisation(session, manager.actor(), organisation, data)
    return service.organisation_public(updated)


# ---- users -----------------------------------------------------------------------------


@router.get("/me", response_model=Me, tags=["users"])
def me(principal: PrincipalDep) -> Me:
    """Who the token or session belongs to, and the sharing groups its organisation is in."""
    return Me(
        user=accounts.user_public(principal.user),
        sharing_group_ids=sorted(principal.viewer.sharing_group_ids),
    )


@router.get("/users", response_model=ListOf[UserPublic], tags=["users"])
def list_users(
    session: SessionDep,
    principal: PrincipalDep,
    filters: Annotated[UserFilter, Depends()],
    page: PageDep,
) -> ListOf[UserPublic]:
    """Platform admins see all users; others see the users of their own organisation."""
    return list_of(accounts.list_users(session, principal.user, filters, page))


@router.post(
    "/users", response_model=UserPublic, status_code=status.HTTP_201_CREATED, tags=["users"]
)
def create_user(data: UserCreate, session: SessionDep, manager: ManagerDep) -> UserPublic:
    user = accounts.create_user(session, manager.actor(), manager.user, data)
    return accounts.user_public(user)


@router.get("/users/{user_id}", response_model=UserPublic, tags=["users"])
def get_user(user: UserDep) -> UserPublic:
    return accounts.user_public(user)


@router.patch("/users/{user_id}", response_model=UserPublic, tags=["users"])
def update_user(
    user: UserDep, data: UserUpdate, session: SessionDep, manager: ManagerDep
) -> UserPublic:
    """Change a user's role, name or active flag (never your own role)."""
    actor = manager.actor()
    return accounts.user_public(accounts.update_user(session, actor, manager.user, user, data))


# ---- API tokens ------------------------------------------------------------------------


@router.get("/tokens", response_model=ListOf[TokenPublic], tags=["tokens"])
def list_tokens(
    session: SessionDep, principal: PrincipalDep, page: PageDep, user_id: RowId | None = None
) -> ListOf[TokenPublic]:
    """Your tokens; platform admins see everyone's, or one user's with `user_id`."""
    return list_of(accounts.list_tokens(session, principal.user, page, user_id))


@router.post(
    "/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED, tags=["tokens"]
)
def create_token(data: TokenCreate, session: SessionDep, principal: PrincipalDep) -> TokenCreated:
    """A new token for yourself. The `token` field is shown this once and never again."""
    actor = principal.actor()
    token, clear = accounts.create_token(session, actor, principal.user, data)
    return TokenCreated(**accounts.token_public(token).model_dump(), token=clear)


@router.delete("/tokens/{token_id}", response_model=TokenPublic, tags=["tokens"])
def revoke_token(token: TokenDep, session: SessionDep, principal: PrincipalDep) -> TokenPublic:
    """Revoke a token at once; it stays listed as revoked, for the record."""
    actor = principal.actor()
    return accounts.token_public(accounts.revoke_token(session, actor, token))
