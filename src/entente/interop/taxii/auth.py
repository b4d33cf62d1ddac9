"""Who calls the TAXII server: an API token sent as a Bearer token, or as the password of
HTTP Basic (the username must be the token's user), as TAXII clients commonly offer only
Basic authentication (taxii2-client's `user`/`password`). No session cookies here.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, Request

from entente.core.access import Viewer
from entente.core.errors import NotAuthenticated
from entente.members.accounts import Principal, token_viewer
from entente.members.models import User
from entente.web.deps import SessionDep, client_address

_ASK = "send an API token: 'Authorization: Bearer ent_...', or HTTP Basic with it as password"


def _token_user(session: SessionDep, authorization: str) -> tuple[User, Viewer]:
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and credentials:
        return token_viewer(session, credentials)
    if scheme.lower() == "basic" and credentials:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise NotAuthenticated("HTTP Basic credentials are not base64 of user:token") from exc
        username, colon, token = decoded.partition(":")
        if not colon:
            raise NotAuthenticated("HTTP Basic credentials are not base64 of user:token")
        user, viewer = token_viewer(session, token)
        if user.username != username:
            # The same answer as a wrong token: the name must not confirm that a token works.
            raise NotAuthenticated("unknown API token for this user")
        return user, viewer
    raise NotAuthenticated(_ASK)


def taxii_principal(request: Request, session: SessionDep) -> Principal:
    """The authenticated caller, or 401 (with a TAXII error body, see `media.TaxiiRoute`)."""
    authorization = request.headers.get("authorization")
    if not authorization:
        raise NotAuthenticated(_ASK)
    user, viewer = _token_user(session, authorization)
    return Principal(
        user=user,
        viewer=viewer,
        via="taxii",
        client_address=client_address(request),
    )


TaxiiPrincipalDep = Annotated[Principal, Depends(taxii_principal)]
