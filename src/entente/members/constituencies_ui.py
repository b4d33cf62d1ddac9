"""UI pages of constituencies: the hub-wide list, and one organisation's constituency with
its contacts and the add, remove and import forms.

Thin: each handler calls the same service function as the REST API
(`members/constituencies_api.py`), with an actor whose door is "ui". A form that fails comes
back with its values and the error next to the field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from entente.core.errors import AppError, BadValue
from entente.core.pagination import LARGEST_PAGE, PageRequest
from entente.members import constituencies, constituency_contacts, tables
from entente.members.api import OrganisationDep
from entente.members.choices import ConstituencyKind, ReportFormat
from entente.members.constituencies_api import ConstituencyDep, ContactDep
from entente.members.constituency_imports import (
    ImportRequest,
    decode_import,
    import_constituencies,
)
from entente.members.constituency_schemas import (
    ConstituencyCreate,
    ContactCreate,
    ImportFormat,
    ImportReport,
)
from entente.members.filters import ConstituencyFilter, ContactFilter, OrganisationFilter
from entente.members.models import Organisation, User
from entente.members.schemas import RowId
from entente.members.service import list_organisations
from entente.web.deps import CSRF_FIELD, PageDep, PrincipalDep, SessionDep
from entente.web.filter_forms import FieldOverride, Widget, declare
from entente.web.forms import FormDep, choice, field_errors, optional_int, parse_form
from entente.web.templating import LOGIN_REQUIRED, flash, redirect, render

router = APIRouter(include_in_schema=False, dependencies=LOGIN_REQUIRED)


def constituency_filter(
    organisation_id: str = "", kind: str = "", q: str = ""
) -> ConstituencyFilter:
    return ConstituencyFilter(
        organisation_id=optional_int(organisation_id, "organisation_id"),
        kind=choice(ConstituencyKind, kind, "kind"),
        q=q.strip() or None,
    )


ConstituencyFilterDep = Annotated[ConstituencyFilter, Depends(constituency_filter)]

CONSTITUENCY_FILTERS = declare(
    ConstituencyFilter,
    "/constituencies",
    {
        "organisation_id": FieldOverride(blank="All organisations", widget=Widget.SELECT),
        "kind": FieldOverride(blank="All kinds"),
        "q": FieldOverride(placeholder="Address, prefix, host name, AS number or text"),
    },
)
# On an organisation's page the organisation is fixed; its action is set per page.
ORGANISATION_CONSTITUENCY_FILTERS = CONSTITUENCY_FILTERS.without("organisation_id")


@dataclass(frozen=True, slots=True)
class PageView:
    """What the organisation page shows: the entries listed, and the form that was just used
    (`form` names it) with its values and error, or an import's report."""

    filters: ConstituencyFilter
    page: PageRequest = field(default_factory=PageRequest)
    form: str | None = None
    values: Mapping[str, str] = field(default_factory=dict)
    error: AppError | None = None
    report: ImportReport | None = None


# ---- the hub-wide list -----------------------------------------------------------------


@router.get("/constituencies", response_class=HTMLResponse)
def constituency_list(
    request: Request, session: SessionDep, filters: ConstituencyFilterDep, page: PageDep
) -> Response:
    result = constituencies.list_constituencies(session, filters, page)
    organisations = list_organisations(session, OrganisationFilter(), LARGEST_PAGE).items
    return render(
        request,
        "members/constituencies.html",
        {
            "page": result,
            "rows": tables.CONSTITUENCIES.rows(result.items),
            "table": tables.CONSTITUENCIES,
            "filter_form": CONSTITUENCY_FILTERS.form(
                request.query_params, {"organisation_id": [(o.id, o.name) for o in organisations]}
            ),
        },
    )


# ---- one organisation ------------------------------------------------------------------


def listing(organisation_id: RowId, filters: ConstituencyFilterDep, page: PageDep) -> PageView:
    """The organisation page's list, filtered by the query (its organisation is the path's)."""
    return PageView(dataclasses.replace(filters, organisation_id=organisation_id), page)


@router.get("/organisations/{organisation_id}/constituency", response_class=HTMLResponse)
def organisation_constituency(
    organisation: OrganisationDep,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    view: Annotated[PageView, Depends(listing)],
) -> Response:
    return _organisation_page(request, session, principal.user, organisation, view)


@router.post("/organisations/{organisation_id}/constituency", response_class=HTMLResponse)
def add_constituency(
    organisation: OrganisationDep,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    form: FormDep,
) -> Response:
    try:
        data = parse_form(ConstituencyCreate, form, organisation_id=organisation.id)
        added = constituencies.add_constituency(session, principal.actor(), principal.user, data)
    except AppError as exc:
        session.rollback()
        view = PageView(_own(organisation), form="add", values=form, error=exc)
        return _organisation_page(request, session, principal.user, organisation, view)
    flash(request, f"{added.kind.label} {added.value} added.")
    return redirect(f"/organisations/{organisation.id}/constituency")


@router.post("/constituencies/{constituency_id}/remove")
def remove_constituency(
    constituency: ConstituencyDep, request: Request, session: SessionDep, principal: PrincipalDep
) -> Response:
    organisation_id, value = constituency.organisation_id, constituency.value
    constituencies.remove_constituency(session, principal.actor(), principal.user, constituency)
    flash(request, f"{value} removed.")
    return redirect(f"/organisations/{organisation_id}/constituency")


