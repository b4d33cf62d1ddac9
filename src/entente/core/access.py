"""The single access predicate: who may see a shared object.

Every read of shared data (lists, details, search, facets, counts, correlation, exports,
TAXII, federation) goes through `can_see` (Python form, for one loaded object) or
`visible_to` (SQL form, a filter inside a query). Both are written from the same rule table
below, and property tests check that they agree on SQLite and PostgreSQL.

The rule: an object is visible to the *owner organisation*, to the organisations named as
*explicit recipients*, and otherwise to the audience of its *distribution* capped by its
*TLP 2.0* marking (https://www.first.org/tlp/):

    distribution ->   organisation   sharing_group    all_members    public
    TLP:CLEAR         -              group members    all members    everyone (anonymous too)
    TLP:GREEN         -              group members    all members    all members (community)
    TLP:AMBER         -              group members    all members    -  (fail closed)
    TLP:AMBER+STRICT  -              group members    -              -
    TLP:RED           -              -                -              -

Why these caps: GREEN is limited to the community, so "public" shrinks to members. AMBER
may reach the recipients the source chooses, and the partnership's vetted members are such a
set (as in MISP's "all communities"), but never the public. AMBER+STRICT keeps the data inside
each recipient organisation, so it travels only to named organisations (a sharing group or
explicit recipients), never as a broadcast. RED is for named recipients only. A combination
outside the table is refused at write time by `check_marking`, and fails closed here.

No role bypasses this predicate, not even a platform admin: administering the hub is not a
licence to read what members shared in confidence.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Integer,
    String,
    and_,
    exists,
    false,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from entente.core.db import Base, str_enum
from entente.core.errors import BadValue
from entente.vocabulary.markings import TLP, Distribution

# The audience table above, as data: for each distribution, the TLPs that reach
# group members (via the sharing group), any member organisation, or anyone at all.
GROUP_TLPS = frozenset({TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT})
MEMBER_TLPS_BY_DISTRIBUTION: dict[Distribution, frozenset[TLP]] = {
    Distribution.ALL_MEMBERS: frozenset({TLP.CLEAR, TLP.GREEN, TLP.AMBER}),
    Distribution.PUBLIC: frozenset({TLP.CLEAR, TLP.GREEN}),
}
ANONYMOUS_TLPS_BY_DISTRIBUTION: dict[Distribution, frozenset[TLP]] = {
    Distribution.PUBLIC: frozenset({TLP.CLEAR}),
}


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: a user of a member organisation, or nobody (anonymous, public pages)."""

    user_id: int | None = None
    organisation_id: int | None = None
    sharing_group_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_member(self) -> bool:
        return self.organisation_id is not None


ANONYMOUS = Viewer()


@dataclass(frozen=True, slots=True)
class Marking:
    """The access-relevant facts of one shared object."""

    owner_organisation_id: int
    tlp: TLP
    distribution: Distribution
    sharing_group_id: int | None = None
    recipient_organisation_ids: frozenset[int] = field(default_factory=frozenset)


def can_see(viewer: Viewer, marking: Marking) -> bool:
    """True when `viewer` may see an object marked `marking` (Python form of the rule table)."""
    if viewer.organisation_id is not None and (
        viewer.organisation_id == marking.owner_organisation_id
        or viewer.organisation_id in marking.recipient_organisation_ids
    ):
        return True
    if marking.distribution is Distribution.SHARING_GROUP:
        # Group membership counts only for a member: a viewer without an organisation
        # carrying group ids is half-made, and the predicate fails closed on it.
        return (
            viewer.is_member
            and marking.tlp in GROUP_TLPS
            and marking.sharing_group_id is not None
            and marking.sharing_group_id in viewer.sharing_group_ids
        )
    table = MEMBER_TLPS_BY_DISTRIBUTION if viewer.is_member else ANONYMOUS_TLPS_BY_DISTRIBUTION
    return marking.tlp in table.get(marking.distribution, frozenset())


