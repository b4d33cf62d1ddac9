"""Member states and organisations: the registry every other capability hangs off."""

from __future__ import annotations

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from entente.core import audit
from entente.core.audit import Actor
from entente.core.errors import BadValue, Conflict, NotFound, PermissionDenied, translate_db_errors
from entente.core.pagination import Page, PageRequest, paginate
from entente.members.choices import Role
from entente.members.filters import MemberStateFilter, OrganisationFilter
from entente.members.models import MemberState, Organisation, User
from entente.members.schemas import (
    MemberStatePublic,
    OrganisationCreate,
    OrganisationPublic,
    OrganisationUpdate,
)


def _organisation_counts() -> Select[int, int]:
    return select(Organisation.member_state_id, func.count(Organisation.id)).group_by(
        Organisation.member_state_id
    )


def list_member_states(
    session: Session, filters: MemberStateFilter, page: PageRequest
) -> Page[MemberStatePublic]:
    """Member states ordered by name, with how many organisations each has."""
    query = select(MemberState)
    if filters.region is not None:
        query = query.where(MemberState.region == filters.region)
    if filters.q:
        like = f"%{filters.q.lower()}%"
        query = query.where(
            or_(
                func.lower(MemberState.name).like(like),
                func.lower(MemberState.alpha2) == filters.q.lower(),
            )
        )
    result = paginate(session, query, [MemberState.name, MemberState.id], page)
    counts = {state_id: count for state_id, count in session.execute(_organisation_counts())}
    return Page(
        items=[_member_state_public(state, counts.get(state.id, 0)) for state in result.items],
        next_cursor=result.next_cursor,
        count=result.count,
    )


def get_member_state(session: Session, code: str) -> MemberState:
    """Look a member state up by alpha-2 or alpha-3 code, case-insensitively."""
    code = code.strip().upper()
    column = MemberState.alpha2 if len(code) == 2 else MemberState.alpha3
    state = session.scalar(select(MemberState).where(column == code))
    if state is None:
        raise NotFound(f"no ITU member state with code '{code}'", field="member_state", value=code)
    return state


def member_state_public(session: Session, state: MemberState) -> MemberStatePublic:
    count = session.scalar(
        select(func.count(Organisation.id)).where(Organisation.member_state_id == state.id)
    )
    return _member_state_public(state, count or 0)


def _member_state_public(state: MemberState, organisation_count: int) -> MemberStatePublic:
    return MemberStatePublic(
        alpha2=state.alpha2,
        alpha3=state.alpha3,
        numeric=state.numeric,
        name=state.name,
        region=state.region,
        region_label=state.region.label,
        organisation_count=organisation_count,
    )


def organisations_per_member_state(session: Session) -> list[tuple[MemberState, int]]:
    """Every member state with its number of organisations, for the world map."""
    counts = {state_id: count for state_id, count in session.execute(_organisation_counts())}
    states = session.scalars(select(MemberState).order_by(MemberState.name))
    return [(state, counts.get(state.id, 0)) for state in states]


def list_organisations(
    session: Session, filters: OrganisationFilter, page: PageRequest
) -> Page[OrganisationPublic]:
    query = select(Organisation).join(MemberState)
    if filters.member_state:
        query = query.where(MemberState.alpha2 == filters.member_state.strip().upper())
    if filters.type is not None:
        query = query.where(Organisation.type == filters.type)
    if filters.region is not None:
        query = query.where(MemberState.region == filters.region)
    if filters.q:
        like = f"%{filters.q.lower()}%"
        query = query.where(
            or_(
                func.lower(Organisation.name).like(like),
                func.lower(Organisation.short_name).like(like),
            )
        )
    result = paginate(session, query, [Organisation.name, Organisation.id], page)
    user_counts = _user_counts(session, [org.id for org in result.items])
    return Page(
        items=[organisation_public(org, user_counts.get(org.id, 0)) for org in result.items],
        next_cursor=result.next_cursor,
        count=result.count,
    )


