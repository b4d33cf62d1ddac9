"""Sharing groups: named sets of organisations (a region's CERTs, a sector's ISAC).

Data distributed to a group reaches its member organisations (see `core/access.py`). Who is
in a group is not secret, as in MISP: every member of the hub sees each group's name and
member list. Only the creator organisation manages a group (its org-admins and analysts),
besides platform admins; the creator is always a member, so it can never lock itself out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from entente.core import audit
from entente.core.audit import Actor
from entente.core.errors import BadValue, Conflict, NotFound, PermissionDenied, translate_db_errors
from entente.core.pagination import Page, PageRequest, paginate
from entente.members.choices import Role
from entente.members.models import MemberState, Organisation, User
from entente.members.service import get_organisation
from entente.sharing.group_schemas import (
    GroupCreate,
    GroupFilter,
    GroupMemberPublic,
    GroupPublic,
    GroupUpdate,
)
from entente.sharing.models import SharingGroup, SharingGroupMember

# Roles of the creator organisation that may change its groups.
GROUP_EDITORS = frozenset({Role.ORG_ADMIN, Role.ANALYST})
# Roles that may start a group (platform admins too, for any organisation).
GROUP_CREATORS = frozenset({Role.ADMIN, Role.ORG_ADMIN})


# ---- reading ---------------------------------------------------------------------------


def list_groups(session: Session, filters: GroupFilter, page: PageRequest) -> Page[GroupPublic]:
    """Every sharing group of the hub, by name, optionally one organisation's or by name part."""
    query = select(SharingGroup)
    if filters.q:
        query = query.where(func.lower(SharingGroup.name).like(f"%{filters.q.lower()}%"))
    if filters.organisation_id is not None:
        query = query.where(
            SharingGroup.id.in_(
                select(SharingGroupMember.sharing_group_id).where(
                    SharingGroupMember.organisation_id == filters.organisation_id
                )
            )
        )
    result = paginate(session, query, [SharingGroup.name, SharingGroup.id], page)
    return Page(
        items=group_publics(session, result.items),
        next_cursor=result.next_cursor,
        count=result.count,
    )


def get_group(session: Session, group_id: int) -> SharingGroup:
    group = session.get(SharingGroup, group_id)
    if group is None:
        raise NotFound(
            f"no sharing group with id {group_id}", field="sharing_group_id", value=group_id
        )
    return group


def find_group(session: Session, reference: str) -> SharingGroup:
    """A group by id or name (case-insensitive): what an operator types."""
    reference = reference.strip()
    if reference.isdigit():
        return get_group(session, int(reference))
    group = session.scalar(
        select(SharingGroup).where(func.lower(SharingGroup.name) == reference.lower())
    )
    if group is None:
        raise NotFound(f"no sharing group named '{reference}'", field="group", value=reference)
    return group


def member_ids(session: Session, group: SharingGroup) -> set[int]:
    return set(
        session.scalars(
            select(SharingGroupMember.organisation_id).where(
                SharingGroupMember.sharing_group_id == group.id
            )
        )
    )


def group_public(session: Session, group: SharingGroup) -> GroupPublic:
    return group_publics(session, [group])[0]


def group_publics(session: Session, groups: Iterable[SharingGroup]) -> list[GroupPublic]:
    """Groups with their creator and members, in two queries however many groups there are."""
    groups = list(groups)
    ids = [group.id for group in groups]
    members: dict[int, list[GroupMemberPublic]] = defaultdict(list)
    if ids:
        rows = session.execute(
            select(SharingGroupMember.sharing_group_id, Organisation.id, Organisation.name)
            .add_columns(MemberState.alpha2)
            .join(Organisation, Organisation.id == SharingGroupMember.organisation_id)
            .join(MemberState, MemberState.id == Organisation.member_state_id)
            .where(SharingGroupMember.sharing_group_id.in_(ids))
            .order_by(Organisation.name)
        )
        for group_id, org_id, org_name, alpha2 in rows:
            members[group_id].append(
                GroupMemberPublic(id=org_id, name=org_name, member_state=alpha2)
            )
    creator_ids = {group.creator_organisation_id for group in groups}
    rows = session.execute(
        select(Organisation.id, Organisation.name).where(Organisation.id.in_(creator_ids))
    )
    creators = {organisation_id: name for organisation_id, name in rows}
    return [
        GroupPublic(
            id=group.id,
            name=group.name,
            releasability=group.releasability,
            creator_organisation_id=group.creator_organisation_id,
            creator_organisation_name=creators[group.creator_organisation_id],
            created_at=group.created_at,
            member_count=len(members[group.id]),
            members=members[group.id],
        )
        for group in groups
    ]


# ---- who may change what ---------------------------------------------------------------


def check_may_create(by: User | None, creator_organisation_id: int) -> None:
    """Org-admins start groups for their own organisation; platform admins for any."""
    if by is None or by.role is Role.ADMIN:
        return
    if by.role not in GROUP_CREATORS:
        raise PermissionDenied("only organisation admins and platform admins may create groups")
    if creator_organisation_id != by.organisation_id:
        raise PermissionDenied(
            "you may only create groups managed by your own organisation",
            field="creator_organisation_id",
        )


