"""Columns of the members list pages (member states, organisations, users, API tokens,
constituencies and their contacts)."""

from __future__ import annotations

from entente.members.choices import TokenStatus
from entente.members.constituency_schemas import ConstituencyPublic, ContactPublic
from entente.members.schemas import MemberStatePublic, OrganisationPublic, TokenPublic, UserPublic
from entente.web.tables import Action, Align, Cell, Column, Style, Table, code, muted, text, when


def active_badge(is_active: bool) -> Cell:
    return Cell("Active", badge="green") if is_active else Cell("Inactive", badge="grey")


MEMBER_STATES = Table[MemberStatePublic](
    columns=(
        Column("Name", lambda s: Cell(s.name, href=f"/member-states/{s.alpha2}")),
        Column("Alpha-2", lambda s: code(s.alpha2)),
        Column("Alpha-3", lambda s: code(s.alpha3)),
        Column("ITU region", lambda s: text(s.region.label)),
        Column("Organisations", lambda s: text(s.organisation_count), Align.RIGHT),
    ),
    empty="No member state matches these filters.",
)

ORGANISATIONS = Table[OrganisationPublic](
    columns=(
        Column("Name", lambda o: Cell(o.name, href=f"/organisations/{o.id}")),
        Column("Short name", lambda o: muted(o.short_name or "")),
        Column("Type", lambda o: Cell(o.type.label, badge=o.type.colour)),
        Column(
            "Member state",
            lambda o: Cell(
                o.member_state, href=f"/member-states/{o.member_state}", style=Style.CODE
            ),
        ),
        Column("Users", lambda o: text(o.user_count), Align.RIGHT),
        Column("Status", lambda o: active_badge(o.is_active)),
    ),
    empty="No organisation matches these filters.",
)

USERS = Table[UserPublic](
    columns=(
        Column("Username", lambda u: Cell(u.username, href=f"/users/{u.id}")),
        Column("Name", lambda u: text(u.full_name)),
        Column("E-mail", lambda u: muted(u.email)),
        Column(
            "Organisation",
            lambda u: Cell(u.organisation_name, href=f"/organisations/{u.organisation_id}"),
        ),
        Column("Role", lambda u: Cell(u.role.label, badge=u.role.colour)),
        Column("Last login", lambda u: when(u.last_login_at)),
        Column("Status", lambda u: active_badge(u.is_active)),
    ),
    empty="No user matches these filters.",
)


def _revoke(token: TokenPublic) -> Cell:
    if token.status is not TokenStatus.ACTIVE:
        return muted("")
    return Cell(
        "",
        action=Action(
            "Revoke",
            f"/tokens/{token.id}/revoke",
            f"Revoke the token '{token.name}'? Clients using it stop working.",
        ),
    )


TOKENS = Table[TokenPublic](
    columns=(
        Column("Name", lambda t: text(t.name)),
        Column("Token", lambda t: code(f"{t.prefix}…")),
        Column("Owner", lambda t: Cell(t.username, href=f"/users/{t.user_id}")),
        Column("Created", lambda t: when(t.created_at)),
        Column("Expires", lambda t: when(t.expires_at)),
        Column("Last used", lambda t: when(t.last_used_at)),
        Column(
            "Status",
            lambda t: Cell(t.status.label, badge=t.status.colour),
        ),
        Column("", _revoke, Align.RIGHT),
    ),
    empty="No API tokens yet. Create one to call the REST API.",
)


def _kind(c: ConstituencyPublic) -> Cell:
    return Cell(c.kind.label, badge=c.kind.colour)


CONSTITUENCIES = Table[ConstituencyPublic](
    columns=(
        Column("Kind", _kind),
        Column("Value", lambda c: code(c.value)),
        Column(
            "Organisation",
            lambda c: Cell(
                c.organisation_name, href=f"/organisations/{c.organisation_id}/constituency"
            ),
        ),
        Column("Added", lambda c: when(c.created_at)),
    ),
    empty="No constituency entry matches these filters. Try an address, a host name or an AS "
    "number in the search box: it finds the entries that cover it.",
)


def organisation_constituency(may_change: bool) -> Table[ConstituencyPublic]:
    """One organisation's entries; those who may change them get a Remove button per row."""

    def remove(c: ConstituencyPublic) -> Cell:
        if not may_change:
            return muted("")
        return Cell(
            "",
            action=Action(
                "Remove",
                f"/constituencies/{c.id}/remove",
                f"Remove {c.value} from the constituency of {c.organisation_name}? Alerts "
                "about it stop going to this organisation.",
            ),
        )

    return Table[ConstituencyPublic](
        columns=(
            Column("Kind", _kind),
            Column("Value", lambda c: code(c.value)),
            Column("Added", lambda c: when(c.created_at)),
            Column("", remove, Align.RIGHT),
        ),
        empty="No entry matches these filters.",
    )


def contacts(may_change: bool) -> Table[ContactPublic]:
    """An organisation's contacts; those who may change them get a Remove button per row."""

    def remove(c: ContactPublic) -> Cell:
        if not may_change:
            return muted("")
        return Cell(
            "",
            action=Action(
                "Remove",
                f"/constituency-contacts/{c.id}/remove",
                f"Remove the contact {c.email}?",
            ),
        )

    return Table[ContactPublic](
        columns=(
            Column("E-mail", lambda c: text(c.email)),
            Column(
                "For", lambda c: code(c.constituency) if c.constituency else muted("everything")
            ),
            Column(
                "Format", lambda c: Cell(c.preferred_format.label, badge=c.preferred_format.colour)
            ),
            Column(
                "PGP key", lambda c: code(c.pgp_fingerprint) if c.pgp_fingerprint else muted("none")
            ),
            Column("", remove, Align.RIGHT),
        ),
        empty="No contact yet: alerts for this organisation have nowhere to go. Add the "
        "mailbox of the team that handles them.",
    )
