"""The access predicate against an oracle written from its rule table, in Python and in SQL.

The oracle below is copied cell by cell from the table in `core/access.py`'s docstring, not
derived from the code, so a mistake in `GROUP_TLPS` or the distribution maps shows up as a
disagreement. Three layers:

- a complete small world: every marking and every viewer over four organisations and two
  sharing groups (3,840 markings x 20 viewers = 76,800 pairs). The predicate only compares
  ids for equality, so this covers every pattern of owner / recipient / group membership:
  a proof by exhaustion, checked in Python and, stored as rows, in SQL on both databases;
- Hypothesis properties, stated in words rather than through the table;
- Hypothesis worlds in SQL: random memberships, objects and recipients, where `visible_to`
  must select exactly what `can_see` allows, for every viewer.

Viewers include a half-made one: anonymous, yet carrying sharing-group ids. Nothing should
build it, and the predicate must not let it into a group if something does.

Sizes under the "ci" profile (tests/conftest.py): the no-leak property runs 10,000 examples,
the other properties the profile's 500; the SQL test runs 1,000 worlds of ten viewers, i.e.
10,000 viewer-by-world checks per backend, on top of the complete small world's 76,800.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from enum import Enum
from itertools import combinations, count

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Integer, exists, insert, literal, select, union_all
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, aliased, mapped_column

from entente.core.access import (
    ANONYMOUS,
    AccessControlled,
    AccessRecipient,
    Marking,
    Viewer,
    can_see,
    check_marking,
    visible_to,
)
from entente.core.errors import BadValue
from entente.members.accounts import load_viewer
from entente.members.models import Organisation
from entente.sharing.models import SharingGroup, SharingGroupMember
from entente.vocabulary.markings import TLP, Distribution
from tests.factories import make_organisation, make_user

NO_LEAK_CASES = 20 * settings().max_examples  # ci: 10,000; dev: 1,000
WORLD_CASES = 2 * settings().max_examples  # ci: 1,000 worlds of ten viewers each

# ---- the oracle: the docstring's table, cell by cell -----------------------------------


class Audience(Enum):
    """Who, beyond the owner and the explicit recipients, sees an object."""

    NOBODY = "-"
    GROUP = "group members"
    MEMBERS = "all members"
    EVERYONE = "everyone"


_ORG, _GROUP, _ALL, _PUBLIC = (
    Distribution.ORGANISATION,
    Distribution.SHARING_GROUP,
    Distribution.ALL_MEMBERS,
    Distribution.PUBLIC,
)
_N, _G, _M, _E = Audience.NOBODY, Audience.GROUP, Audience.MEMBERS, Audience.EVERYONE
RULE_TABLE: dict[TLP, dict[Distribution, Audience]] = {
    TLP.CLEAR: {_ORG: _N, _GROUP: _G, _ALL: _M, _PUBLIC: _E},
    TLP.GREEN: {_ORG: _N, _GROUP: _G, _ALL: _M, _PUBLIC: _M},
    TLP.AMBER: {_ORG: _N, _GROUP: _G, _ALL: _M, _PUBLIC: _N},
    TLP.AMBER_STRICT: {_ORG: _N, _GROUP: _G, _ALL: _N, _PUBLIC: _N},
    TLP.RED: {_ORG: _N, _GROUP: _N, _ALL: _N, _PUBLIC: _N},
}


def is_named(viewer: Viewer, marking: Marking) -> bool:
    """The viewer's organisation owns the object or was named as a recipient."""
    return viewer.organisation_id is not None and (
        viewer.organisation_id == marking.owner_organisation_id
        or viewer.organisation_id in marking.recipient_organisation_ids
    )


def oracle(viewer: Viewer, marking: Marking) -> bool:
    if is_named(viewer, marking):
        return True
    member = viewer.organisation_id is not None
    audience = RULE_TABLE[marking.tlp][marking.distribution]
    if audience is Audience.GROUP:
        return (
            member
            and marking.sharing_group_id is not None
            and marking.sharing_group_id in viewer.sharing_group_ids
        )
    return audience is Audience.EVERYONE or (audience is Audience.MEMBERS and member)


# ---- strategies: small id ranges, so owners, recipients and groups collide often ------

