"""Importing constituencies in bulk: a CSV file, or an organisation's RIPE database objects.

Imports only add. A row that cannot be used (unknown organisation, bad value, not yours to
change) is reported with its line number and the reason, and the others are still stored;
a row already stored is reported as a duplicate, so running an import again adds nothing.
The whole import is one transaction: it commits once, at the end.

Values are read one row at a time with `ipaddress` and the canonical-form functions. That is
a loop per row, which the pipeline never does; it is fine here because a registry export is
thousands of rows, read once by an operator, not a feed of millions.
"""

from __future__ import annotations

import csv
import io
import ipaddress
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import EmailStr, TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.core import audit
from entente.core.audit import Actor
from entente.core.errors import AppError, BadValue, ParseError, translate_db_errors
from entente.members.choices import ConstituencyKind
from entente.members.constituencies import canonical_for, check_may_change, new_constituency
from entente.members.constituency_contacts import new_contact
from entente.members.constituency_schemas import (
    ImportedRow,
    ImportFormat,
    ImportReport,
    RejectedRow,
)
from entente.members.models import Constituency, ConstituencyContact, Organisation, User
from entente.members.rpsl import RpslObject, read_rpsl
from entente.members.service import find_organisation

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

# Called with (rows done, rows in all) as an import goes, for a progress bar.
ImportProgress = Callable[[int, int], None]

CSV_COLUMNS = ("organisation", "kind", "value", "contact_email")
# Rows are flushed to the database in chunks of this many, and progress reported after each.
CHUNK = 500
# How many added values the audit entry of an import names; the count is always complete.
AUDITED_VALUES = 100

_EMAIL = TypeAdapter(EmailStr)


@dataclass(frozen=True, slots=True)
class ImportRequest:
    """What to import. `organisation` is required for RIPE objects and is the default
    organisation of CSV rows that leave theirs blank (or a CSV without that column)."""

    text: str
    organisation: Organisation | None = None
    source: str = "upload"
    progress: ImportProgress | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """One value an input offers, before it is checked."""

    line: int
    organisation: Organisation | str
    kind: ConstituencyKind
    value: str
    contact_email: str | None = None


