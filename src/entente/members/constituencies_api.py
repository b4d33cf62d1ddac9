"""REST routes of constituencies and their contacts. Thin: each handler calls one service.

Every member may read; writes are for platform admins and the organisation's own admins
(see `members/constituencies.py`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from entente.core.errors import BadValue, NotFound
from entente.members import constituencies, constituency_contacts, service
from entente.members.constituency_imports import (
    ImportRequest,
    decode_import,
    import_constituencies,
)
from entente.members.constituency_schemas import (
    ConstituencyCreate,
    ConstituencyPublic,
    ContactCreate,
    ContactPublic,
    ImportFormat,
    ImportReport,
)
from entente.members.filters import ConstituencyFilter, ContactFilter
from entente.members.models import Constituency, ConstituencyContact, Organisation
from entente.members.schemas import ListOf, RowId, list_of
from entente.web.deps import PageDep, PrincipalDep, SessionDep
from entente.web.errors import ERROR_RESPONSES

router = APIRouter(responses=ERROR_RESPONSES, tags=["constituencies"])


def constituency_dep(constituency_id: RowId, session: SessionDep, _p: PrincipalDep) -> Constituency:
    return constituencies.get_constituency(session, constituency_id)


def contact_dep(contact_id: RowId, session: SessionDep, _p: PrincipalDep) -> ConstituencyContact:
    return constituency_contacts.get_contact(session, contact_id)


async def uploaded_text(request: Request) -> str:
    """The body as text: a raw `text/csv` or `text/plain` body, or a form's `file` upload."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        try:
            form = await request.form()
        except HTTPException as exc:
            # Starlette's answer to a broken multipart body; ours names the field.
            message = f"the upload is not a readable multipart form: {exc.detail}"
            raise BadValue(message, field="file") from exc
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise BadValue("send the file in the form field 'file'", field="file")
        raw = await upload.read()
    else:
        raw = await request.body()
    if not raw.strip():
        raise BadValue("the body is empty: send the CSV or RPSL text", field="file")
    return decode_import(raw)


def import_organisation(
    session: SessionDep,
    organisation: Annotated[
        str | None, Query(description="Id, name or short name; required for `ripe`")
    ] = None,
) -> Organisation | None:
    if organisation is None or not organisation.strip():
        return None
    try:
        return service.find_organisation(session, organisation)
    except NotFound as exc:
        raise BadValue(exc.message, field="organisation", value=organisation) from exc


ConstituencyDep = Annotated[Constituency, Depends(constituency_dep)]
ContactDep = Annotated[ConstituencyContact, Depends(contact_dep)]

_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "text/plain": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}


# ---- constituencies --------------------------------------------------------------------


@router.get("/constituencies", response_model=ListOf[ConstituencyPublic])
def list_constituencies(
    session: SessionDep,
    _p: PrincipalDep,
    filters: Annotated[ConstituencyFilter, Depends()],
    page: PageDep,
) -> ListOf[ConstituencyPublic]:
    """Entries in routing order. `q=192.0.2.7` finds the prefixes containing the address,
    `q=www.example.org` the domains above it, `q=AS64496` that AS."""
    return list_of(constituencies.list_constituencies(session, filters, page))


@router.post(
    "/constituencies", response_model=ConstituencyPublic, status_code=status.HTTP_201_CREATED
)
def add_constituency(
    data: ConstituencyCreate, session: SessionDep, principal: PrincipalDep
) -> ConstituencyPublic:
    """Declare a prefix, AS number, domain or (national CERTs) country. Values are stored
    canonical: `AS64496` becomes `64496`, `Example.ORG.` becomes `example.org`."""
    created = constituencies.add_constituency(session, principal.actor(), principal.user, data)
    return constituencies.constituency_public(created)


@router.post("/constituencies/import", response_model=ImportReport, openapi_extra=_IMPORT_BODY)
def import_into_constituencies(
    session: SessionDep,
    principal: PrincipalDep,
    text: Annotated[str, Depends(uploaded_text)],
    organisation: Annotated[Organisation | None, Depends(import_organisation)],
    import_format: Annotated[ImportFormat, Query(alias="format")] = ImportFormat.CSV,
) -> ImportReport:
    """Add many entries from CSV (`organisation,kind,value,contact_email`) or from RIPE
    database objects of one organisation. Bad rows are listed with their line, not stored;
    the others are. Nothing stored before is changed or removed."""
    request = ImportRequest(text=text, organisation=organisation)
    return import_constituencies(session, principal.actor(), principal.user, import_format, request)


@router.get("/constituencies/{constituency_id}", response_model=ConstituencyPublic)
def get_constituency(constituency: ConstituencyDep) -> ConstituencyPublic:
    return constituencies.constituency_public(constituency)


@router.delete("/constituencies/{constituency_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_constituency(
    constituency: ConstituencyDep, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Remove an entry, and the contacts that were for this entry alone."""
    constituencies.remove_constituency(session, principal.actor(), principal.user, constituency)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/constituencies/{constituency_id}/recipients", response_model=list[ContactPublic])
def recipients(constituency: ConstituencyDep, session: SessionDep) -> list[ContactPublic]:
    """Who alerts routed through this entry go to: its own contacts, else the organisation's."""
    return constituency_contacts.contacts_of_constituency(session, constituency)


# ---- contacts --------------------------------------------------------------------------


@router.get("/constituency-contacts", response_model=ListOf[ContactPublic])
def list_contacts(
    session: SessionDep,
    _p: PrincipalDep,
    filters: Annotated[ContactFilter, Depends()],
    page: PageDep,
) -> ListOf[ContactPublic]:
    return list_of(constituency_contacts.list_contacts(session, filters, page))


@router.post(
    "/constituency-contacts", response_model=ContactPublic, status_code=status.HTTP_201_CREATED
)
def add_contact(data: ContactCreate, session: SessionDep, principal: PrincipalDep) -> ContactPublic:
    """A mailbox for the organisation's alerts, or (with `constituency_id`) one entry's."""
    contact = constituency_contacts.add_contact(session, principal.actor(), principal.user, data)
    return constituency_contacts.contact_public(contact)


@router.delete("/constituency-contacts/{contact_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_contact(contact: ContactDep, session: SessionDep, principal: PrincipalDep) -> Response:
    constituency_contacts.remove_contact(session, principal.actor(), principal.user, contact)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