organisation_ids = st.integers(min_value=1, max_value=5)
group_ids = st.integers(min_value=1, max_value=3)
markings = st.builds(
    Marking,
    owner_organisation_id=organisation_ids,
    tlp=st.sampled_from(TLP),
    distribution=st.sampled_from(Distribution),
    sharing_group_id=st.none() | group_ids,
    recipient_organisation_ids=st.frozensets(organisation_ids, max_size=3),
)
member_viewers = st.builds(
    Viewer,
    user_id=st.integers(min_value=1, max_value=50),
    organisation_id=organisation_ids,
    sharing_group_ids=st.frozensets(group_ids, max_size=3),
)
# Nobody builds an anonymous viewer with groups on purpose; the predicate must still not
# let such a half-made viewer into a group.
anonymous_viewers = st.just(ANONYMOUS) | st.builds(
    Viewer, sharing_group_ids=st.frozensets(group_ids, min_size=1)
)
viewers = member_viewers | anonymous_viewers


def subsets(items: tuple[int, ...]) -> list[frozenset[int]]:
    return [frozenset(c) for n in range(len(items) + 1) for c in combinations(items, n)]


SMALL_ORGANISATIONS = (1, 2, 3, 4)
SMALL_GROUPS = (1, 2)
ALL_MARKINGS = [
    Marking(owner, tlp, distribution, group, recipients)
    for owner in SMALL_ORGANISATIONS
    for tlp in TLP
    for distribution in Distribution
    for group in (None, *SMALL_GROUPS)
    for recipients in subsets(SMALL_ORGANISATIONS)
]
ALL_VIEWERS = [
    *(Viewer(sharing_group_ids=groups) for groups in subsets(SMALL_GROUPS)),
    *(
        Viewer(user_id=10 * org, organisation_id=org, sharing_group_ids=groups)
        for org in SMALL_ORGANISATIONS
        for groups in subsets(SMALL_GROUPS)
    ),
]


# ---- pure Python -----------------------------------------------------------------------


@pytest.mark.parametrize("tlp", list(TLP))
@pytest.mark.parametrize("distribution", list(Distribution))
def test_each_cell_of_the_table_reaches_exactly_its_audience(
    tlp: TLP, distribution: Distribution
) -> None:
    marking = Marking(
        owner_organisation_id=1,
        tlp=tlp,
        distribution=distribution,
        sharing_group_id=7,
        recipient_organisation_ids=frozenset({2}),
    )
    in_group = Viewer(user_id=3, organisation_id=3, sharing_group_ids=frozenset({7}))
    other_member = Viewer(user_id=4, organisation_id=4, sharing_group_ids=frozenset({8}))
    audience = RULE_TABLE[tlp][distribution]
    assert can_see(Viewer(user_id=1, organisation_id=1), marking)
    assert can_see(Viewer(user_id=2, organisation_id=2), marking)
    assert can_see(in_group, marking) is (audience in {_G, _M, _E})
    assert can_see(other_member, marking) is (audience in {_M, _E})
    assert can_see(ANONYMOUS, marking) is (audience is _E)


def test_can_see_agrees_with_the_rule_table_everywhere_in_a_complete_small_world() -> None:
    assert len(ALL_MARKINGS) * len(ALL_VIEWERS) == 76_800
    disagreements = [
        (viewer, marking)
        for viewer in ALL_VIEWERS
        for marking in ALL_MARKINGS
        if can_see(viewer, marking) is not oracle(viewer, marking)
    ]
    assert disagreements == []


def test_check_marking_accepts_exactly_the_cells_that_reach_someone() -> None:
    for marking in ALL_MARKINGS:
        audience = RULE_TABLE[marking.tlp][marking.distribution]
        incomplete = marking.distribution is _GROUP and marking.sharing_group_id is None
        acceptable = marking.distribution is _ORG or (audience is not _N and not incomplete)
        try:
            check_marking(marking)
        except BadValue:
            assert not acceptable, marking
        else:
            assert acceptable, marking


@pytest.mark.slow
@settings(max_examples=NO_LEAK_CASES)
@given(viewer=viewers, marking=markings)
def test_no_viewer_sees_beyond_the_rule_table(viewer: Viewer, marking: Marking) -> None:
    visible = can_see(viewer, marking)
    assert visible is oracle(viewer, marking)
    if visible and not is_named(viewer, marking):
        audience = RULE_TABLE[marking.tlp][marking.distribution]
        assert audience is not Audience.NOBODY
        assert viewer.organisation_id is not None or audience is Audience.EVERYONE