def decode_import(raw: bytes) -> str:
    """Text of an uploaded file: UTF-8 (a byte-order mark is dropped), else Latin-1, the
    encoding of the RIPE database's own export files."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    if "\x00" in text:
        raise BadValue("the file contains NUL characters; is it a text file?", field="file")
    return text


# ---- CSV -------------------------------------------------------------------------------


def import_csv(
    session: Session, actor: Actor, by: User | None, request: ImportRequest
) -> ImportReport:
    """Rows of `organisation,kind,value,contact_email` (a header line names the columns)."""
    candidates, rejected = read_csv(request)
    return _Importer(session, by, request.progress).run(
        actor, ImportFormat.CSV, candidates, rejected
    )


def read_csv(request: ImportRequest) -> tuple[list[Candidate], list[RejectedRow]]:
    """The rows of a CSV import; a header that cannot be used is a ParseError for the file."""
    _refuse_nul(request.text)
    reader = csv.reader(io.StringIO(request.text))
    candidates: list[Candidate] = []
    rejected: list[RejectedRow] = []
    try:
        rows = _rows(reader)
        first = next(rows, None)
        if first is None:
            raise ParseError("the file is empty; it needs a header line", file=request.source)
        header = _header(first[1], first[0], request)
        for line, row in rows:
            try:
                candidates.append(_csv_candidate(header, row, line, request))
            except BadValue as exc:
                rejected.append(_rejected(line, exc, ",".join(row)))
    except csv.Error as exc:
        raise ParseError(str(exc), file=request.source, line=reader.line_num) from exc
    return candidates, rejected


def _rows(reader: CsvReader) -> Iterator[tuple[int, list[str]]]:
    """Rows with their line numbers, without blank rows and `#` comment rows."""
    for row in reader:
        if any(cell.strip() for cell in row) and not row[0].lstrip().startswith("#"):
            # The reader's count of lines read so far: a row's last line.
            yield reader.line_num, row


def _header(row: list[str], line: int, request: ImportRequest) -> list[str]:
    names = [cell.strip().lower().replace("-", "_").replace(" ", "_") for cell in row]
    for name in names:
        if name not in CSV_COLUMNS:
            message = f"unknown column '{name}'; the columns are {', '.join(CSV_COLUMNS)}"
            raise ParseError(message, file=request.source, line=line, column=name)
    needed = ["kind", "value"] if request.organisation else ["organisation", "kind", "value"]
    for name in needed:
        if name not in names:
            message = f"the header has no column '{name}'"
            raise ParseError(message, file=request.source, line=line, column=name)
    return names


def _csv_candidate(
    header: list[str], row: list[str], line: int, request: ImportRequest
) -> Candidate:
    if len(row) != len(header):
        message = f"the row has {len(row)} fields, the header {len(header)}"
        raise BadValue(message, field=None, value=",".join(row))
    cells = {name: cell.strip() for name, cell in zip(header, row, strict=True)}
    kind_text = cells["kind"].lower()
    try:
        kind = ConstituencyKind(kind_text)
    except ValueError:
        allowed = ", ".join(kind.value for kind in ConstituencyKind)
        raise BadValue(f"unknown kind; one of: {allowed}", field="kind", value=kind_text) from None
    organisation: Organisation | str | None = cells.get("organisation") or request.organisation
    if organisation is None:
        raise BadValue("name the organisation", field="organisation", value="")
    email = cells.get("contact_email") or None
    return Candidate(line, organisation, kind, cells["value"], email)


# ---- RIPE database objects -------------------------------------------------------------


def import_ripe(
    session: Session, actor: Actor, by: User | None, request: ImportRequest
) -> ImportReport:
    """An organisation's `inetnum`, `inet6num`, `route`, `route6` and `aut-num` objects.

    Each object's contact is its `abuse-mailbox`, else that of the role or organisation
    object its `abuse-c` or `org` names (when the export includes it), else its `e-mail`.
    """
    organisation = request.organisation
    if organisation is None:
        raise BadValue("name the organisation these RIPE objects are of", field="organisation")
    check_may_change(by, organisation)
    _refuse_nul(request.text)
    objects, unreadable = read_rpsl(request.text)
    rejected = [
        RejectedRow(line=u.line, field=None, value=u.text[:200], reason="not an RPSL line")
        for u in unreadable
    ]
    candidates, ignored = ripe_candidates(objects, organisation, rejected)
    importer = _Importer(session, by, request.progress)
    report = importer.run(actor, ImportFormat.RIPE, candidates, rejected)
    report.ignored_objects = ignored
    return report


def ripe_candidates(
    objects: list[RpslObject], organisation: Organisation, rejected: list[RejectedRow]
) -> tuple[list[Candidate], int]:
    """The values the resource objects declare (appending what is wrong to `rejected`), and
    how many objects of other classes there were."""
    index = {
        key.upper(): obj
        for obj in objects
        if (
            key := obj.first("nic-hdl") or (obj.key if obj.object_class == "organisation" else None)
        )
    }
    candidates: list[Candidate] = []
    ignored = 0
    for obj in objects:
        kind = _RIPE_KINDS.get(obj.object_class)
        if kind is None:
            ignored += 1
            continue
        try:
            values = _inetnum_prefixes(obj.key) if obj.object_class == "inetnum" else [obj.key]
        except BadValue as exc:
            rejected.append(_rejected(obj.line, exc, obj.key))
            continue
        mailbox = _mailbox(obj, index)
        candidates.extend(Candidate(obj.line, organisation, kind, v, mailbox) for v in values)
    return candidates, ignored


_RIPE_KINDS = {
    "inetnum": ConstituencyKind.PREFIX,
    "inet6num": ConstituencyKind.PREFIX,
    "route": ConstituencyKind.PREFIX,
    "route6": ConstituencyKind.PREFIX,
    "aut-num": ConstituencyKind.ASN,
}


def _inetnum_prefixes(key: str) -> list[str]:
    """`192.0.2.0 - 192.0.3.255` as the fewest prefixes covering exactly that range."""
    if "/" in key:
        return [key]
    first, dash, last = key.partition("-")
    try:
        start, end = ipaddress.IPv4Address(first.strip()), ipaddress.IPv4Address(last.strip())
    except ValueError:
        message = "an inetnum is a range of IPv4 addresses like 192.0.2.0 - 192.0.2.255"
        raise BadValue(message, field="value", value=key) from None
    if not dash or start > end:
        raise BadValue("the range's first address is after its last", field="value", value=key)
    return [str(network) for network in ipaddress.summarize_address_range(start, end)]


def _mailbox(obj: RpslObject, index: dict[str, RpslObject], depth: int = 0) -> str | None:
    own = obj.first("abuse-mailbox")
    if own:
        return own
    # An inetnum names its organisation, which names its abuse role: two hops at most.
    if depth < 2:
        for reference in ("abuse-c", "org"):
            key = obj.first(reference)
            target = index.get(key.upper()) if key else None
            if target is not None and target is not obj:
                found = _mailbox(target, index, depth + 1)
                if found:
                    return found
    return obj.first("e-mail")


# ---- storing ---------------------------------------------------------------------------


def _refuse_nul(text: str) -> None:
    if "\x00" in text:
        raise BadValue("the text contains NUL characters; is it a text file?", field="file")


def _rejected(line: int, exc: AppError, value: str) -> RejectedRow:
    shown = value if exc.value is None else str(exc.value)
    return RejectedRow(line=line, field=exc.field, value=shown[:200], reason=exc.message)


class _Importer:
    """One import's state: organisations looked up once, stored entries loaded once each."""

    def __init__(self, session: Session, by: User | None, progress: ImportProgress | None) -> None:
        self.session = session
        self.by = by
        self.progress = progress
        # Looked up once per import, failures included: a file names few organisations.
        self.organisations: dict[str, Organisation | AppError] = {}
        self.stored: dict[int, dict[tuple[ConstituencyKind, str], Constituency]] = {}
        self.added: list[tuple[int, Constituency]] = []
        self.duplicates: list[ImportedRow] = []
        self.rejected: list[RejectedRow] = []
        self.contacts: list[tuple[int, Constituency, str]] = []

    def run(
        self,
        actor: Actor,
        import_format: ImportFormat,
        candidates: list[Candidate],
        rejected: list[RejectedRow],
    ) -> ImportReport:
        self.rejected.extend(rejected)
        with translate_db_errors():
            for done, candidate in enumerate(candidates, start=1):
                self._take(candidate)
                if done % CHUNK == 0 or done == len(candidates):
                    self.session.flush()
                    if self.progress:
                        self.progress(done, len(candidates))
            contacts_added = self._add_contacts()
            self._audit(actor, import_format, contacts_added)
            self.session.commit()
        return ImportReport(
            format=import_format,
            added=[_row(line, c) for line, c in self.added],
            duplicates=self.duplicates,
            rejected=sorted(self.rejected, key=lambda r: r.line),
            contacts_added=sum(contacts_added.values()),
        )

    def _take(self, candidate: Candidate) -> None:
        try:
            organisation = self._organisation(candidate.organisation)
            check_may_change(self.by, organisation)
            value = canonical_for(self.session, organisation, candidate.kind, candidate.value)
        except AppError as exc:
            rejected = _rejected(candidate.line, exc, candidate.value)
            # The input's column is `organisation`, whatever the service calls it.
            if rejected.field == "organisation_id":
                rejected.field = "organisation"
            self.rejected.append(rejected)
            return
        stored = self._stored(organisation)
        key = (candidate.kind, value.value)
        constituency = stored.get(key)
        if constituency is None:
            constituency = new_constituency(organisation, candidate.kind, value)
            self.session.add(constituency)
            stored[key] = constituency
            self.added.append((candidate.line, constituency))
        else:
            self.duplicates.append(
                ImportedRow(
                    line=candidate.line,
                    organisation_id=organisation.id,
                    kind=candidate.kind,
                    value=value.value,
                )
            )
        if candidate.contact_email:
            self.contacts.append((candidate.line, constituency, candidate.contact_email))

    def _organisation(self, reference: Organisation | str) -> Organisation:
        if isinstance(reference, Organisation):
            return reference
        key = reference.strip().lower()
        if key not in self.organisations:
            try:
                self.organisations[key] = find_organisation(self.session, reference)
            except AppError as exc:
                self.organisations[key] = exc
        found = self.organisations[key]
        if isinstance(found, AppError):
            raise found
        return found

    def _stored(
        self, organisation: Organisation
    ) -> dict[tuple[ConstituencyKind, str], Constituency]:
        if organisation.id not in self.stored:
            rows = self.session.scalars(
                select(Constituency).where(Constituency.organisation_id == organisation.id)
            )
            self.stored[organisation.id] = {(c.kind, c.value): c for c in rows}
        return self.stored[organisation.id]

    def _add_contacts(self) -> Counter[int]:
        """Attach each row's contact to its entry, unless the organisation's contacts for its
        whole constituency or that entry's own contacts already include the address."""
        added: Counter[int] = Counter()
        if not self.contacts:
            return added
        organisation_ids = {c.organisation_id for _line, c, _email in self.contacts}
        known = {
            (contact.organisation_id, contact.constituency_id, contact.email)
            for contact in self.session.scalars(
                select(ConstituencyContact).where(
                    ConstituencyContact.organisation_id.in_(organisation_ids)
                )
            )
        }
        for line, constituency, raw in self.contacts:
            try:
                email = str(_EMAIL.validate_python(raw)).lower()
            except ValidationError:
                reason = "not an e-mail address"
                self.rejected.append(
                    RejectedRow(line=line, field="contact_email", value=raw, reason=reason)
                )
                continue
            organisation_id = constituency.organisation_id
            if {(organisation_id, None, email), (organisation_id, constituency.id, email)} & known:
                continue
            self.session.add(new_contact(organisation_id, constituency.id, email))
            known.add((organisation_id, constituency.id, email))
            added[organisation_id] += 1
        self.session.flush()
        return added

    def _audit(self, actor: Actor, import_format: ImportFormat, contacts: Counter[int]) -> None:
        """One entry per organisation that gained something, naming what it gained."""
        values: dict[int, list[str]] = {}
        for _line, constituency in self.added:
            values.setdefault(constituency.organisation_id, []).append(constituency.value)
        for organisation_id in sorted(set(values) | set(contacts)):
            added = values.get(organisation_id, [])
            audit.record(
                self.session,
                actor,
                "constituency.import",
                ("organisation", organisation_id),
                format=import_format.value,
                added=len(added),
                values=", ".join(added[:AUDITED_VALUES]),
                contacts_added=contacts[organisation_id],
            )


def _row(line: int, constituency: Constituency) -> ImportedRow:
    return ImportedRow(
        line=line,
        organisation_id=constituency.organisation_id,
        kind=constituency.kind,
        value=constituency.value,
    )


def import_constituencies(
    session: Session,
    actor: Actor,
    by: User | None,
    import_format: ImportFormat,
    request: ImportRequest,
) -> ImportReport:
    """`import_csv` or `import_ripe`, as `import_format` says: what the API, UI and CLI call."""
    importer = import_csv if import_format is ImportFormat.CSV else import_ripe
    return importer(session, actor, by, request)
