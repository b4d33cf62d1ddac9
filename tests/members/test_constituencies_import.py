"""Constituency imports (CSV and RIPE objects), on SQLite and PostgreSQL: bad rows are listed
with their line and never stop the import, nothing stored is lost, a re-run adds nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.core.audit import SYSTEM, AuditEntry
from entente.core.errors import BadValue, ParseError, PermissionDenied
from entente.members import constituencies
from entente.members.choices import ConstituencyKind, ReportFormat, Role
from entente.members.constituency_imports import (
    ImportRequest,
    decode_import,
    import_csv,
    import_ripe,
)
from entente.members.constituency_schemas import ConstituencyCreate
from entente.members.models import Constituency, ConstituencyContact, Organisation
from tests.factories import make_organisation, make_user


def stored(session: Session, organisation: Organisation) -> set[tuple[str, str]]:
    rows = session.execute(
        select(Constituency.kind, Constituency.value).where(
            Constituency.organisation_id == organisation.id
        )
    )
    return {(kind.value, value) for kind, value in rows}


def contacts(session: Session, organisation: Organisation) -> set[tuple[str | None, str]]:
    rows = session.execute(
        select(Constituency.value, ConstituencyContact.email)
        .outerjoin(Constituency, Constituency.id == ConstituencyContact.constituency_id)
        .where(ConstituencyContact.organisation_id == organisation.id)
    )
    return {(value, email) for value, email in rows}


# ---- CSV -----------------------------------------------------------------------------------


def test_csv_import_stores_good_rows_and_lists_bad_ones_with_their_line(session: Session) -> None:
    ours = make_organisation(session, name="Import Test CERT")
    theirs = make_organisation(session, name="Someone Else CERT")
    admin = make_user(session, ours, Role.ORG_ADMIN)
    constituencies.add_constituency(
        session,
        SYSTEM,
        None,
        ConstituencyCreate(organisation_id=ours.id, kind=ConstituencyKind.ASN, value="AS64496"),
    )
    text = (
        "organisation,kind,value,contact_email\n"  # line 1
        "Import Test CERT,prefix,192.0.2.0/24,noc@example.org\n"  # 2 added, contact
        "import test cert,asn,AS64496,\n"  # 3 already stored
        "Import Test CERT,prefix,192.0.2.1/24,\n"  # 4 host bits
        "Import Test CERT,subnet,192.0.2.0/24,\n"  # 5 unknown kind
        "Nobody CERT,domain,example.org,\n"  # 6 unknown organisation
        "Someone Else CERT,domain,example.net,\n"  # 7 not ours to change
        "\n"  # 8 blank
        "# a comment\n"  # 9
        "Import Test CERT,domain,Example.ORG,not-an-address\n"  # 10 added, contact refused
        "Import Test CERT,prefix,192.0.2.0/24,\n"  # 11 repeated in the file
        "Import Test CERT,domain\n"  # 12 too few fields
    )
    report = import_csv(session, SYSTEM, admin, ImportRequest(text=text))
    assert [(r.line, r.value) for r in report.added] == [(2, "192.0.2.0/24"), (10, "example.org")]
    assert [(r.line, r.value) for r in report.duplicates] == [(3, "64496"), (11, "192.0.2.0/24")]
    assert [(r.line, r.field) for r in report.rejected] == [
        (4, "value"),
        (5, "kind"),
        (6, "organisation"),
        (7, "organisation"),
        (10, "contact_email"),
        (12, None),
    ]
    assert "192.0.2.0/24" in report.rejected[0].reason
    assert report.contacts_added == 1
    assert stored(session, ours) == {
        ("asn", "64496"),
        ("prefix", "192.0.2.0/24"),
        ("domain", "example.org"),
    }
    assert stored(session, theirs) == set()
    assert contacts(session, ours) == {("192.0.2.0/24", "noc@example.org")}
    audit = session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "constituency.import", AuditEntry.object_id == str(ours.id)
        )
    )
    assert audit is not None
    assert audit.detail["added"] == 2
    assert audit.detail["values"] == "192.0.2.0/24, example.org"


def test_running_an_import_again_adds_nothing(session: Session) -> None:
    org = make_organisation(session)
    request = ImportRequest(
        text="kind,value,contact_email\nprefix,198.51.100.0/24,noc@example.org\nasn,64497,\n",
        organisation=org,
    )
    first = import_csv(session, SYSTEM, None, request)
    again = import_csv(session, SYSTEM, None, request)
    assert len(first.added) == 2
    assert first.contacts_added == 1
    assert again.added == []
    assert len(again.duplicates) == 2
    assert again.contacts_added == 0
    assert len(contacts(session, org)) == 1


def test_a_contact_the_organisation_already_has_for_everything_is_not_repeated(
    session: Session,
) -> None:
    org = make_organisation(session)
    session.add(
        ConstituencyContact(
            organisation_id=org.id,
            email="cert@example.org",
            preferred_format=ReportFormat.JSON,
        )
    )
    session.flush()
    text = "kind,value,contact_email\nasn,64498,CERT@example.org\n"
    report = import_csv(session, SYSTEM, None, ImportRequest(text, organisation=org))
    assert report.contacts_added == 0
    assert contacts(session, org) == {(None, "cert@example.org")}


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("kind,value,colour\nprefix,192.0.2.0/24,red\n", "colour", "unknown column 'colour'"),
        ("organisation,value\nX,192.0.2.0/24\n", "kind", "no column 'kind'"),
        ("kind,value\nprefix,192.0.2.0/24\n", "organisation", "no column 'organisation'"),
    ],
)
def test_a_header_that_cannot_be_used_is_a_parse_error_naming_the_column(
    session: Session, text: str, column: str, message: str
) -> None:
    with pytest.raises(ParseError) as caught:
        import_csv(session, SYSTEM, None, ImportRequest(text=text, source="orgs.csv"))
    assert caught.value.column == column
    assert message in caught.value.message
    assert caught.value.message.startswith("orgs.csv, line 1")


def test_an_empty_file_and_nul_bytes_are_refused(session: Session) -> None:
    with pytest.raises(ParseError, match="empty"):
        import_csv(session, SYSTEM, None, ImportRequest(text="\n# only a comment\n"))
    with pytest.raises(BadValue, match="NUL"):
        decode_import(b"kind,value\x00\n")
    assert decode_import("\ufeffkind".encode()) == "kind"
    assert decode_import("inetnum: x\nremarks: M\xfcller\n".encode("latin-1")).endswith("Müller\n")


# ---- RIPE objects --------------------------------------------------------------------------

RIPE_EXPORT = """\
% This is the RIPE Database query service.
% Information related to '192.0.2.0 - 192.0.3.127'

