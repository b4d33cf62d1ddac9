"""UI pages of sharing groups: the list, a group with its members, and the new-group form.

Thin: each handler calls the same function of `sharing/groups.py` as the REST API, with an
actor whose door is "ui". A form that fails comes back with its values and the error shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from entente.core.errors import AppError
from entente.core.pagination import LARGEST_PAGE
from entente.members import service as members
from entente.members.filters import OrganisationFilter
from entente.members.models import User
from entente.members.schemas import OrganisationPublic
from entente.sharing import groups
from entente.sharing.group_schemas import (
    GroupCreate,
    GroupFilter,
    GroupMemberPublic,
    GroupPublic,
    GroupUpdate,
)
from entente.sharing.groups_api import GroupDep
from entente.sharing.models import SharingGroup
from entente.web.deps import PageDep, PrincipalDep, SessionDep
from entente.web.filter_forms import FieldOverride, Widget, declare
from entente.web.forms import FormDep, field_errors, optional_int, parse_form
from entente.web.tables import Action, Align, Cell, Column, Table, muted, text, when
from entente.web.templating import LOGIN_REQUIRED, flash, redirect, render

router = APIRouter(include_in_schema=False, dependencies=LOGIN_REQUIRED)


@dataclass(frozen=True, slots=True)
class FormFailure:
    """A form on the group page that a service refused: shown again with its values."""

    values: Mapping[str, str]
    error: AppError


GROUPS = Table[GroupPublic](
    columns=(
        Column("Name", lambda g: Cell(g.name, href=f"/sharing-groups/{g.id}")),
        Column(
            "Managed by",
            lambda g: Cell(
                g.creator_organisation_name, href=f"/organisations/{g.creator_organisation_id}"
            ),
        ),
        Column("Releasability", lambda g: muted(g.releasability)),
        Column("Members", lambda g: text(g.member_count), Align.RIGHT),
        Column("Created", lambda g: when(g.created_at)),
    ),
    empty="No sharing group matches these filters.",
)


def group_filter(q: str = "", organisation_id: str = "") -> GroupFilter:
    return GroupFilter(
        q=q.strip() or None, organisation_id=optional_int(organisation_id, "organisation_id")
    )


GroupFilterDep = Annotated[GroupFilter, Depends(group_filter)]

GROUP_FILTERS = declare(
    GroupFilter,
    "/sharing-groups",
    {
        "organisation_id": FieldOverride(
            label="Member organisation", blank="Any organisation", widget=Widget.SELECT
        ),
        "q": FieldOverride(placeholder="Part of the name"),
    },
    order=("organisation_id", "q"),
)


@router.get("/sharing-groups", response_class=HTMLResponse)
def group_list(
    request: Request, session: SessionDep, filters: GroupFilterDep, page: PageDep
) -> Response:
    result = groups.list_groups(session, filters, page)
    return render(
        request,
        "sharing/groups.html",
        {
            "page": result,
            "rows": GROUPS.rows(result.items),
            "table": GROUPS,
            "filter_form": GROUP_FILTERS.form(
                request.query_params,
                {"organisation_id": [(o.id, o.name) for o in _all_organisations(session)]},
            ),
        },
    )


@router.get("/sharing-groups/new", response_class=HTMLResponse)
def new_group(request: Request, _principal: PrincipalDep) -> Response:
    return _group_form(request, {}, None)


@router.post("/sharing-groups/new", response_class=HTMLResponse)
def create_group(
    request: Request, session: SessionDep, principal: PrincipalDep, form: FormDep
) -> Response:
    try:
        data = parse_form(GroupCreate, form)
        actor = principal.actor()
        created = groups.create_group(session, actor, principal.user, data)
    except AppError as exc:
        session.rollback()
        return _group_form(request, form, exc)
    flash(request, f"Sharing group '{created.name}' created.")
    return redirect(f"/sharing-groups/{created.id}")


@router.get("/sharing-groups/{group_id}", response_class=HTMLResponse)
def group_page(
    group: GroupDep, request: Request, session: SessionDep, principal: PrincipalDep
) -> Response:
    return _group_page(request, session, principal.user, group)


@router.post("/sharing-groups/{group_id}/edit", response_class=HTMLResponse)
def update_group(
    group: GroupDep, request: Request, session: SessionDep, principal: PrincipalDep, form: FormDep
) -> Response:
    try:
        # A blank releasability is a cleared note, not a field left out.
        data = parse_form(GroupUpdate, form, releasability=form.get("releasability", ""))
        actor = principal.actor()
        groups.update_group(session, actor, principal.user, group, data)
    except AppError as exc:
        session.rollback()
        return _group_page(request, session, principal.user, group, FormFailure(form, exc))
    flash(request, f"Sharing group '{group.name}' saved.")
    return redirect(f"/sharing-groups/{group.id}")


@router.post("/sharing-groups/{group_id}/members", response_class=HTMLResponse)
def add_member(
    group: GroupDep, request: Request, session: SessionDep, principal: PrincipalDep, form: FormDep
) -> Response:
    try:
        organisation_id = optional_int(form.get("organisation_id", ""), "organisation_id") or 0
        actor = principal.actor()
        added = groups.add_member(session, actor, principal.user, group, organisation_id)
    except AppError as exc:
        session.rollback()
        return _group_page(request, session, principal.user, group, FormFailure(form, exc))
    flash(request, f"'{added.name}' is a member of '{group.name}'.")
    return redirect(f"/sharing-groups/{group.id}")


@router.post("/sharing-groups/{group_id}/members/{organisation_id}/remove")
def remove_member(
    group: GroupDep,
    organisation_id: int,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
) -> Response:
    actor = principal.actor()
    removed = groups.remove_member(session, actor, principal.user, group, organisation_id)
    flash(request, f"'{removed.name}' is no longer a member of '{group.name}'.")
    return redirect(f"/sharing-groups/{group.id}")


@router.post("/sharing-groups/{group_id}/delete")
def delete_group(
    group: GroupDep, request: Request, session: SessionDep, principal: PrincipalDep
) -> Response:
    name = group.name
    groups.delete_group(session, principal.actor(), principal.user, group)
    flash(request, f"Sharing group '{name}' deleted.")
    return redirect("/sharing-groups")


def _group_page(
    request: Request,
    session: Session,
    user: User,
    group: SharingGroup,
    failure: FormFailure | None = None,
) -> Response:
    public = groups.group_public(session, group)
    may_manage = groups.may_manage(user, group)
    present = {member.id for member in public.members}
    candidates = [(o.id, o.name) for o in _all_organisations(session) if o.id not in present]
    table = _members_table(public, may_manage)
    return render(
        request,
        "sharing/group.html",
        {
            "group": public,
            "may_manage": may_manage,
            "table": table,
            "rows": table.rows(public.members),
            "candidates": candidates,
            "values": {
                "name": public.name,
                "releasability": public.releasability,
                **(failure.values if failure else {}),
            },
            "errors": field_errors(failure.error) if failure else {},
        },
        status_code=failure.error.http_status if failure else 200,
    )


def _members_table(group: GroupPublic, may_manage: bool) -> Table[GroupMemberPublic]:
    def remove(member: GroupMemberPublic) -> Cell:
        if not may_manage or member.id == group.creator_organisation_id:
            return muted("creator" if member.id == group.creator_organisation_id else "")
        return Cell(
            "",
            action=Action(
                "Remove",
                f"/sharing-groups/{group.id}/members/{member.id}/remove",
                f"Remove '{member.name}' from '{group.name}'? It stops seeing the group's data.",
            ),
        )

    return Table[GroupMemberPublic](
        columns=(
            Column("Organisation", lambda m: Cell(m.name, href=f"/organisations/{m.id}")),
            Column(
                "Member state",
                lambda m: Cell(m.member_state, href=f"/member-states/{m.member_state}"),
            ),
            Column("", remove, Align.RIGHT),
        ),
        empty="This group has no members.",
    )


def _group_form(
    request: Request, values: Mapping[str, str], error: AppError | None = None
) -> Response:
    return render(
        request,
        "sharing/group_form.html",
        {"values": values, "errors": field_errors(error) if error else {}},
        status_code=error.http_status if error else 200,
    )


def _all_organisations(session: Session) -> list[OrganisationPublic]:
    return members.list_organisations(session, OrganisationFilter(), LARGEST_PAGE).items