@given(viewer=member_viewers, marking=markings)
def test_the_owner_always_sees(viewer: Viewer, marking: Marking) -> None:
    assert viewer.organisation_id is not None
    owned = Marking(
        viewer.organisation_id,
        marking.tlp,
        marking.distribution,
        marking.sharing_group_id,
        marking.recipient_organisation_ids,
    )
    assert can_see(viewer, owned)


@given(viewer=member_viewers, marking=markings)
def test_explicit_recipients_always_see(viewer: Viewer, marking: Marking) -> None:
    assert viewer.organisation_id is not None
    named = Marking(
        marking.owner_organisation_id,
        marking.tlp,
        marking.distribution,
        marking.sharing_group_id,
        marking.recipient_organisation_ids | {viewer.organisation_id},
    )
    assert can_see(viewer, named)


def with_tlp(marking: Marking, tlp: TLP) -> Marking:
    return Marking(
        marking.owner_organisation_id,
        tlp,
        marking.distribution,
        marking.sharing_group_id,
        marking.recipient_organisation_ids,
    )


def bystanders(marking: Marking) -> list[Viewer]:
    """Viewers that are never owner or recipient (organisation 99 is outside the strategies):
    one in the object's sharing group, one in no group, and anonymous. The generated viewer
    alone would hit the group-insider case too rarely to catch a leak to it."""
    in_its_group = frozenset({marking.sharing_group_id or 1})
    return [
        Viewer(user_id=99, organisation_id=99, sharing_group_ids=in_its_group),
        Viewer(user_id=98, organisation_id=98),
        ANONYMOUS,
    ]


@given(viewer=viewers, marking=markings)
def test_red_reaches_only_the_owner_and_recipients(viewer: Viewer, marking: Marking) -> None:
    red = with_tlp(marking, TLP.RED)
    for someone in [viewer, *bystanders(red)]:
        assert can_see(someone, red) is is_named(someone, red)


@given(viewer=viewers, marking=markings)
def test_amber_strict_stays_with_named_organisations_and_its_group(
    viewer: Viewer, marking: Marking
) -> None:
    strict = with_tlp(marking, TLP.AMBER_STRICT)
    for someone in [viewer, *bystanders(strict)]:
        in_its_group = (
            someone.organisation_id is not None
            and strict.distribution is Distribution.SHARING_GROUP
            and strict.sharing_group_id in someone.sharing_group_ids
        )
        assert can_see(someone, strict) is (is_named(someone, strict) or in_its_group)


@given(viewer=anonymous_viewers, marking=markings)
def test_anonymous_viewers_see_only_clear_public(viewer: Viewer, marking: Marking) -> None:
    expected = marking.tlp is TLP.CLEAR and marking.distribution is Distribution.PUBLIC
    assert can_see(viewer, marking) is expected


@given(marking=markings)
def test_check_marking_refuses_exactly_what_the_predicate_fails_closed_on(
    marking: Marking,
) -> None:
    # The one viewer a group-, member- or public-distributed object must reach: a member
    # that is neither owner nor recipient, in the object's sharing group.
    outsider = bystanders(marking)[0]
    audience = RULE_TABLE[marking.tlp][marking.distribution]
    incomplete = marking.distribution is _GROUP and marking.sharing_group_id is None
    forbidden = marking.distribution is not _ORG and audience is Audience.NOBODY
    if incomplete or forbidden:
        with pytest.raises(BadValue) as refused:
            check_marking(marking)
        assert refused.value.field == ("sharing_group_id" if incomplete else "distribution")
    else:
        check_marking(marking)
        assert can_see(outsider, marking) is (marking.distribution is not _ORG)


# ---- SQL against Python, on both databases ---------------------------------------------


class ScratchBase(DeclarativeBase):
    """Metadata Alembic never sees: the test table exists only inside a test's transaction."""