inetnum:        192.0.2.0 - 192.0.3.127
netname:        EXAMPLE-NET
org:            ORG-EX1-RIPE
status:         ASSIGNED PA

inet6num:       2001:db8::/32
netname:        EXAMPLE-V6
abuse-mailbox:  v6-abuse@example.org  # its own mailbox wins

aut-num:        AS64496
as-name:        EXAMPLE-AS
abuse-c:        AR1-RIPE

route:          198.51.100.0/24
origin:         AS64496
e-mail:         routing@example.org

inetnum:        192.0.2.255 - 192.0.2.0
netname:        BACKWARDS

this line is not RPSL

organisation:   ORG-EX1-RIPE
org-name:       Example Networks
abuse-c:        AR1-RIPE

role:           Example Abuse
nic-hdl:        AR1-RIPE
abuse-mailbox:  abuse@example.org
+               # continuation lines are read too

mntner:         EXAMPLE-MNT
"""


def test_ripe_objects_become_prefixes_and_as_numbers_with_their_abuse_contacts(
    session: Session,
) -> None:
    org = make_organisation(session)
    admin = make_user(session, org, Role.ORG_ADMIN)
    report = import_ripe(session, SYSTEM, admin, ImportRequest(RIPE_EXPORT, organisation=org))
    assert [(r.line, r.value) for r in report.added] == [
        (4, "192.0.2.0/24"),
        (4, "192.0.3.0/25"),
        (9, "2001:db8::/32"),
        (13, "64496"),
        (17, "198.51.100.0/24"),
    ]
    assert [(r.line, r.field) for r in report.rejected] == [(21, "value"), (24, None)]
    assert report.ignored_objects == 3  # organisation, role, mntner
    assert stored(session, org) == {
        ("prefix", "192.0.2.0/24"),
        ("prefix", "192.0.3.0/25"),
        ("prefix", "2001:db8::/32"),
        ("asn", "64496"),
        ("prefix", "198.51.100.0/24"),
    }
    assert contacts(session, org) == {
        ("192.0.2.0/24", "abuse@example.org"),
        ("192.0.3.0/25", "abuse@example.org"),
        ("2001:db8::/32", "v6-abuse@example.org"),
        ("64496", "abuse@example.org"),
        ("198.51.100.0/24", "routing@example.org"),
    }
    again = import_ripe(session, SYSTEM, admin, ImportRequest(RIPE_EXPORT, organisation=org))
    assert again.added == []
    assert again.contacts_added == 0


def test_ripe_import_needs_an_organisation_the_caller_may_change(session: Session) -> None:
    org, other = make_organisation(session), make_organisation(session)
    with pytest.raises(BadValue) as missing:
        import_ripe(session, SYSTEM, None, ImportRequest(RIPE_EXPORT))
    assert missing.value.field == "organisation"
    outsider = make_user(session, other, Role.ORG_ADMIN)
    with pytest.raises(PermissionDenied):
        import_ripe(session, SYSTEM, outsider, ImportRequest(RIPE_EXPORT, organisation=org))
    assert stored(session, org) == set()
