"""Import a STIX 2.1 bundle or a MISP event file into one event, with a preview first.

The preview runs the real import (`stix_import.import_bundle`; for MISP, the MISP reader and
the sharing bulk path) in a rehearsal (`rehearsal.py`): every check runs, and what it
would add is counted from the event's rows before the rehearsal is rolled back. The
confirmed import then runs the same function for real.

A MISP file's attributes become indicators of *this* event. The MISP event's own title,
tags, distribution and sightings are not applied here: `entente misp import` and
`POST /api/v1/misp/import` import whole MISP events as events of their own.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import IO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from entente.core.errors import AppError, BadValue
from entente.interop.markings import strictest
from entente.interop.misp.from_misp import IncomingEvent, incoming_event
from entente.interop.misp.reading import events_in_stream
from entente.interop.models import StixObject
from entente.interop.pending_imports import ImportFormat, PendingImport
from entente.interop.rehearsal import principal_in, rehearsal
from entente.interop.schemas import MAX_LISTED_REJECTIONS
from entente.interop.stix_import import BundleFile, ImportTarget, import_bundle
from entente.members.accounts import Principal
from entente.sharing import indicator_service
from entente.sharing.models import Event, Indicator
from entente.sharing.permissions import require_owner
from entente.sharing.schemas import MAX_INDICATORS_PER_REQUEST, IndicatorBatch, IndicatorCreate

# What the readers call the file in their messages ("upload, event 2: ...").
UPLOAD_NAME = "upload"


@dataclass(frozen=True, slots=True)
class RejectedPart:
    """A part of the file that is not imported: where it is, and why."""

    where: str
    message: str


@dataclass
class ImportReport:
    """What an import adds to the event (or would add, for a preview)."""

    indicators_by_type: dict[str, int] = field(default_factory=dict)
    objects_by_type: dict[str, int] = field(default_factory=dict)
    objects_updated: int = 0
    already_there: int = 0
    skipped: int = 0
    rejected: list[RejectedPart] = field(default_factory=list)
    rejected_count: int = 0

    @property
    def indicators_added(self) -> int:
        return sum(self.indicators_by_type.values())

    @property
    def objects_stored(self) -> int:
        return sum(self.objects_by_type.values())

    def summary(self) -> str:
        return (
            f"{self.indicators_added:,} indicators added, {self.objects_stored:,} STIX objects "
            f"kept, {self.objects_updated:,} updated, {self.already_there:,} already there, "
            f"{self.rejected_count:,} rejected."
        )


def preview_import(
    session: Session, principal: Principal, event: Event, pending: PendingImport
) -> ImportReport:
    """What importing the file would do, with nothing stored."""
    require_owner(principal, event)
    with rehearsal(session) as trial:
        trial_event = trial.get(Event, event.id)
        assert trial_event is not None, "loaded by this request"
        return run_import(trial, principal_in(trial, principal), trial_event, pending)


def run_import(
    session: Session, principal: Principal, event: Event, pending: PendingImport
) -> ImportReport:
    """Import the file into the event (owner's writers only); audited by the import path."""
    require_owner(principal, event)
    before = _rows_by_type(session, event)
    with pending.path.open("rb") as stream:
        if pending.format is ImportFormat.STIX:
            report = _import_stix(session, principal, event, stream)
        else:
            report = _import_misp(session, principal, event, stream)
    after = _rows_by_type(session, event)
    report.indicators_by_type = _growth(before[0], after[0])
    report.objects_by_type = _growth(before[1], after[1])
    return report


# ---- STIX ----------------------------------------------------------------------------------


def _import_stix(
    session: Session, principal: Principal, event: Event, stream: IO[bytes]
) -> ImportReport:
    result = import_bundle(session, principal, BundleFile(stream, UPLOAD_NAME), ImportTarget(event))
    return ImportReport(
        objects_updated=result.objects_updated,
        already_there=result.indicator_duplicates + result.objects_unchanged,
        skipped=result.objects_skipped,
        rejected=[
            RejectedPart(
                f"object {r.index}" + (f" ({r.object_id})" if r.object_id else ""), r.message
            )
            for r in result.rejected
        ],
        rejected_count=result.rejected_count,
    )


# ---- MISP ----------------------------------------------------------------------------------


def _import_misp(
    session: Session, principal: Principal, event: Event, stream: IO[bytes]
) -> ImportReport:
    report = ImportReport()
    seen_events = added = 0
    for raw in events_in_stream(stream, UPLOAD_NAME):
        seen_events += 1
        try:
            incoming = incoming_event(raw.content)
        except AppError as exc:
            _reject(report, f"{raw.source}: {exc.field or 'Event'}", exc.message)
            continue
        added += _add_attributes(session, principal, event, incoming, report)
        for rejection in incoming.rejected:
            _reject(report, f"{raw.source}: {rejection.field}", rejection.message)
    if not seen_events:
        raise BadValue("the file holds no MISP event", field="file")
    if not added and not report.already_there:
        first = report.rejected[0] if report.rejected else None
        reason = f"{first.where}: {first.message}" if first else "the events hold no attribute"
        raise BadValue(f"nothing to import: {reason}", field="file")
    return report


def _add_attributes(
    session: Session,
    principal: Principal,
    event: Event,
    incoming: IncomingEvent,
    report: ImportReport,
) -> int:
    """The attributes down the sharing bulk path, never looser than this event's TLP;
    returns how many were added."""
    creates = [
        item.item.model_copy(update={"tlp": strictest([item.item.tlp, event.tlp])})
        for item in incoming.indicators
    ]
    added = 0
    for start in range(0, len(creates), MAX_INDICATORS_PER_REQUEST):
        chunk: list[IndicatorCreate] = creates[start : start + MAX_INDICATORS_PER_REQUEST]
        try:
            result = indicator_service.add_indicators(
                session, principal, event, IndicatorBatch(indicators=chunk)
            )
        except BadValue as exc:  # every one refused
            for offset in range(len(chunk)):
                _reject(report, incoming.indicators[start + offset].place, exc.message)
            continue
        added += result.added_count
        report.already_there += result.duplicates
        for rejection in result.rejected:
            _reject(report, incoming.indicators[start + rejection.index].place, rejection.message)
    return added


def _reject(report: ImportReport, where: str, message: str) -> None:
    report.rejected_count += 1
    if len(report.rejected) < MAX_LISTED_REJECTIONS:
        report.rejected.append(RejectedPart(where, message))


# ---- counting --------------------------------------------------------------------------


def _rows_by_type(session: Session, event: Event) -> tuple[Counter[str], Counter[str]]:
    """The event's indicators and kept STIX objects, counted by type."""
    indicators = session.execute(
        select(Indicator.type, func.count())
        .where(Indicator.event_id == event.id)
        .group_by(Indicator.type)
    )
    objects = session.execute(
        select(StixObject.type, func.count())
        .where(StixObject.event_id == event.id)
        .group_by(StixObject.type)
    )
    return (
        Counter({str(kind): count for kind, count in indicators}),
        Counter({str(kind): count for kind, count in objects}),
    )


def _growth(before: Counter[str], after: Counter[str]) -> dict[str, int]:
    grown = after - before
    return dict(sorted(grown.items()))
