"""Declared dependencies: the database session, the authenticated principal, CSRF, roles.

A handler states what it needs (`SessionDep`, `PrincipalDep`, `AdminDep`) and never checks
credentials or roles itself.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from entente.core.config import Settings
from entente.core.errors import NotAuthenticated, PermissionDenied
from entente.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest
from entente.members.accounts import Principal, load_viewer, token_viewer
from entente.members.choices import Role
from entente.members.models import User

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"

bearer_scheme = HTTPBearer(
    auto_error=False, description="An API token: `Authorization: Bearer ent_...`"
)


def get_settings_dep(request: Request) -> Settings:
    settings = request.app.state.settings
    assert isinstance(settings, Settings)
    return settings


def get_session(request: Request) -> Iterator[Session]:
    session: Session = request.app.state.session_factory()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use; forms and htmx send it back."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    """Cookie-authenticated writes must echo the session's CSRF token (header or form field)."""
    if request.method not in UNSAFE_METHODS:
        return
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = str((await request.form()).get(CSRF_FIELD, ""))
    if not expected or not sent or not secrets.compare_digest(str(expected), sent):
        raise PermissionDenied(
            "missing or wrong CSRF token; reload the page and try again", field=CSRF_FIELD
        )


async def get_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """Who is calling: a bearer token wins; otherwise the UI session cookie (with CSRF)."""
    if credentials is not None:
        token_user, viewer = token_viewer(session, credentials.credentials)
        return Principal(
            user=token_user,
            viewer=viewer,
            via="api",
            client_address=client_address(request),
        )
    user_id = request.session.get("user_id")
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.is_active or not user.organisation.is_active:
        request.session.pop("user_id", None)
        raise NotAuthenticated("log in, or send an API token as 'Authorization: Bearer ...'")
    await check_csrf(request)
    return Principal(
        user=user,
        viewer=load_viewer(session, user),
        via="ui",
        client_address=client_address(request),
    )


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: Role) -> object:
    def dependency(principal: PrincipalDep) -> Principal:
        if principal.user.role not in roles:
            names = ", ".join(role.value for role in roles)
            raise PermissionDenied(f"this needs the role {names}")
        return principal

    return Depends(dependency)


AdminDep = Annotated[Principal, require_roles(Role.ADMIN)]
ManagerDep = Annotated[Principal, require_roles(Role.ADMIN, Role.ORG_ADMIN)]


def page_request(
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = DEFAULT_LIMIT,
) -> PageRequest:
    return PageRequest(cursor=cursor, limit=limit)


PageDep = Annotated[PageRequest, Depends(page_request)]