def check_may_manage(by: User | None, group: SharingGroup) -> None:
    """The CLI operator (`by` None), platform admins, and the creator's org-admins and analysts."""
    if by is None or by.role is Role.ADMIN:
        return
    if by.organisation_id == group.creator_organisation_id and by.role in GROUP_EDITORS:
        return
    raise PermissionDenied(
        "only the organisation that created this group (or a platform admin) may change it"
    )


def may_manage(by: User, group: SharingGroup) -> bool:
    try:
        check_may_manage(by, group)
    except PermissionDenied:
        return False
    return True


# ---- writing ---------------------------------------------------------------------------


def create_group(
    session: Session, actor: Actor, by: User | None, data: GroupCreate
) -> SharingGroup:
    """A new group managed by its creator organisation, which is always its first member."""
    creator_id = data.creator_organisation_id
    if creator_id is None:
        if by is None:
            raise BadValue("name the creator organisation", field="creator_organisation_id")
        creator_id = by.organisation_id
    check_may_create(by, creator_id)
    creator = _known_organisation(session, creator_id, "creator_organisation_id")
    others = [
        _known_organisation(session, i, "member_organisation_ids")
        for i in set(data.member_organisation_ids)
    ]
    _refuse_taken_name(session, data.name)
    group = SharingGroup(
        name=data.name, releasability=data.releasability, creator_organisation_id=creator.id
    )
    with translate_db_errors():
        session.add(group)
        session.flush()
        members = {creator.id: creator, **{org.id: org for org in others}}
        session.add_all(
            SharingGroupMember(sharing_group_id=group.id, organisation_id=org_id)
            for org_id in members
        )
        audit.record(
            session,
            actor,
            "sharing_group.create",
            ("sharing_group", group.id),
            name=group.name,
            creator=creator.name,
            members=sorted(org.name for org in members.values()),
        )
        session.commit()
    return group


def update_group(
    session: Session, actor: Actor, by: User | None, group: SharingGroup, data: GroupUpdate
) -> SharingGroup:
    """Rename a group or change its releasability note."""
    check_may_manage(by, group)
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"].lower() != group.name.lower():
        _refuse_taken_name(session, changes["name"])
    for key, value in changes.items():
        setattr(group, key, value)
    with translate_db_errors():
        audit.record(session, actor, "sharing_group.update", ("sharing_group", group.id), **changes)
        session.commit()
    return group


def add_member(
    session: Session, actor: Actor, by: User | None, group: SharingGroup, organisation_id: int
) -> Organisation:
    """Add an organisation to a group; adding a member again changes nothing."""
    check_may_manage(by, group)
    organisation = get_organisation(session, organisation_id)
    if organisation.id in member_ids(session, group):
        return organisation
    with translate_db_errors():
        session.add(SharingGroupMember(sharing_group_id=group.id, organisation_id=organisation.id))
        audit.record(
            session,
            actor,
            "sharing_group.add_member",
            ("sharing_group", group.id),
            organisation_id=organisation.id,
            organisation=organisation.name,
        )
        session.commit()
    return organisation


def remove_member(
    session: Session, actor: Actor, by: User | None, group: SharingGroup, organisation_id: int
) -> Organisation:
    """Take an organisation out of a group; the creator organisation cannot be removed."""
    check_may_manage(by, group)
    organisation = get_organisation(session, organisation_id)
    if organisation.id == group.creator_organisation_id:
        raise Conflict(
            "the creator organisation manages the group and always stays a member",
            field="organisation_id",
            value=organisation_id,
        )
    if organisation.id not in member_ids(session, group):
        raise NotFound(
            f"'{organisation.name}' is not a member of '{group.name}'",
            field="organisation_id",
            value=organisation_id,
        )
    with translate_db_errors():
        session.execute(
            delete(SharingGroupMember).where(
                SharingGroupMember.sharing_group_id == group.id,
                SharingGroupMember.organisation_id == organisation.id,
            )
        )
        audit.record(
            session,
            actor,
            "sharing_group.remove_member",
            ("sharing_group", group.id),
            organisation_id=organisation.id,
            organisation=organisation.name,
        )
        session.commit()
    return organisation


def delete_group(session: Session, actor: Actor, by: User | None, group: SharingGroup) -> None:
    """Delete a group and its memberships; data still distributed to it makes this a 409."""
    check_may_manage(by, group)
    with translate_db_errors():
        session.execute(
            delete(SharingGroupMember).where(SharingGroupMember.sharing_group_id == group.id)
        )
        audit.record(
            session, actor, "sharing_group.delete", ("sharing_group", group.id), name=group.name
        )
        session.delete(group)
        session.commit()


def _known_organisation(session: Session, organisation_id: int, field: str) -> Organisation:
    """An organisation named in a request body: unknown is bad input (422), not a 404 path."""
    try:
        return get_organisation(session, organisation_id)
    except NotFound as exc:
        raise BadValue(exc.message, field=field, value=organisation_id) from exc


def _refuse_taken_name(session: Session, name: str) -> None:
    taken = session.scalar(
        select(SharingGroup.id).where(func.lower(SharingGroup.name) == name.lower())
    )
    if taken is not None:
        raise Conflict(f"a sharing group named '{name}' already exists", field="name", value=name)
