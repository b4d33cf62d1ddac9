"""Contacts of a constituency: the mailboxes an organisation's alerts go to, and how.

A contact belongs to its organisation and covers either the whole constituency or one entry
of it (a prefix run by another team, say). Alerts routed through an entry go to that
entry's own contacts when it has any, and to the organisation-wide ones otherwise.
Who may see and change contacts is what may see and change the constituency.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from entente.core import audit
from entente.core.audit import Actor
from entente.core.errors import BadValue, Conflict, NotFound, translate_db_errors
from entente.core.pagination import Page, PageRequest, paginate
from entente.members.choices import ReportFormat
from entente.members.constituencies import check_may_change, get_constituency
from entente.members.constituency_schemas import ContactCreate, ContactPublic
from entente.members.filters import ContactFilter
from entente.members.models import Constituency, ConstituencyContact, Organisation, User
from entente.members.service import get_organisation


def list_contacts(
    session: Session, filters: ContactFilter, page: PageRequest
) -> Page[ContactPublic]:
    """Contacts by e-mail address; `constituency_id` keeps one entry's own contacts."""
    query = select(ConstituencyContact).options(
        joinedload(ConstituencyContact.organisation), joinedload(ConstituencyContact.constituency)
    )
    if filters.organisation_id is not None:
        query = query.where(ConstituencyContact.organisation_id == filters.organisation_id)
    if filters.constituency_id is not None:
        query = query.where(ConstituencyContact.constituency_id == filters.constituency_id)
    result = paginate(session, query, [ConstituencyContact.email, ConstituencyContact.id], page)
    return Page([contact_public(c) for c in result.items], result.next_cursor, result.count)


def get_contact(session: Session, contact_id: int) -> ConstituencyContact:
    contact = session.get(ConstituencyContact, contact_id)
    if contact is None:
        raise NotFound(f"no contact with id {contact_id}", field="contact_id", value=contact_id)
    return contact


def contact_public(contact: ConstituencyContact) -> ContactPublic:
    return ContactPublic(
        id=contact.id,
        organisation_id=contact.organisation_id,
        organisation_name=contact.organisation.name,
        constituency_id=contact.constituency_id,
        constituency=contact.constituency.value if contact.constituency else None,
        email=contact.email,
        pgp_fingerprint=contact.pgp_fingerprint,
        preferred_format=contact.preferred_format,
        created_at=contact.created_at,
    )


def contacts_of_constituency(session: Session, constituency: Constituency) -> list[ContactPublic]:
    """Who receives what is routed through this entry: its own contacts, else the
    organisation's contacts for its whole constituency."""
    query = select(ConstituencyContact).where(
        ConstituencyContact.organisation_id == constituency.organisation_id
    )
    own = list(session.scalars(query.where(ConstituencyContact.constituency_id == constituency.id)))
    if not own:
        own = list(session.scalars(query.where(ConstituencyContact.constituency_id.is_(None))))
    return [contact_public(c) for c in sorted(own, key=lambda c: c.email)]


def add_contact(
    session: Session, actor: Actor, by: User | None, data: ContactCreate
) -> ConstituencyContact:
    """A new contact; the same address twice for the same scope is a conflict."""
    organisation = get_organisation(session, data.organisation_id)
    check_may_change(by, organisation)
    constituency = _own_entry(session, organisation, data.constituency_id)
    email = str(data.email).lower()
    if find_contact(session, organisation.id, data.constituency_id, email) is not None:
        scope = f"entry {constituency.value}" if constituency else "its whole constituency"
        raise Conflict(
            f"{email} is already a contact of {organisation.name} for {scope}",
            field="email",
            value=email,
        )
    contact = ConstituencyContact(
        organisation_id=organisation.id,
        constituency_id=data.constituency_id,
        email=email,
        pgp_fingerprint=data.pgp_fingerprint,
        preferred_format=data.preferred_format,
    )
    with translate_db_errors():
        session.add(contact)
        session.flush()
        _record_add(session, actor, contact, organisation)
        session.commit()
    return contact


def _own_entry(
    session: Session, organisation: Organisation, constituency_id: int | None
) -> Constituency | None:
    if constituency_id is None:
        return None
    try:
        constituency = get_constituency(session, constituency_id)
    except NotFound as exc:
        raise BadValue(exc.message, field="constituency_id", value=constituency_id) from exc
    if constituency.organisation_id != organisation.id:
        raise BadValue(
            f"entry {constituency_id} belongs to another organisation, not {organisation.name}",
            field="constituency_id",
            value=constituency_id,
        )
    return constituency


def find_contact(
    session: Session, organisation_id: int, constituency_id: int | None, email: str
) -> ConstituencyContact | None:
    # Spelt out for NULL: a unique constraint does not hold for organisation-wide contacts.
    scope = (
        ConstituencyContact.constituency_id.is_(None)
        if constituency_id is None
        else ConstituencyContact.constituency_id == constituency_id
    )
    return session.scalar(
        select(ConstituencyContact).where(
            ConstituencyContact.organisation_id == organisation_id,
            scope,
            ConstituencyContact.email == email,
        )
    )


def new_contact(organisation_id: int, constituency_id: int, email: str) -> ConstituencyContact:
    """A contact for one entry as an import finds it: no key, the default format."""
    return ConstituencyContact(
        organisation_id=organisation_id,
        constituency_id=constituency_id,
        email=email,
        preferred_format=ReportFormat.CSV,
    )


def _record_add(
    session: Session, actor: Actor, contact: ConstituencyContact, organisation: Organisation
) -> None:
    audit.record(
        session,
        actor,
        "constituency_contact.add",
        ("constituency_contact", contact.id),
        organisation=organisation.name,
        email=contact.email,
        constituency_id=contact.constituency_id,
        pgp_fingerprint=contact.pgp_fingerprint,
        preferred_format=contact.preferred_format.value,
    )


def remove_contact(
    session: Session, actor: Actor, by: User | None, contact: ConstituencyContact
) -> None:
    organisation = contact.organisation
    check_may_change(by, organisation)
    with translate_db_errors():
        audit.record(
            session,
            actor,
            "constituency_contact.remove",
            ("constituency_contact", contact.id),
            organisation=organisation.name,
            email=contact.email,
            constituency_id=contact.constituency_id,
        )
        session.delete(contact)
        session.commit()