@dataclass(frozen=True, slots=True)
class ImportForm:
    """The import form as sent: its text fields, and the chosen file if there is one."""

    values: dict[str, str]
    file: bytes | None = None
    filename: str | None = None


async def read_import_form(request: Request) -> ImportForm:
    form = await request.form()
    values = {k: v.strip() for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD}
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        return ImportForm(values, await upload.read(), upload.filename)
    return ImportForm(values)


@router.post("/organisations/{organisation_id}/constituency/import", response_class=HTMLResponse)
def import_into_constituency(
    organisation: OrganisationDep,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    form: Annotated[ImportForm, Depends(read_import_form)],
) -> Response:
    """Pasted text or an uploaded file; the page then shows what was added and refused."""
    view = PageView(_own(organisation), form="import", values=form.values)
    try:
        import_format = choice(ImportFormat, form.values.get("format", ""), "format")
        text = form.values.get("text", "") if form.file is None else decode_import(form.file)
        if not text.strip():
            raise BadValue("paste the text or choose a file", field="text")
        source = form.filename or "pasted text"
        import_request = ImportRequest(text=text, organisation=organisation, source=source)
        report = import_constituencies(
            session,
            principal.actor(),
            principal.user,
            import_format or ImportFormat.CSV,
            import_request,
        )
    except AppError as exc:
        session.rollback()
        view = dataclasses.replace(view, error=exc)
        return _organisation_page(request, session, principal.user, organisation, view)
    view = dataclasses.replace(view, report=report)
    return _organisation_page(request, session, principal.user, organisation, view)


@router.post("/organisations/{organisation_id}/contacts", response_class=HTMLResponse)
def add_contact(
    organisation: OrganisationDep,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    form: FormDep,
) -> Response:
    try:
        data = parse_form(ContactCreate, form, organisation_id=organisation.id)
        actor = principal.actor()
        added = constituency_contacts.add_contact(session, actor, principal.user, data)
    except AppError as exc:
        session.rollback()
        view = PageView(_own(organisation), form="contact", values=form, error=exc)
        return _organisation_page(request, session, principal.user, organisation, view)
    flash(request, f"Contact {added.email} added.")
    return redirect(f"/organisations/{organisation.id}/constituency#contacts")


@router.post("/constituency-contacts/{contact_id}/remove")
def remove_contact(
    contact: ContactDep, request: Request, session: SessionDep, principal: PrincipalDep
) -> Response:
    organisation_id, email = contact.organisation_id, contact.email
    constituency_contacts.remove_contact(session, principal.actor(), principal.user, contact)
    flash(request, f"Contact {email} removed.")
    return redirect(f"/organisations/{organisation_id}/constituency#contacts")


def _own(organisation: Organisation) -> ConstituencyFilter:
    return ConstituencyFilter(organisation_id=organisation.id)


def _organisation_page(
    request: Request, session: Session, by: User, organisation: Organisation, view: PageView
) -> Response:
    may_change = constituencies.may_change(by, organisation)
    entries = constituencies.list_constituencies(session, view.filters, view.page)
    contacts = constituency_contacts.list_contacts(
        session, ContactFilter(organisation_id=organisation.id), LARGEST_PAGE
    )
    entry_table = tables.organisation_constituency(may_change)
    contact_table = tables.contacts(may_change)
    filter_spec = dataclasses.replace(
        ORGANISATION_CONSTITUENCY_FILTERS, action=f"/organisations/{organisation.id}/constituency"
    )
    # Contacts may be for one entry: offered are the first page of entries, in routing order.
    choices = constituencies.list_constituencies(session, _own(organisation), LARGEST_PAGE).items
    errors = field_errors(view.error) if view.error else {}
    return render(
        request,
        "members/organisation_constituency.html",
        {
            "organisation": organisation,
            "may_change": may_change,
            "country_allowed": constituencies.may_declare_country(organisation),
            "counts": constituencies.counts_by_kind(session, organisation.id),
            "page": entries,
            "table": entry_table,
            "rows": entry_table.rows(entries.items),
            "contacts": contacts,
            "contact_table": contact_table,
            "contact_rows": contact_table.rows(contacts.items),
            "filter_form": filter_spec.form(request.query_params),
            "kinds": [(kind.value, kind.label) for kind in _kinds(organisation)],
            "formats": [(f.value, f.label) for f in ReportFormat],
            "import_formats": [(f.value, f.label) for f in ImportFormat],
            "entries": [(c.id, f"{c.kind.label} {c.value}") for c in choices],
            "form": view.form,
            "values": view.values,
            "errors": errors,
            "report": view.report,
        },
        status_code=view.error.http_status if view.error else 200,
    )


def _kinds(organisation: Organisation) -> list[ConstituencyKind]:
    """The kinds the add form offers: a whole country only to a national CERT."""
    if constituencies.may_declare_country(organisation):
        return list(ConstituencyKind)
    return [kind for kind in ConstituencyKind if kind is not ConstituencyKind.COUNTRY]