class SharedThing(AccessControlled, ScratchBase):
    __tablename__ = "test_shared_thing"
    __access_type__ = "test_thing"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The mixin's columns without their foreign keys, which would point outside this metadata.
    owner_organisation_id: Mapped[int] = mapped_column(Integer)
    sharing_group_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


POOL_ORGANISATIONS = 8
POOL_GROUPS = 3


@dataclass
class Pool:
    """Real organisations and sharing groups, created once per test; worlds index into them."""

    organisation_ids: list[int]
    group_ids: list[int]
    # Each world's objects get ids never used before. On PostgreSQL a rolled-back row stays
    # as a dead tuple until the test's transaction ends; reusing ids would make every
    # lookup wade through the dead rows of all earlier worlds.
    next_ids: Iterator[int] = field(default_factory=lambda: count(1))

    def real(self, marking: Marking) -> Marking:
        """`marking` with pool positions (1-based) turned into the stored ids."""
        org, group = self.organisation_ids, self.group_ids
        return Marking(
            org[marking.owner_organisation_id - 1],
            marking.tlp,
            marking.distribution,
            None if marking.sharing_group_id is None else group[marking.sharing_group_id - 1],
            frozenset(org[r - 1] for r in marking.recipient_organisation_ids),
        )

    def viewer(self, viewer: Viewer) -> Viewer:
        """`viewer` with pool positions turned into ids; anonymous keeps its (stale) groups."""
        groups = frozenset(self.group_ids[g - 1] for g in viewer.sharing_group_ids)
        if viewer.organisation_id is None:
            return Viewer(sharing_group_ids=groups)
        organisation_id = self.organisation_ids[viewer.organisation_id - 1]
        # The predicate never reads user_id; any user of the organisation sees the same.
        return Viewer(
            user_id=viewer.user_id, organisation_id=organisation_id, sharing_group_ids=groups
        )


@dataclass(frozen=True)
class World:
    """In pool positions: which organisation is in which group, and the objects' markings."""

    memberships: frozenset[tuple[int, int]]  # (group, organisation)
    markings: list[Marking]

    def viewers(self) -> list[Viewer]:
        """A member of every organisation, with the groups `load_viewer` would read, plus
        anonymous, plus a half-made anonymous viewer carrying every group id."""
        members = [
            Viewer(
                user_id=org,
                organisation_id=org,
                sharing_group_ids=frozenset(
                    group for group, member in self.memberships if member == org
                ),
            )
            for org in range(1, POOL_ORGANISATIONS + 1)
        ]
        return [*members, ANONYMOUS, Viewer(sharing_group_ids=frozenset(range(1, POOL_GROUPS + 1)))]


pool_organisations = st.integers(min_value=1, max_value=POOL_ORGANISATIONS)
pool_groups = st.integers(min_value=1, max_value=POOL_GROUPS)
worlds = st.builds(
    World,
    memberships=st.frozensets(st.tuples(pool_groups, pool_organisations), max_size=10),
    markings=st.lists(
        st.builds(
            Marking,
            owner_organisation_id=pool_organisations,
            tlp=st.sampled_from(TLP),
            distribution=st.sampled_from(Distribution),
            sharing_group_id=st.none() | pool_groups,
            recipient_organisation_ids=st.frozensets(pool_organisations, max_size=3),
        ),
        max_size=12,
    ),
)


@pytest.fixture
def scratch_table(connection: Connection) -> Iterator[None]:
    ScratchBase.metadata.create_all(connection)  # rolled back with the test's transaction
    yield


@pytest.fixture
def pool(session: Session, scratch_table: None) -> Pool:
    organisations = [make_organisation(session) for _ in range(POOL_ORGANISATIONS)]
    groups = [
        SharingGroup(name=f"Access test group {n}", creator_organisation_id=organisations[0].id)
        for n in range(POOL_GROUPS)
    ]
    session.add_all(groups)
    session.flush()
    return Pool([org.id for org in organisations], [group.id for group in groups])


