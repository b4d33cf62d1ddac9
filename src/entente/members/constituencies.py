"""Constituencies: what each organisation is responsible for, and where its alerts go.

An organisation declares IP prefixes, AS numbers and domains (each with its subdomains); a
national CERT may also declare its own country, the fallback for whatever no one else
claims. The routing index (`pipeline/routing.py`) reads `all_constituencies`; routing order
is longest prefix, then AS number, then longest domain suffix, then country.

Who may see: every member of the hub (like RIPE's abuse-c, a constituency is meant to be
known). Who may change: platform admins, the organisation's own org-admins, and the hub
operator at the CLI (`by` None). Every write is audited.
"""

from __future__ import annotations

import ipaddress

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.orm import Session, joinedload

from entente.core import audit
from entente.core.audit import Actor
from entente.core.errors import BadValue, Conflict, NotFound, PermissionDenied, translate_db_errors
from entente.core.pagination import Page, PageRequest, paginate
from entente.members.choices import ConstituencyKind, OrganisationType, Role
from entente.members.constituency_schemas import ConstituencyCreate, ConstituencyPublic
from entente.members.constituency_values import CanonicalValue, canonical_value
from entente.members.filters import ConstituencyFilter
from entente.members.models import (
    Constituency,
    ConstituencyContact,
    MemberState,
    Organisation,
    User,
)
from entente.members.service import get_organisation
from entente.sharing.indicators.addresses import network_range
from entente.sharing.indicators.canonical import canonical_asn
from entente.sharing.indicators.network import canonical_domain

# What the routing index is built from: (organisation id, kind, canonical value).
ConstituencyEntry = tuple[int, ConstituencyKind, str]


# ---- who may change what ---------------------------------------------------------------


def check_may_change(by: User | None, organisation: Organisation) -> None:
    """Platform admins and the organisation's own org-admins; analysts and readers may not."""
    if by is None or by.role is Role.ADMIN:
        return
    if by.role is Role.ORG_ADMIN and by.organisation_id == organisation.id:
        return
    raise PermissionDenied(
        f"only platform admins and the organisation admins of {organisation.name} may change "
        "its constituency",
        field="organisation_id",
    )


def may_change(by: User, organisation: Organisation) -> bool:
    try:
        check_may_change(by, organisation)
    except PermissionDenied:
        return False
    return True


# ---- reading ---------------------------------------------------------------------------


def list_constituencies(
    session: Session, filters: ConstituencyFilter, page: PageRequest
) -> Page[ConstituencyPublic]:
    """Entries in routing order: prefixes by address, AS numbers, domains, countries."""
    query = select(Constituency).options(joinedload(Constituency.organisation))
    if filters.organisation_id is not None:
        query = query.where(Constituency.organisation_id == filters.organisation_id)
    if filters.kind is not None:
        query = query.where(Constituency.kind == filters.kind)
    if filters.q and filters.q.strip():
        query = query.where(_matching(filters.q.strip()))
    result = paginate(session, query, [Constituency.sort_key, Constituency.id], page)
    return Page([constituency_public(c) for c in result.items], result.next_cursor, result.count)


def _matching(q: str) -> ColumnElement[bool]:
    """What `q` covers or looks like: the prefixes overlapping an address or prefix, the
    domains a host name is under, the AS it names, or any value containing the text."""
    conditions: list[ColumnElement[bool]] = [func.lower(Constituency.value).like(f"%{q.lower()}%")]
    try:
        addresses = network_range(str(ipaddress.ip_network(q, strict=False)))
        conditions.append(
            and_(
                Constituency.kind == ConstituencyKind.PREFIX,
                Constituency.net_low <= addresses.high,
                Constituency.net_high >= addresses.low,
            )
        )
    except (ValueError, BadValue):
        pass
    try:
        number = canonical_asn(q).removeprefix("AS")
        conditions.append(
            and_(Constituency.kind == ConstituencyKind.ASN, Constituency.value == number)
        )
    except ValueError:
        pass
    try:
        labels = canonical_domain(q.removeprefix("*.")).split(".")
        suffixes = [".".join(labels[i:]) for i in range(len(labels) - 1)]
        conditions.append(
            and_(Constituency.kind == ConstituencyKind.DOMAIN, Constituency.value.in_(suffixes))
        )
    except ValueError:
        pass
    return or_(*conditions)


def get_constituency(session: Session, constituency_id: int) -> Constituency:
    constituency = session.get(Constituency, constituency_id)
    if constituency is None:
        raise NotFound(
            f"no constituency entry with id {constituency_id}",
            field="constituency_id",
            value=constituency_id,
        )
    return constituency


def constituency_public(constituency: Constituency) -> ConstituencyPublic:
    return ConstituencyPublic(
        id=constituency.id,
        organisation_id=constituency.organisation_id,
        organisation_name=constituency.organisation.name,
        kind=constituency.kind,
        value=constituency.value,
        created_at=constituency.created_at,
    )