def check_marking(marking: Marking) -> None:
    """Refuse, at write time, a marking whose distribution the TLP forbids or that is incomplete."""
    if marking.distribution is Distribution.SHARING_GROUP and marking.sharing_group_id is None:
        raise BadValue(
            "distribution 'sharing_group' needs a sharing group",
            field="sharing_group_id",
            value=None,
        )
    allowed = marking.distribution is Distribution.ORGANISATION or (
        marking.tlp in GROUP_TLPS
        if marking.distribution is Distribution.SHARING_GROUP
        else marking.tlp in MEMBER_TLPS_BY_DISTRIBUTION[marking.distribution]
    )
    if not allowed:
        raise BadValue(
            f"{marking.tlp.label} may not be distributed to '{marking.distribution.value}'",
            field="distribution",
            value=marking.distribution.value,
        )


class AccessRecipient(Base):
    """Organisations an object was shared with by name, whatever its distribution."""

    __tablename__ = "access_recipient"

    object_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    object_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class AccessControlled:
    """Mixin for shared objects: the columns the predicate reads. Set `__access_type__`."""

    __access_type__: str

    @declared_attr
    def owner_organisation_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("organisation.id"), index=True)

    @declared_attr
    def tlp(cls) -> Mapped[TLP]:
        return mapped_column(str_enum(TLP, 16), index=True)

    @declared_attr
    def distribution(cls) -> Mapped[Distribution]:
        return mapped_column(str_enum(Distribution, 16))

    @declared_attr
    def sharing_group_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("sharing_group.id"), index=True, nullable=True)


@dataclass(frozen=True, slots=True)
class AccessColumns:
    """Where a query finds the access facts of the rows it filters.

    Usually the columns of one `AccessControlled` model (`columns_of`). A child object that
    inherits its parent's audience but carries its own, stricter TLP (an indicator inside an
    event) combines the parent's owner, distribution, group and recipients with its own TLP.
    """

    access_type: str
    object_id: Any
    owner_organisation_id: Any
    tlp: Any
    distribution: Any
    sharing_group_id: Any


def columns_of(model: Any) -> AccessColumns:
    return AccessColumns(
        access_type=model.__access_type__,
        object_id=model.id,
        owner_organisation_id=model.owner_organisation_id,
        tlp=model.tlp,
        distribution=model.distribution,
        sharing_group_id=model.sharing_group_id,
    )


def visible_to(viewer: Viewer, target: Any) -> ColumnElement[bool]:
    """The SQL form of `can_see`: a WHERE clause selecting the rows `viewer` may see.

    `target` is an `AccessControlled` model or an `AccessColumns`.
    """
    cols = target if isinstance(target, AccessColumns) else columns_of(target)
    clauses: list[ColumnElement[bool]] = []
    if viewer.organisation_id is not None:
        clauses.append(cols.owner_organisation_id == viewer.organisation_id)
        # `correlate_except`: the object's table may sit more than one query level above
        # this subquery (a predicate inside an EXISTS of a search); auto-correlation reaches
        # only the level just above, and the table would then join in uncorrelated, asking
        # "is the viewer a named recipient of *any* object?", which leaked.
        clauses.append(
            exists(
                select(AccessRecipient.object_id)
                .where(
                    AccessRecipient.object_type == cols.access_type,
                    AccessRecipient.object_id == cols.object_id,
                    AccessRecipient.organisation_id == viewer.organisation_id,
                )
                .correlate_except(AccessRecipient)
            )
        )
    if viewer.is_member and viewer.sharing_group_ids:
        clauses.append(
            and_(
                cols.distribution == Distribution.SHARING_GROUP,
                cols.tlp.in_(_sorted(GROUP_TLPS)),
                cols.sharing_group_id.in_(sorted(viewer.sharing_group_ids)),
            )
        )
    table = MEMBER_TLPS_BY_DISTRIBUTION if viewer.is_member else ANONYMOUS_TLPS_BY_DISTRIBUTION
    for dist, tlps in table.items():
        clauses.append(and_(cols.distribution == dist, cols.tlp.in_(_sorted(tlps))))
    return or_(*clauses) if clauses else false()


def _sorted(tlps: Collection[TLP]) -> list[TLP]:
    return sorted(tlps, key=lambda t: t.rank)
