"""Collections and callers for the TAXII tests, made through the real services."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from entente.core.audit import SYSTEM
from entente.interop.taxii.collections import create_collection
from entente.interop.taxii.media import TAXII_MEDIA_TYPE
from entente.interop.taxii.models import TaxiiCollection
from entente.interop.taxii.schemas import CollectionCreate, CollectionPermission
from tests.factories import make_token
from tests.interop.builders import Member

ROOT = "/taxii2/api"


def collection(
    session: Session,
    readers: list[Member],
    writers: Sequence[Member] = (),
    **fields: Any,
) -> TaxiiCollection:
    """A collection the readers may read and the writers may read and write."""
    permissions = [
        CollectionPermission(organisation_id=m.organisation.id, can_write=m in writers)
        for m in {id(m): m for m in [*readers, *writers]}.values()
    ]
    data = CollectionCreate(
        title=fields.pop("title", "Shared indicators"), permissions=permissions, **fields
    )
    return create_collection(session, SYSTEM, data)


def taxii_headers(session: Session, who: Member, **extra: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {make_token(session, who.user)}",
        "Accept": TAXII_MEDIA_TYPE,
        **extra,
    }


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def objects_url(target: TaxiiCollection) -> str:
    return f"{ROOT}/collections/{target.uuid}/objects/"