def store(session: Session, pool: Pool, world: World) -> dict[int, Marking]:
    """Insert the world's objects and recipients; return each object's marking.

    Memberships are not stored: `visible_to` reads the viewer's groups, not the table
    (`load_viewer` has its own test below)."""
    stored = {next(pool.next_ids): pool.real(m) for m in world.markings}
    if stored:
        session.execute(
            insert(SharedThing),
            [
                {
                    "id": object_id,
                    "owner_organisation_id": m.owner_organisation_id,
                    "tlp": m.tlp,
                    "distribution": m.distribution,
                    "sharing_group_id": m.sharing_group_id,
                }
                for object_id, m in stored.items()
            ],
        )
    recipients = [
        {"object_type": SharedThing.__access_type__, "object_id": object_id, "organisation_id": r}
        for object_id, m in stored.items()
        for r in m.recipient_organisation_ids
    ]
    if recipients:
        session.execute(insert(AccessRecipient), recipients)
    return stored


def selected_by_sql(
    session: Session, viewers: list[Viewer], ids: Collection[int]
) -> list[set[int]]:
    """For each viewer, which of `ids` a query filtered by `visible_to` returns; one round trip."""
    within = SharedThing.id.between(min(ids, default=0), max(ids, default=0))
    branches = [
        select(literal(position).label("viewer"), SharedThing.id).where(
            within, visible_to(viewer, SharedThing)
        )
        for position, viewer in enumerate(viewers)
    ]
    selected: list[set[int]] = [set() for _ in viewers]
    for position, object_id in session.execute(union_all(*branches)):
        selected[position].add(object_id)
    return selected


def selected_by_nested_sql(
    session: Session, viewers: list[Viewer], ids: Collection[int]
) -> list[set[int]]:
    """As `selected_by_sql`, with the predicate one subquery below the table it filters, as
    searches use it (`EXISTS (... WHERE visible_to(outer table))`): the recipients check
    then sits two levels below that table and must still be tied to its row."""
    within = SharedThing.id.between(min(ids, default=0), max(ids, default=0))
    same = aliased(SharedThing)  # the subquery's own table, as an indicator is a search's
    branches = [
        select(literal(position).label("viewer"), SharedThing.id).where(
            within,
            exists(
                select(same.id).where(same.id == SharedThing.id, visible_to(viewer, SharedThing))
            ),
        )
        for position, viewer in enumerate(viewers)
    ]
    selected: list[set[int]] = [set() for _ in viewers]
    for position, object_id in session.execute(union_all(*branches)):
        selected[position].add(object_id)
    return selected


def assert_sql_agrees(session: Session, pool: Pool, world: World) -> None:
    stored = store(session, pool, world)
    viewers = [pool.viewer(viewer) for viewer in world.viewers()]
    flat = selected_by_sql(session, viewers, stored)
    nested = selected_by_nested_sql(session, viewers, stored)
    for viewer, selected, selected_nested in zip(viewers, flat, nested, strict=True):
        allowed = {i for i, marking in stored.items() if can_see(viewer, marking)}
        assert selected == allowed, viewer
        assert selected_nested == allowed, viewer
        assert allowed == {i for i, marking in stored.items() if oracle(viewer, marking)}


def test_sql_form_agrees_everywhere_in_the_complete_small_world(
    session: Session, pool: Pool
) -> None:
    everyone_everywhere = World(
        memberships=frozenset({(1, 1), (1, 2), (2, 2), (2, 3)}), markings=ALL_MARKINGS
    )
    assert_sql_agrees(session, pool, everyone_everywhere)


@pytest.mark.slow
@settings(
    max_examples=WORLD_CASES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds)
def test_sql_form_selects_exactly_what_the_python_form_allows(
    session: Session, pool: Pool, world: World
) -> None:
    savepoint = session.begin_nested()  # each world in its own savepoint, rolled back
    try:
        assert_sql_agrees(session, pool, world)
    finally:
        savepoint.rollback()


def test_load_viewer_carries_the_organisations_sharing_groups(session: Session, pool: Pool) -> None:
    first = make_user(session, session.get_one(Organisation, pool.organisation_ids[0]))
    second = make_user(session, session.get_one(Organisation, pool.organisation_ids[1]))
    session.add(
        SharingGroupMember(
            sharing_group_id=pool.group_ids[2], organisation_id=first.organisation_id
        )
    )
    session.flush()
    assert load_viewer(session, first) == Viewer(
        user_id=first.id,
        organisation_id=first.organisation_id,
        sharing_group_ids=frozenset({pool.group_ids[2]}),
    )
    assert load_viewer(session, second).sharing_group_ids == frozenset()
