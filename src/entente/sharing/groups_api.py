"""REST routes of sharing groups. Thin: each handler calls one function of `sharing/groups.py`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from entente.members.schemas import ListOf, RowId, list_of
from entente.sharing import groups
from entente.sharing.group_schemas import GroupCreate, GroupFilter, GroupPublic, GroupUpdate
from entente.sharing.models import SharingGroup
from entente.web.deps import PageDep, PrincipalDep, SessionDep
from entente.web.errors import ERROR_RESPONSES

router = APIRouter(prefix="/sharing-groups", tags=["sharing groups"], responses=ERROR_RESPONSES)


def group_dep(group_id: RowId, session: SessionDep, _p: PrincipalDep) -> SharingGroup:
    return groups.get_group(session, group_id)


GroupDep = Annotated[SharingGroup, Depends(group_dep)]


@router.get("", response_model=ListOf[GroupPublic])
def list_groups(
    session: SessionDep,
    _p: PrincipalDep,
    filters: Annotated[GroupFilter, Depends()],
    page: PageDep,
) -> ListOf[GroupPublic]:
    """Every sharing group with its members; `organisation_id` keeps one organisation's groups."""
    result = groups.list_groups(session, filters, page)
    return list_of(result)


@router.post("", response_model=GroupPublic, status_code=status.HTTP_201_CREATED)
def create_group(data: GroupCreate, session: SessionDep, principal: PrincipalDep) -> GroupPublic:
    """Start a group managed by your organisation (org-admins; platform admins for any)."""
    actor = principal.actor()
    group = groups.create_group(session, actor, principal.user, data)
    return groups.group_public(session, group)


@router.get("/{group_id}", response_model=GroupPublic)
def get_group(group: GroupDep, session: SessionDep) -> GroupPublic:
    return groups.group_public(session, group)


@router.patch("/{group_id}", response_model=GroupPublic)
def update_group(
    group: GroupDep,
    data: GroupUpdate,
    session: SessionDep,
    principal: PrincipalDep,
) -> GroupPublic:
    """Rename a group or change its releasability note (its creator organisation only)."""
    actor = principal.actor()
    groups.update_group(session, actor, principal.user, group, data)
    return groups.group_public(session, group)


@router.delete("/{group_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_group(group: GroupDep, session: SessionDep, principal: PrincipalDep) -> Response:
    actor = principal.actor()
    groups.delete_group(session, actor, principal.user, group)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{group_id}/members/{organisation_id}", response_model=GroupPublic)
def add_member(
    group: GroupDep,
    organisation_id: RowId,
    session: SessionDep,
    principal: PrincipalDep,
) -> GroupPublic:
    """Add an organisation to the group; adding a member again changes nothing."""
    actor = principal.actor()
    groups.add_member(session, actor, principal.user, group, organisation_id)
    return groups.group_public(session, group)


@router.delete("/{group_id}/members/{organisation_id}", response_model=GroupPublic)
def remove_member(
    group: GroupDep,
    organisation_id: RowId,
    session: SessionDep,
    principal: PrincipalDep,
) -> GroupPublic:
    """Take an organisation out of the group; the creator organisation always stays."""
    actor = principal.actor()
    groups.remove_member(session, actor, principal.user, group, organisation_id)
    return groups.group_public(session, group)
