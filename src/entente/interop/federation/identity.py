"""This hub's stable id: made once, on first use, kept in `federation_hub`."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from entente.interop.federation.models import HubIdentity

_THE_ROW = 1


def local_hub_uuid(session: Session) -> str:
    """The hub's id; the first caller makes it (a second one racing it reads the winner's)."""
    found = session.scalar(select(HubIdentity.hub_uuid).where(HubIdentity.id == _THE_ROW))
    if found is not None:
        return found
    made = str(uuid.uuid4())
    try:
        with session.begin_nested():
            session.add(HubIdentity(id=_THE_ROW, hub_uuid=made))
    except IntegrityError:
        return session.scalars(select(HubIdentity.hub_uuid)).one()
    session.commit()
    return made