def _user_counts(session: Session, organisation_ids: list[int]) -> dict[int, int]:
    if not organisation_ids:
        return {}
    rows = session.execute(
        select(User.organisation_id, func.count(User.id))
        .where(User.organisation_id.in_(organisation_ids))
        .group_by(User.organisation_id)
    )
    return {organisation_id: count for organisation_id, count in rows}


def get_organisation(session: Session, organisation_id: int) -> Organisation:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound(
            f"no organisation with id {organisation_id}",
            field="organisation_id",
            value=organisation_id,
        )
    return organisation


def find_organisation(session: Session, reference: str) -> Organisation:
    """An organisation by id, name or short name (case-insensitive): what an operator types."""
    reference = reference.strip()
    if reference.isdigit():
        return get_organisation(session, int(reference))
    # Names are unique; short names are not, so one only counts when it is unambiguous.
    by_name = session.scalar(
        select(Organisation).where(func.lower(Organisation.name) == reference.lower())
    )
    if by_name is not None:
        return by_name
    same_short_name = func.lower(Organisation.short_name) == reference.lower()
    by_short_name = list(session.scalars(select(Organisation).where(same_short_name).limit(2)))
    if len(by_short_name) != 1:
        problem = "no organisation" if not by_short_name else "more than one organisation"
        raise NotFound(f"{problem} named '{reference}'", field="organisation", value=reference)
    return by_short_name[0]


def organisation_public(
    organisation: Organisation, user_count: int | None = None
) -> OrganisationPublic:
    return OrganisationPublic(
        id=organisation.id,
        name=organisation.name,
        short_name=organisation.short_name,
        type=organisation.type,
        member_state=organisation.member_state.alpha2,
        website=organisation.website,
        description=organisation.description,
        is_active=organisation.is_active,
        created_at=organisation.created_at,
        user_count=len(organisation.users) if user_count is None else user_count,
    )


def create_organisation(session: Session, actor: Actor, data: OrganisationCreate) -> Organisation:
    """Register an organisation of a member state; names are unique across the hub."""
    state = _known_member_state(session, data.member_state)
    _refuse_taken_name(session, data.name)
    organisation = Organisation(
        name=data.name,
        short_name=data.short_name,
        type=data.type,
        member_state_id=state.id,
        website=data.website,
        description=data.description,
    )
    with translate_db_errors():
        session.add(organisation)
        session.flush()
        audit.record(
            session,
            actor,
            "organisation.create",
            ("organisation", organisation.id),
            name=organisation.name,
            member_state=state.alpha2,
        )
        session.commit()
    return organisation


def update_organisation(
    session: Session, actor: Actor, organisation: Organisation, data: OrganisationUpdate
) -> Organisation:
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] != organisation.name:
        _refuse_taken_name(session, changes["name"])
    for key, value in changes.items():
        setattr(organisation, key, value)
    with translate_db_errors():
        audit.record(
            session,
            actor,
            "organisation.update",
            ("organisation", organisation.id),
            **{k: str(v) for k, v in changes.items()},
        )
        session.commit()
    return organisation


def _known_member_state(session: Session, code: str) -> MemberState:
    try:
        return get_member_state(session, code)
    except NotFound as exc:
        raise BadValue(exc.message, field="member_state", value=code) from exc


def _refuse_taken_name(session: Session, name: str) -> None:
    taken = session.scalar(
        select(Organisation.id).where(func.lower(Organisation.name) == name.lower())
    )
    if taken is not None:
        raise Conflict(f"an organisation named '{name}' already exists", field="name", value=name)


def check_may_edit_organisation(user: User, organisation: Organisation) -> None:
    if user.role is Role.ADMIN:
        return
    if user.role is Role.ORG_ADMIN and user.organisation_id == organisation.id:
        return
    raise PermissionDenied("only platform admins and this organisation's admins may edit it")
