"""UI pages of the TAXII collections (platform admins): the list, the create/edit form, delete.

Thin: each handler calls the same function of `taxii/collections.py` as the admin API
(`/api/v1/taxii/collections`), with an actor whose door is "ui", so the service checks the
filter's references and the write permissions and writes the audit entry. A form that fails
comes back with its values and each error next to its field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from entente.core.errors import AppError
from entente.core.pagination import LARGEST_PAGE
from entente.interop.taxii import collections
from entente.interop.taxii.collection_list import CollectionFilter, collection_page
from entente.interop.taxii.models import TaxiiCollection
from entente.interop.taxii.schemas import (
    CollectionCreate,
    CollectionPermission,
    CollectionPublic,
    CollectionUpdate,
)
from entente.members import service as members
from entente.members.filters import OrganisationFilter
from entente.sharing import groups
from entente.sharing.group_schemas import GroupFilter
from entente.sharing.tables import tlp_badge
from entente.vocabulary.markings import TLP
from entente.web.deps import AdminDep, PageDep, SessionDep
from entente.web.filter_forms import FieldOverride, Widget, declare
from entente.web.forms import FORM_WIDE, FormDep, choice, field_errors, optional_int, parse_form
from entente.web.tables import Action, Align, Cell, Column, Table, code, muted, when
from entente.web.templating import LOGIN_REQUIRED, flash, redirect, render

router = APIRouter(include_in_schema=False, dependencies=LOGIN_REQUIRED)

LIST_URL = "/taxii/collections"
# The discovery URL a TAXII client is given (TAXII 2.1 section 4.1).
DISCOVERY_PATH = "/taxii2/"
# The form's fields that are the schema's own; permissions come as one select per organisation.
SCHEMA_FIELDS = (
    "title",
    "alias",
    "description",
    "owner_organisation_id",
    "sharing_group_id",
    "max_tlp",
)
PERMISSION_PREFIX = "permission-"


class Access(StrEnum):
    """What an organisation may do with a collection, as one choice on the form."""

    NONE = ""
    READ = "read"
    WRITE = "write"
    READ_WRITE = "read-write"

    @property
    def label(self) -> str:
        return _ACCESS_LABELS[self]


_ACCESS_LABELS = {
    Access.NONE: "No access",
    Access.READ: "Read",
    Access.WRITE: "Write only",
    Access.READ_WRITE: "Read and write",
}


@dataclass(frozen=True, slots=True)
class Names:
    """Organisation and sharing group names by id: the service speaks in ids."""

    organisations: dict[int, str]
    sharing_groups: dict[int, str]

    def filter_summary(self, collection: CollectionPublic) -> str:
        parts = []
        if collection.owner_organisation_id is not None:
            owner = self.organisations.get(collection.owner_organisation_id, "?")
            parts.append(f"events of {owner}")
        if collection.sharing_group_id is not None:
            group = self.sharing_groups.get(collection.sharing_group_id, "?")
            parts.append(f"shared with group {group}")
        if collection.tags:
            parts.append("tagged " + " or ".join(collection.tags))
        return "; ".join(parts) or "every event"

    def permissions_summary(self, collection: CollectionPublic) -> str:
        granted = [
            f"{self.organisations.get(p.organisation_id, '?')} ({_access_of(p).label.lower()})"
            for p in collection.permissions
            if _access_of(p) is not Access.NONE
        ]
        return ", ".join(granted) or "nobody yet"


def collection_table(names: Names) -> Table[CollectionPublic]:
    return Table[CollectionPublic](
        columns=(
            Column("Title", lambda c: Cell(c.title, href=f"{LIST_URL}/{c.id}/edit")),
            Column("Id", lambda c: code(c.alias or c.id)),
            Column("Shows", lambda c: muted(names.filter_summary(c))),
            Column("Max TLP", lambda c: tlp_badge(c.max_tlp)),
            Column("Permissions", lambda c: muted(names.permissions_summary(c))),
            Column("Created", lambda c: when(c.created_at)),
            Column(
                "",
                lambda c: Cell(
                    "",
                    action=Action(
                        "Delete",
                        f"{LIST_URL}/{c.id}/delete",
                        f"Delete the collection '{c.title}'? TAXII clients lose it; "
                        "the shared data stays.",
                    ),
                ),
                Align.RIGHT,
            ),
        ),
        empty="No collection matches these filters.",
    )


def collection_filter(
    q: str = "", organisation_id: str = "", max_tlp: str = ""
) -> CollectionFilter:
    return CollectionFilter(
        q=q.strip() or None,
        organisation_id=optional_int(organisation_id, "organisation_id"),
        max_tlp=choice(TLP, max_tlp, "max_tlp"),
    )


CollectionFilterDep = Annotated[CollectionFilter, Depends(collection_filter)]

COLLECTION_FILTERS = declare(
    CollectionFilter,
    LIST_URL,
    {
        "q": FieldOverride(placeholder="Part of the title or alias"),
        "organisation_id": FieldOverride(
            label="Organisation with access", blank="Any organisation", widget=Widget.SELECT
        ),
        "max_tlp": FieldOverride(label="Max TLP", blank="Any TLP"),
    },
    order=("q", "organisation_id", "max_tlp"),
)


@router.get(LIST_URL, response_class=HTMLResponse)
def collection_list(
    request: Request,
    session: SessionDep,
    _admin: AdminDep,
    filters: CollectionFilterDep,
    page: PageDep,
) -> Response:
    result = collection_page(session, filters, page)
    names = _names(session)
    table = collection_table(names)
    organisations = sorted(names.organisations.items(), key=lambda pair: pair[1])
    context = {
        "page": result,
        "rows": table.rows(result.items),
        "table": table,
        "filtered": filters != CollectionFilter(),
        "discovery_url": str(request.base_url).rstrip("/") + DISCOVERY_PATH,
        "filter_form": COLLECTION_FILTERS.form(
            request.query_params, {"organisation_id": organisations}
        ),
    }
    return render(request, "interop/collections.html", context)


@router.get(f"{LIST_URL}/new", response_class=HTMLResponse)
def new_collection(request: Request, session: SessionDep, _admin: AdminDep) -> Response:
    return _form(request, session, None, {"max_tlp": TLP.AMBER.value})


@router.post(f"{LIST_URL}/new", response_class=HTMLResponse)
def create_collection(
    request: Request, session: SessionDep, admin: AdminDep, form: FormDep
) -> Response:
    try:
        data = _read_form(form)
        created = collections.create_collection(session, admin.actor(), data)
    except AppError as exc:
        session.rollback()
        return _form(request, session, None, form, exc)
    flash(request, f"Collection '{created.title}' created.")
    return redirect(LIST_URL)


@router.get(LIST_URL + "/{key}/edit", response_class=HTMLResponse)
def edit_collection(key: str, request: Request, session: SessionDep, _admin: AdminDep) -> Response:
    collection = collections.get_collection(session, key)
    return _form(request, session, collection, _values_of(session, collection))


@router.post(LIST_URL + "/{key}/edit", response_class=HTMLResponse)
def update_collection(
    key: str, request: Request, session: SessionDep, admin: AdminDep, form: FormDep
) -> Response:
    collection = collections.get_collection(session, key)
    try:
        # Validated as a whole collection, then every field sent: a blank owner or group on
        # the form is a cleared filter, not a field left as it was.
        data = CollectionUpdate(**_read_form(form).model_dump())
        collections.update_collection(session, admin.actor(), collection, data)
    except AppError as exc:
        session.rollback()
        return _form(request, session, collection, form, exc)
    flash(request, f"Collection '{collection.title}' saved.")
    return redirect(LIST_URL)


@router.post(LIST_URL + "/{key}/delete")
def delete_collection(key: str, request: Request, session: SessionDep, admin: AdminDep) -> Response:
    collection = collections.get_collection(session, key)
    title = collection.title
    collections.delete_collection(session, admin.actor(), collection)
    flash(request, f"Collection '{title}' deleted.")
    return redirect(LIST_URL)


# ---- the form ----------------------------------------------------------------------------


def _read_form(form: Mapping[str, str]) -> CollectionCreate:
    values = {name: form.get(name, "") for name in SCHEMA_FIELDS}
    tags = [tag.strip() for tag in form.get("tags", "").split(",") if tag.strip()]
    return parse_form(CollectionCreate, values, tags=tags, permissions=_permissions(form))


def _permissions(form: Mapping[str, str]) -> list[dict[str, Any]]:
    """One select per organisation, `permission-<id>`; "no access" is no permission row."""
    granted = []
    for name, value in form.items():
        if not name.startswith(PERMISSION_PREFIX):
            continue
        organisation_id = optional_int(name.removeprefix(PERMISSION_PREFIX), name)
        access = choice(Access, value, name)
        if access is None or access is Access.NONE:
            continue
        granted.append(
            {
                "organisation_id": organisation_id,
                "can_read": access in (Access.READ, Access.READ_WRITE),
                "can_write": access in (Access.WRITE, Access.READ_WRITE),
            }
        )
    return granted


def _values_of(session: Session, collection: TaxiiCollection) -> dict[str, str]:
    public = collections.collection_public(session, collection)
    values = {
        "title": public.title,
        "alias": public.alias or "",
        "description": public.description,
        "owner_organisation_id": _text(public.owner_organisation_id),
        "sharing_group_id": _text(public.sharing_group_id),
        "max_tlp": public.max_tlp.value,
        "tags": ", ".join(public.tags),
    }
    for permission in public.permissions:
        values[f"{PERMISSION_PREFIX}{permission.organisation_id}"] = _access_of(permission).value
    return values


def _form(
    request: Request,
    session: Session,
    collection: TaxiiCollection | None,
    values: Mapping[str, str],
    error: AppError | None = None,
) -> Response:
    names = _names(session)
    organisations = sorted(names.organisations.items(), key=lambda pair: pair[1])
    errors = _errors_by_field(error, values) if error else {}
    context = {
        "collection": collection,
        "action": f"{LIST_URL}/{collection.uuid}/edit" if collection else f"{LIST_URL}/new",
        "values": values,
        "errors": errors,
        "organisations": organisations,
        "sharing_groups": sorted(names.sharing_groups.items(), key=lambda pair: pair[1]),
        "tlps": [(tlp.value, tlp.label) for tlp in TLP],
        "accesses": [(access.value, access.label) for access in Access],
        "permission_prefix": PERMISSION_PREFIX,
        "permission_names": [f"{PERMISSION_PREFIX}{o_id}" for o_id, _name in organisations],
    }
    return render(
        request,
        "interop/collection_form.html",
        context,
        status_code=error.http_status if error else 200,
    )


def _errors_by_field(error: AppError, values: Mapping[str, str]) -> dict[str, str]:
    """The service's and the schema's field names as the form's: `tags[2]`/`tags.2` belong to
    the tags box, `permissions[i].…` to the select of the i-th organisation granted access."""
    granted = [
        name
        for name, value in values.items()
        if name.startswith(PERMISSION_PREFIX) and value not in ("", Access.NONE.value)
    ]
    shown: dict[str, str] = {}
    for field, message in field_errors(error).items():
        shown.setdefault(_form_field(field, granted), message)
    return shown


def _form_field(field: str, granted: list[str]) -> str:
    if field.startswith("tags"):
        return "tags"
    if field.startswith("permissions"):
        index = field.removeprefix("permissions").lstrip("[.").split("]")[0].split(".")[0]
        if index.isdigit() and int(index) < len(granted):
            return granted[int(index)]
        return FORM_WIDE
    return field


def _access_of(permission: CollectionPermission) -> Access:
    if permission.can_read and permission.can_write:
        return Access.READ_WRITE
    if permission.can_write:
        return Access.WRITE
    return Access.READ if permission.can_read else Access.NONE


def _names(session: Session) -> Names:
    organisations = members.list_organisations(session, OrganisationFilter(), LARGEST_PAGE).items
    sharing_groups = groups.list_groups(session, GroupFilter(), LARGEST_PAGE).items
    return Names(
        organisations={o.id: o.name for o in organisations},
        sharing_groups={g.id: g.name for g in sharing_groups},
    )


def _text(value: int | None) -> str:
    return "" if value is None else str(value)