def counts_by_kind(session: Session, organisation_id: int) -> dict[ConstituencyKind, int]:
    """How many entries of each kind an organisation has (every kind present, zero or not)."""
    rows = session.execute(
        select(Constituency.kind, func.count(Constituency.id))
        .where(Constituency.organisation_id == organisation_id)
        .group_by(Constituency.kind)
    )
    counts = {kind: 0 for kind in ConstituencyKind}
    counts.update({ConstituencyKind(kind): count for kind, count in rows})
    return counts


def all_constituencies(session: Session) -> list[ConstituencyEntry]:
    """Every entry of every active organisation, for the routing index.

    An inactive organisation receives nothing, so its entries are left out here rather than
    filtered in the pipeline.
    """
    rows = session.execute(
        select(Constituency.organisation_id, Constituency.kind, Constituency.value)
        .join(Organisation, Organisation.id == Constituency.organisation_id)
        .where(Organisation.is_active.is_(True))
        .order_by(Constituency.id)
    )
    return [(organisation_id, kind, value) for organisation_id, kind, value in rows]


# ---- writing ---------------------------------------------------------------------------


def canonical_for(
    session: Session, organisation: Organisation, kind: ConstituencyKind, raw: str
) -> CanonicalValue:
    """The stored form of `raw`, checking what only the organisation can say (countries)."""
    value = canonical_value(kind, raw)
    if kind is ConstituencyKind.COUNTRY:
        _check_country(session, organisation, value.value)
    return value


def may_declare_country(organisation: Organisation) -> bool:
    """A whole country is the fallback of its national CERT, and of no one else."""
    return organisation.type is OrganisationType.NATIONAL_CERT


def _check_country(session: Session, organisation: Organisation, code: str) -> None:
    if not may_declare_country(organisation):
        raise PermissionDenied(
            f"only a national CERT may declare a whole country; {organisation.name} is a "
            f"{organisation.type.label.lower()}",
            field="kind",
            value=ConstituencyKind.COUNTRY.value,
        )
    known = session.scalar(select(MemberState.id).where(MemberState.alpha2 == code))
    if known is None:
        raise BadValue(
            f"'{code}' is not an ITU member state's alpha-2 code", field="value", value=code
        )
    own = organisation.member_state
    if known != own.id:
        raise BadValue(
            f"{organisation.name} is the national CERT of {own.name}, so the country it may "
            f"declare is {own.alpha2}",
            field="value",
            value=code,
        )


def find_existing(
    session: Session, organisation_id: int, kind: ConstituencyKind, value: str
) -> Constituency | None:
    return session.scalar(
        select(Constituency).where(
            Constituency.organisation_id == organisation_id,
            Constituency.kind == kind,
            Constituency.value == value,
        )
    )


def new_constituency(
    organisation: Organisation, kind: ConstituencyKind, value: CanonicalValue
) -> Constituency:
    return Constituency(
        organisation_id=organisation.id,
        kind=kind,
        value=value.value,
        sort_key=value.sort_key,
        net_low=value.net_low,
        net_high=value.net_high,
    )


def add_constituency(
    session: Session, actor: Actor, by: User | None, data: ConstituencyCreate
) -> Constituency:
    """Declare one entry; the same entry twice for one organisation is a conflict."""
    organisation = get_organisation(session, data.organisation_id)
    check_may_change(by, organisation)
    value = canonical_for(session, organisation, data.kind, data.value)
    if find_existing(session, organisation.id, data.kind, value.value) is not None:
        raise Conflict(
            f"{organisation.name} already declares {data.kind.label.lower()} {value.value}",
            field="value",
            value=value.value,
        )
    constituency = new_constituency(organisation, data.kind, value)
    with translate_db_errors():
        session.add(constituency)
        session.flush()
        audit.record(
            session,
            actor,
            "constituency.add",
            ("constituency", constituency.id),
            organisation=organisation.name,
            kind=data.kind.value,
            value=value.value,
        )
        session.commit()
    return constituency


def remove_constituency(
    session: Session, actor: Actor, by: User | None, constituency: Constituency
) -> None:
    """Remove an entry and the contacts attached to that entry only (named in the audit log)."""
    organisation = constituency.organisation
    check_may_change(by, organisation)
    contacts = list(
        session.scalars(
            select(ConstituencyContact.email).where(
                ConstituencyContact.constituency_id == constituency.id
            )
        )
    )
    with translate_db_errors():
        audit.record(
            session,
            actor,
            "constituency.remove",
            ("constituency", constituency.id),
            organisation=organisation.name,
            kind=constituency.kind.value,
            value=constituency.value,
            removed_contacts=", ".join(contacts),
        )
        session.execute(
            delete(ConstituencyContact).where(
                ConstituencyContact.constituency_id == constituency.id
            )
        )
        session.delete(constituency)
        session.commit()
