"""Constituencies and contacts through the services, on SQLite and PostgreSQL: who may change
what, canonical storage, conflicts, countries, search, removal and the routing list."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from entente.core.audit import SYSTEM, AuditEntry
from entente.core.errors import BadValue, Conflict, PermissionDenied
from entente.core.pagination import PageRequest
from entente.members import constituencies, constituency_contacts
from entente.members.choices import ConstituencyKind, OrganisationType, ReportFormat, Role
from entente.members.constituency_schemas import ConstituencyCreate, ContactCreate
from entente.members.filters import ConstituencyFilter, ContactFilter
from entente.members.models import Constituency, ConstituencyContact, Organisation, User
from tests.factories import make_organisation, make_user

PREFIX, ASN, DOMAIN, COUNTRY = (
    ConstituencyKind.PREFIX,
    ConstituencyKind.ASN,
    ConstituencyKind.DOMAIN,
    ConstituencyKind.COUNTRY,
)


def add(
    session: Session,
    organisation: Organisation,
    kind: ConstituencyKind,
    value: str,
    by: User | None = None,
) -> Constituency:
    data = ConstituencyCreate(organisation_id=organisation.id, kind=kind, value=value)
    return constituencies.add_constituency(session, SYSTEM, by, data)


def values_of(session: Session, filters: ConstituencyFilter) -> list[str]:
    page = constituencies.list_constituencies(session, filters, PageRequest(limit=1000))
    return [item.value for item in page.items]


# ---- writing and who may -------------------------------------------------------------------


def test_org_admin_adds_to_own_organisation_canonical_and_audited(session: Session) -> None:
    org = make_organisation(session)
    admin = make_user(session, org, Role.ORG_ADMIN)
    added = add(session, org, PREFIX, "2001:DB8::/32", by=admin)
    assert (added.kind, added.value) == (PREFIX, "2001:db8::/32")
    entry = session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "constituency.add", AuditEntry.object_id == str(added.id)
        )
    )
    assert entry is not None
    assert entry.detail["value"] == "2001:db8::/32"
    assert entry.detail["organisation"] == org.name


@pytest.mark.parametrize("role", [Role.ANALYST, Role.READER])
def test_analysts_and_readers_may_not_change_even_their_own(session: Session, role: Role) -> None:
    org = make_organisation(session)
    user = make_user(session, org, role)
    with pytest.raises(PermissionDenied, match="only platform admins and the organisation admins"):
        add(session, org, ASN, "AS64496", by=user)


def test_an_analyst_of_one_organisation_cannot_add_to_another(session: Session) -> None:
    org_a, org_b = make_organisation(session), make_organisation(session)
    analyst = make_user(session, org_a, Role.ANALYST)
    org_admin = make_user(session, org_a, Role.ORG_ADMIN)
    for user in (analyst, org_admin):
        with pytest.raises(PermissionDenied):
            add(session, org_b, DOMAIN, "example.org", by=user)
    count = session.scalar(
        select(func.count(Constituency.id)).where(Constituency.organisation_id == org_b.id)
    )
    assert count == 0
    platform_admin = make_user(session, org_a, Role.ADMIN)
    assert add(session, org_b, DOMAIN, "example.org", by=platform_admin).organisation_id == org_b.id


def test_the_same_entry_twice_conflicts_but_two_organisations_may_share_one(
    session: Session,
) -> None:
    org_a, org_b = make_organisation(session), make_organisation(session)
    add(session, org_a, ASN, "AS64496")
    with pytest.raises(Conflict) as caught:
        add(session, org_a, ASN, "64496")
    assert caught.value.field == "value"
    assert add(session, org_b, ASN, "as64496").value == "64496"


def test_a_national_cert_declares_its_own_country_only(session: Session) -> None:
    cert = make_organisation(session, member_state="GH")
    assert add(session, cert, COUNTRY, "gh").value == "GH"
    with pytest.raises(BadValue, match="the country it may declare is GH") as caught:
        add(session, cert, COUNTRY, "FR")
    assert caught.value.field == "value"
    with pytest.raises(BadValue, match="not an ITU member state"):
        add(session, cert, COUNTRY, "ZZ")


def test_only_national_certs_declare_a_country(session: Session) -> None:
    sector = make_organisation(session, member_state="GH", type=OrganisationType.SECTOR_CERT)
    with pytest.raises(PermissionDenied, match="only a national CERT") as caught:
        add(session, sector, COUNTRY, "GH")
    assert caught.value.field == "kind"


def test_removing_an_entry_removes_its_own_contacts_and_keeps_the_others(
    session: Session,
) -> None:
    org = make_organisation(session)
    entry = add(session, org, PREFIX, "198.51.100.0/24")
    own = ContactCreate(organisation_id=org.id, email="noc@example.org", constituency_id=entry.id)
    everything = ContactCreate(organisation_id=org.id, email="cert@example.org")
    for data in (own, everything):
        constituency_contacts.add_contact(session, SYSTEM, None, data)
    entry_id = entry.id
    constituencies.remove_constituency(session, SYSTEM, None, entry)
    assert session.get(Constituency, entry_id) is None
    left = session.scalars(
        select(ConstituencyContact.email).where(ConstituencyContact.organisation_id == org.id)
    )
    assert list(left) == ["cert@example.org"]
    audit = session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "constituency.remove", AuditEntry.object_id == str(entry_id)
        )
    )
    assert audit is not None
    assert audit.detail["removed_contacts"] == "noc@example.org"


def test_an_org_admin_may_not_remove_another_organisations_entry(session: Session) -> None:
    org_a, org_b = make_organisation(session), make_organisation(session)
    entry = add(session, org_b, DOMAIN, "example.net")
    with pytest.raises(PermissionDenied):
        constituencies.remove_constituency(
            session, SYSTEM, make_user(session, org_a, Role.ORG_ADMIN), entry
        )
    assert session.get(Constituency, entry.id) is not None


# ---- reading -------------------------------------------------------------------------------


def test_list_is_in_routing_order_and_filters_by_organisation_and_kind(session: Session) -> None:
    org = make_organisation(session, member_state="KE")
    for kind, value in [
        (COUNTRY, "KE"),
        (DOMAIN, "example.ke"),
        (ASN, "AS64500"),
        (PREFIX, "203.0.113.0/24"),
        (PREFIX, "198.51.100.0/24"),
    ]:
        add(session, org, kind, value)
    own = ConstituencyFilter(organisation_id=org.id)
    assert values_of(session, own) == [
        "198.51.100.0/24",
        "203.0.113.0/24",
        "64500",
        "example.ke",
        "KE",
    ]
    assert values_of(session, ConstituencyFilter(organisation_id=org.id, kind=PREFIX)) == [
        "198.51.100.0/24",
        "203.0.113.0/24",
    ]


def test_search_finds_what_covers_an_address_a_host_or_an_as(session: Session) -> None:
    org = make_organisation(session)
    for kind, value in [
        (PREFIX, "198.51.100.0/24"),
        (PREFIX, "198.51.100.128/25"),
        (PREFIX, "203.0.113.0/24"),
        (PREFIX, "2001:db8::/32"),
        (ASN, "AS64501"),
        (DOMAIN, "example.com"),
        (DOMAIN, "mail.example.com"),
        (DOMAIN, "other.example"),
    ]:
        add(session, org, kind, value)

    def search(q: str) -> list[str]:
        return values_of(session, ConstituencyFilter(organisation_id=org.id, q=q))

    assert search("198.51.100.200") == ["198.51.100.0/24", "198.51.100.128/25"]
    assert search("198.51.100.7") == ["198.51.100.0/24"]
    assert search("2001:db8:1::5") == ["2001:db8::/32"]
    assert search("198.51.0.0/16") == ["198.51.100.0/24", "198.51.100.128/25"]
    assert search("smtp.mail.example.com") == ["example.com", "mail.example.com"]
    assert search("AS64501") == ["64501"]
    assert search("other") == ["other.example"]
    assert search("192.0.2.1") == []


def test_pages_cover_every_entry_once(session: Session) -> None:
    org = make_organisation(session)
    for number in range(1, 26):
        add(session, org, ASN, f"AS{64600 + number}")
    seen: list[str] = []
    request = PageRequest(limit=7)
    while True:
        page = constituencies.list_constituencies(
            session, ConstituencyFilter(organisation_id=org.id), request
        )
        seen.extend(item.value for item in page.items)
        assert page.count == 25
        if page.next_cursor is None:
            break
        request = PageRequest(cursor=page.next_cursor, limit=7)
    assert seen == [str(64600 + n) for n in range(1, 26)]


def test_routing_list_has_every_active_organisations_entries(session: Session) -> None:
    active, inactive = make_organisation(session), make_organisation(session)
    add(session, active, PREFIX, "192.0.2.0/24")
    add(session, active, DOMAIN, "example.org")
    add(session, inactive, ASN, "AS64511")
    inactive.is_active = False
    session.commit()
    entries = constituencies.all_constituencies(session)
    assert (active.id, PREFIX, "192.0.2.0/24") in entries
    assert (active.id, DOMAIN, "example.org") in entries
    assert all(organisation_id != inactive.id for organisation_id, _k, _v in entries)
    assert constituencies.counts_by_kind(session, active.id) == {
        PREFIX: 1,
        ASN: 0,
        DOMAIN: 1,
        COUNTRY: 0,
    }


# ---- contacts ------------------------------------------------------------------------------


def test_contacts_of_an_entry_fall_back_to_the_organisations(session: Session) -> None:
    org = make_organisation(session)
    first = add(session, org, PREFIX, "192.0.2.0/24")
    second = add(session, org, PREFIX, "198.51.100.0/24")
    constituency_contacts.add_contact(
        session,
        SYSTEM,
        None,
        ContactCreate(
            organisation_id=org.id,
            email="CERT@Example.org",
            pgp_fingerprint="0123 4567 89ab cdef 0123 4567 89ab cdef 0123 4567",
            preferred_format=ReportFormat.STIX,
        ),
    )
    constituency_contacts.add_contact(
        session,
        SYSTEM,
        None,
        ContactCreate(organisation_id=org.id, email="noc@example.org", constituency_id=first.id),
    )
    assert [c.email for c in constituency_contacts.contacts_of_constituency(session, first)] == [
        "noc@example.org"
    ]
    fallback = constituency_contacts.contacts_of_constituency(session, second)
    assert [(c.email, c.pgp_fingerprint, c.preferred_format) for c in fallback] == [
        ("cert@example.org", "0123456789ABCDEF0123456789ABCDEF01234567", ReportFormat.STIX)
    ]
    listed = constituency_contacts.list_contacts(
        session, ContactFilter(organisation_id=org.id), PageRequest()
    )
    assert [(c.email, c.constituency) for c in listed.items] == [
        ("cert@example.org", None),
        ("noc@example.org", "192.0.2.0/24"),
    ]


def test_contact_conflicts_and_foreign_entries_are_refused(session: Session) -> None:
    org, other = make_organisation(session), make_organisation(session)
    foreign = add(session, other, DOMAIN, "example.net")
    data = ContactCreate(organisation_id=org.id, email="cert@example.org")
    constituency_contacts.add_contact(session, SYSTEM, None, data)
    with pytest.raises(Conflict) as conflict:
        constituency_contacts.add_contact(session, SYSTEM, None, data)
    assert conflict.value.field == "email"
    with pytest.raises(BadValue, match="belongs to another organisation") as foreign_entry:
        constituency_contacts.add_contact(
            session,
            SYSTEM,
            None,
            ContactCreate(
                organisation_id=org.id, email="x@example.org", constituency_id=foreign.id
            ),
        )
    assert foreign_entry.value.field == "constituency_id"
    analyst = make_user(session, org, Role.ANALYST)
    with pytest.raises(PermissionDenied):
        constituency_contacts.add_contact(
            session, SYSTEM, analyst, ContactCreate(organisation_id=org.id, email="y@example.org")
        )


def test_contact_schema_refuses_short_key_ids_and_unknown_formats() -> None:
    with pytest.raises(ValidationError, match="short key ids"):
        ContactCreate(organisation_id=1, email="a@example.org", pgp_fingerprint="89ABCDEF")
    with pytest.raises(ValidationError):
        ContactCreate.model_validate(
            {"organisation_id": 1, "email": "a@example.org", "preferred_format": "pdf"}
        )
