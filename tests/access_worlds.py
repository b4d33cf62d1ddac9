"""The organisations and sharing groups the access property tests build their worlds in.

Four organisations in two overlapping sharing groups (organisation 1 is in both), one
analyst each. Every property test (sharing, STIX, MISP, TAXII, exports) plans its own
events over this pool with hypothesis and compares what a viewer gets with what
`core.access.can_see` allows; they share the pool, the viewer a plan says an organisation
is (independent of `load_viewer`, which is under test too), and which plans may be written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from hypothesis import strategies as st
from sqlalchemy.orm import Session

from entente.core.access import Marking, Viewer, check_marking
from entente.core.errors import BadValue
from entente.members.accounts import Principal, load_viewer
from entente.members.models import User
from entente.sharing.schemas import EventCreate
from entente.vocabulary.markings import TLP, Distribution
from tests.factories import make_organisation, make_sharing_group, make_user

ORGANISATIONS = 4
GROUPS = {0: (0, 1), 1: (1, 2, 3)}  # group index -> member organisation indexes
organisation_indexes = st.integers(0, ORGANISATIONS - 1)


@dataclass(frozen=True)
class PlannedAudience:
    """Whom a planned event reaches, by organisation and group index; a test's own plan
    extends it with what the event holds."""

    owner: int
    tlp: TLP
    distribution: Distribution
    group: int
    recipients: frozenset[int]


# The strategies of `PlannedAudience`'s fields, for `planned`.
AUDIENCE = {
    "owner": organisation_indexes,
    "tlp": st.sampled_from(TLP),
    "distribution": st.sampled_from(Distribution),
    "group": st.sampled_from(sorted(GROUPS)),
    "recipients": st.frozensets(organisation_indexes, max_size=2),
}


def planned(plan_type: type[Any], **fields: Any) -> st.SearchStrategy[Any]:
    """Plans of `plan_type` (a `PlannedAudience`) that can be written; `fields` gives the
    strategies of its own fields and may override `AUDIENCE`'s."""
    return st.builds(plan_type, **{**AUDIENCE, **fields}).filter(
        lambda plan: writable(plan.owner, plan.tlp, plan.distribution, plan.group)
    )


@dataclass(frozen=True)
class Pool:
    organisation_ids: tuple[int, ...]
    organisation_names: tuple[str, ...]
    group_ids: tuple[int, ...]
    user_ids: tuple[int, ...]  # one analyst per organisation

    def viewer(self, organisation: int) -> Viewer:
        """The viewer the plan says this organisation is."""
        groups = frozenset(self.group_ids[g] for g, m in GROUPS.items() if organisation in m)
        return Viewer(organisation_id=self.organisation_ids[organisation], sharing_group_ids=groups)

    def group_id(self, plan: PlannedAudience) -> int | None:
        """The plan's sharing group, when its distribution uses one."""
        in_group = plan.distribution is Distribution.SHARING_GROUP
        return self.group_ids[plan.group] if in_group else None

    def marking(self, plan: PlannedAudience, tlp: TLP | None = None) -> Marking:
        """The marking the plan gives the event (or an indicator of `tlp` inside it)."""
        recipients = frozenset(self.organisation_ids[r] for r in plan.recipients)
        return Marking(
            self.organisation_ids[plan.owner],
            tlp or plan.tlp,
            plan.distribution,
            self.group_id(plan),
            recipients,
        )

    def event_create(self, plan: PlannedAudience, title: str) -> EventCreate:
        """What the owner sends to create the planned event."""
        return EventCreate(
            title=title,
            event_date=date(2026, 11, 1),
            tlp=plan.tlp,
            distribution=plan.distribution,
            sharing_group_id=self.group_id(plan),
            recipient_organisation_ids=sorted(self.organisation_ids[r] for r in plan.recipients),
        )

    def principal(self, session: Session, organisation: int) -> Principal:
        """The organisation's analyst, as the API would authenticate them."""
        user = session.get_one(User, self.user_ids[organisation])
        return Principal(user=user, viewer=load_viewer(session, user), via="api")


def make_pool(session: Session) -> Pool:
    """The organisations, groups and analysts, made through the real services."""
    organisations = [make_organisation(session) for _ in range(ORGANISATIONS)]
    group_ids = tuple(
        make_sharing_group(
            session, organisations[members[0]], [organisations[m] for m in members[1:]]
        ).id
        for members in GROUPS.values()
    )
    users = [make_user(session, organisation) for organisation in organisations]
    return Pool(
        organisation_ids=tuple(o.id for o in organisations),
        organisation_names=tuple(o.name for o in organisations),
        group_ids=group_ids,
        user_ids=tuple(u.id for u in users),
    )


def writable(owner: int, tlp: TLP, distribution: Distribution, group: int) -> bool:
    """Whether the owner may write an event so marked (other plans are refused at write time,
    which the sharing tests check; property tests draw only plans that can exist)."""
    try:
        check_marking(Marking(1, tlp, distribution, 1))
    except BadValue:
        return False
    return distribution is not Distribution.SHARING_GROUP or owner in GROUPS[group]
