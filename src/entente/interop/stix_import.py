"""Import of STIX 2.1 bundles into an event, streamed, idempotent, through the bulk write path.

Objects are read one at a time (`bundles.read_objects`), checked (`from_stix.check_object`)
and written a batch of `BATCH` at a time, each batch committed on its own: indicators
through `sharing.indicator_service.add_indicators` (validated, flagged, scored, correlated,
COPY on PostgreSQL), then every object's JSON into `stix_object`, linked to the indicators
made from it.

Re-importing changes nothing: an object is stored once per event and replaced only by a
version with a later `modified`; the indicators of an unchanged object are not sent again,
and those of a new version that already exist are duplicates the bulk path skips. A bundle
cut short (invalid JSON at some byte) keeps the batches before the fault; importing the
mended file completes it.

Only writers of the event's owner organisation import into an event, as only they add
indicators (`sharing.permissions.require_owner`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, cast

from pydantic import ValidationError
from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.orm import Session

from entente.core import audit
from entente.core.clock import utcnow
from entente.core.errors import AppError, BadValue
from entente.interop.bundles import read_objects
from entente.interop.choices import StixRole
from entente.interop.from_stix import (
    Incoming,
    IndicatorValue,
    Rejected,
    Skipped,
    check_object,
)
from entente.interop.identifiers import derived_id
from entente.interop.import_events import (
    CONTAINER_TYPES,
    ContainerChoice,
    container_rank,
    event_imported_as,
    new_event_data,
)
from entente.interop.markings import strictest
from entente.interop.models import StixIndicatorLink, StixObject
from entente.interop.schemas import (
    MAX_LISTED_REJECTIONS,
    NewEventTarget,
    StixImportResult,
    StixRejection,
)
from entente.members.accounts import Principal
from entente.sharing import indicator_service, service
from entente.sharing.indicator_service import value_digest
from entente.sharing.models import Event, Indicator
from entente.sharing.permissions import require_owner
from entente.sharing.queries import digest_chunks
from entente.sharing.schemas import (
    MAX_INDICATORS_PER_REQUEST,
    IndicatorBatch,
    IndicatorCreate,
)

# Objects per database round: large enough that per-round costs vanish, small enough that
# every IN (...) stays far below the drivers' parameter limits.
BATCH = 1_000


@dataclass(frozen=True, slots=True)
class ImportTarget:
    """An event the caller has loaded for its viewer, or a new event to make."""

    event: Event | None = None
    new_event: NewEventTarget | None = None


@dataclass(frozen=True, slots=True)
class BundleFile:
    """A seekable bundle file and the name errors refer to it by."""

    stream: IO[bytes]
    name: str


def import_bundle(
    session: Session,
    principal: Principal,
    bundle: BundleFile,
    target: ImportTarget,
    progress: Callable[[int], None] | None = None,
) -> StixImportResult:
    """Import a bundle file; `progress` hears how many bytes have been read."""
    objects = read_objects(bundle.stream, bundle.name, progress)
    return import_objects(session, principal, objects, target)


def import_objects(
    session: Session, principal: Principal, objects: Iterable[Any], target: ImportTarget
) -> StixImportResult:
    """Import STIX objects (a bundle's, a TAXII envelope's) into the target event."""
    run = _ImportRun(session, principal, target)
    batch: list[Incoming | Rejected | Skipped] = []
    for index, content in enumerate(objects):
        batch.append(check_object(content, index))
        if len(batch) >= BATCH:
            run.write(batch)
            batch = []
    run.write(batch)
    return run.finish()


@dataclass
class _Stored:
    row_id: int
    modified: datetime | None
    role: StixRole


@dataclass
class _ImportRun:
    session: Session
    principal: Principal
    target: ImportTarget
    event: Event | None = None
    created_event: bool = False
    container: ContainerChoice = field(default_factory=ContainerChoice)
    changed: bool = False
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("read", "added", "duplicates", "stored", "updated", "unchanged", "skipped"), 0
        )
    )
    # The first rejections, to report them; a bundle of a million bad objects is counted,
    # not held (`rejected_count`).
    rejected: list[Rejected] = field(default_factory=list)
    rejected_count: int = 0

    def __post_init__(self) -> None:
        if (self.target.event is None) == (self.target.new_event is None):
            raise BadValue("name an event to import into, or a new event", field="event_id")
        if self.target.event is not None:
            require_owner(self.principal, self.target.event)
            self.event = self.target.event

    # ---- one batch -------------------------------------------------------------------------

    def write(self, batch: list[Incoming | Rejected | Skipped]) -> None:
        self.counts["read"] += len(batch)
        incoming: list[Incoming] = []
        for item in batch:
            if isinstance(item, Rejected):
                self._note(item)
            elif isinstance(item, Skipped):
                self.counts["skipped"] += 1
            else:
                incoming.append(item)
        if not incoming:
            return
        event = self._event_for(incoming)
        fresh = self._fresh(event, _latest(incoming))
        indicator_ids, refused = self._add_indicators(event, fresh)
        accepted = [(item, known) for item, known in fresh if item.stix_id not in refused]
        self._store(event, accepted, indicator_ids)
        self.session.commit()

    def _fresh(
        self, event: Event, incoming: list[Incoming]
    ) -> list[tuple[Incoming, _Stored | None]]:
        """The objects new to the event or newer than its copy; the rest are counted."""
        stored = self._stored(event, [item.stix_id for item in incoming])
        # The event's own report or grouping coming back (as either, published or not).
        own = {derived_id(kind, event.uuid) for kind in CONTAINER_TYPES}
        fresh: list[tuple[Incoming, _Stored | None]] = []
        for item in incoming:
            known = stored.get(item.stix_id)
            if item.stix_id in own or (known is not None and not _newer(item, known)):
                self.counts["unchanged"] += 1
                continue
            if self._is_container(item, known):
                item.role = StixRole.CONTAINER
            fresh.append((item, known))
        self._demote(event, fresh)
        return fresh

    def _is_container(self, item: Incoming, known: _Stored | None) -> bool:
        if known is not None:
            return known.role is StixRole.CONTAINER
        return self.target.new_event is not None and self.container.offer(item)

    def _demote(self, event: Event, fresh: list[tuple[Incoming, _Stored | None]]) -> None:
        """A report that was taken for the event's own until a better one came: kept."""
        demoted = set(self.container.demoted)
        self.container.demoted.clear()
        for item, _known in fresh:
            if item.stix_id in demoted:
                item.role = StixRole.KEPT
        if demoted:
            self.session.execute(
                update(StixObject)
                .where(StixObject.event_id == event.id, StixObject.stix_id.in_(sorted(demoted)))
                .values(role=StixRole.KEPT)
            )

    def _stored(self, event: Event, stix_ids: list[str]) -> dict[str, _Stored]:
        rows = self.session.execute(
            select(StixObject.stix_id, StixObject.id, StixObject.modified, StixObject.role).where(
                StixObject.event_id == event.id, StixObject.stix_id.in_(stix_ids)
            )
        )
        return {
            stix_id: _Stored(row_id, modified, role) for stix_id, row_id, modified, role in rows
        }

    def _add_indicators(
        self, event: Event, fresh: list[tuple[Incoming, _Stored | None]]
    ) -> tuple[dict[tuple[Any, str], int], set[str]]:
        """Send the indicators of new and newer objects down the bulk path. Returns the ids
        of the event's indicators by (type, digest), and the objects refused (reported)."""
        items: list[IndicatorCreate] = []
        owners: list[Incoming] = []
        refused: set[str] = set()
        for item, _known in fresh:
            if item.role is not StixRole.INDICATOR:
                continue
            try:
                creates = [_indicator_create(value, item, event) for value in item.values]
            except ValidationError as exc:
                self._refuse(item, f"not an Entente indicator: {_first(exc)}", refused)
                continue
            items.extend(creates)
            owners.extend([item] * len(creates))
        for start in range(0, len(items), MAX_INDICATORS_PER_REQUEST):
            end = start + MAX_INDICATORS_PER_REQUEST
            self._send(event, items[start:end], owners[start:end], refused)
        return _indicator_ids(self.session, event, items), refused

    def _send(
        self,
        event: Event,
        chunk: list[IndicatorCreate],
        owners: list[Incoming],
        refused: set[str],
    ) -> None:
        try:
            result = indicator_service.add_indicators(
                self.session, self.principal, event, IndicatorBatch(indicators=chunk)
            )
        except BadValue as exc:  # every one refused: each object says why
            for item in dict.fromkeys(owners):
                self._refuse(item, exc.message, refused)
            return
        self.counts["added"] += result.added_count
        self.counts["duplicates"] += result.duplicates
        for rejection in result.rejected:
            self._refuse(owners[rejection.index], rejection.message, refused)

    def _refuse(self, item: Incoming, message: str, refused: set[str]) -> None:
        """An object whose values the bulk path refuses is not stored either: reported."""
        if item.stix_id not in refused:
            refused.add(item.stix_id)
            self._note(Rejected(item.index, item.stix_id, "pattern", message))

    def _note(self, rejected: Rejected) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_LISTED_REJECTIONS:
            self.rejected.append(rejected)

    def _store(
        self,
        event: Event,
        fresh: list[tuple[Incoming, _Stored | None]],
        indicator_ids: dict[tuple[Any, str], int],
    ) -> None:
        now = utcnow()
        new = [item for item, known in fresh if known is None]
        newer = [(item, known) for item, known in fresh if known is not None]
        if new:
            self.session.execute(
                insert(cast(Table, StixObject.__table__)),
                [_row(event, item, now) for item in new],
            )
        for item, known in newer:
            values = _row(event, item, now)
            self.session.execute(
                update(StixObject).where(StixObject.id == known.row_id).values(**values)
            )
        if newer:
            changed_ids = [known.row_id for _item, known in newer]
            self.session.execute(
                delete(StixIndicatorLink).where(StixIndicatorLink.stix_object_id.in_(changed_ids))
            )
        row_ids = self._row_ids(event, [item.stix_id for item in new + [i for i, _ in newer]])
        self._link(new + [item for item, _known in newer], row_ids, indicator_ids)
        self.counts["stored"] += len(new)
        self.counts["updated"] += len(newer)
        self.changed = self.changed or bool(new or newer)

    def _row_ids(self, event: Event, stix_ids: list[str]) -> dict[str, int]:
        if not stix_ids:
            return {}
        rows = self.session.execute(
            select(StixObject.stix_id, StixObject.id).where(
                StixObject.event_id == event.id, StixObject.stix_id.in_(stix_ids)
            )
        )
        return {stix_id: row_id for stix_id, row_id in rows}

    def _link(
        self,
        items: list[Incoming],
        row_ids: dict[str, int],
        indicator_ids: dict[tuple[Any, str], int],
    ) -> None:
        links = {
            (row_ids[item.stix_id], indicator_ids[key])
            for item in items
            for key in (_key(value) for value in item.values)
            if key in indicator_ids
        }
        if links:
            self.session.execute(
                insert(cast(Table, StixIndicatorLink.__table__)),
                [{"stix_object_id": row, "indicator_id": ind} for row, ind in sorted(links)],
            )

    # ---- the event ---------------------------------------------------------------------------

    def _event_for(self, incoming: list[Incoming]) -> Event:
        if self.event is not None:
            return self.event
        new_event = self.target.new_event
        assert new_event is not None, "checked at the start"
        best = max(incoming, key=container_rank)
        container = best if container_rank(best) else None
        if container is not None:
            reused = event_imported_as(self.session, self.principal, container.stix_id)
            if reused is not None:
                self.event = reused
                self.container.settle(container.stix_id)
                return self.event
        data = new_event_data(new_event, container)
        self.event = service.create_event(self.session, self.principal, data)
        self.created_event = True
        return self.event

    # ---- the end -------------------------------------------------------------------------------

    def finish(self) -> StixImportResult:
        event = self.event
        if event is None or not self._imported_anything():
            raise self._nothing_imported()
        now = utcnow()
        if self.changed:
            # Kept objects are part of what the event shares, as its indicators are: the
            # event changed and waits for its next publication (as `sharing.service` does).
            event.updated_at = now
            event.published = False
        container = self.session.scalar(
            select(StixObject).where(
                StixObject.event_id == event.id, StixObject.role == StixRole.CONTAINER
            )
        )
        if container is not None and self.changed:
            if container.type == "report":
                service.publish_event(self.session, self.principal, event)
            # The container is the event as imported: later edits of the event show in the
            # `modified` of its export (`stix_export._container`), this import does not.
            container.imported_at = utcnow()
        audit.record(
            self.session,
            self.principal.actor(),
            "stix.import",
            ("event", event.id),
            **self.counts,
            rejected=self.rejected_count,
        )
        self.session.commit()
        return self._result(event)

    def _imported_anything(self) -> bool:
        counts = self.counts
        return any(counts[key] for key in ("added", "duplicates", "stored", "updated", "unchanged"))

    def _nothing_imported(self) -> AppError:
        if self.rejected:
            first = self.rejected[0]
            where = f"objects[{first.index}]" + (f".{first.field}" if first.field else "")
            who = f"{first.object_id}: " if first.object_id else f"object {first.index}: "
            return BadValue(who + first.message, field=where, value=first.object_id)
        return BadValue("the bundle holds no STIX object to import", field="objects")

    def _result(self, event: Event) -> StixImportResult:
        counts = self.counts
        return StixImportResult(
            event_id=event.id,
            created_event=self.created_event,
            objects_read=counts["read"],
            indicators_added=counts["added"],
            indicator_duplicates=counts["duplicates"],
            objects_stored=counts["stored"],
            objects_updated=counts["updated"],
            objects_unchanged=counts["unchanged"],
            objects_skipped=counts["skipped"],
            rejected=[
                StixRejection(
                    index=r.index, object_id=r.object_id, field=r.field, message=r.message
                )
                for r in self.rejected
            ],
            rejected_count=self.rejected_count,
        )


# ---- rows --------------------------------------------------------------------------------


def _newer(item: Incoming, known: _Stored) -> bool:
    """Section 3.6: versions differ by `modified`; an object without one never changes."""
    return (
        item.modified is not None and known.modified is not None and item.modified > known.modified
    )


def _latest(incoming: list[Incoming]) -> list[Incoming]:
    """One object per id in a batch: a bundle may hold several versions; the latest wins."""
    latest: dict[str, Incoming] = {}
    for item in incoming:
        seen = latest.get(item.stix_id)
        if seen is None or (
            item.modified is not None
            and seen.modified is not None
            and item.modified > seen.modified
        ):
            latest[item.stix_id] = item
    return list(latest.values())


def _row(event: Event, item: Incoming, now: Any) -> dict[str, Any]:
    return {
        "event_id": event.id,
        "stix_id": item.stix_id,
        "type": item.type,
        "spec_version": item.spec_version,
        "created": item.created,
        "modified": item.modified,
        "role": item.role,
        "tlp": strictest([item.tlp, event.tlp]),
        "body": item.body,
        "imported_at": now,
    }


def _indicator_create(value: IndicatorValue, item: Incoming, event: Event) -> IndicatorCreate:
    return IndicatorCreate(
        type=value.type,
        value=value.value,
        category=value.category,
        to_ids=value.to_ids,
        comment=value.comment,
        # Never looser than the event: the object's own marking only ever narrows it.
        tlp=strictest([item.tlp, event.tlp]),
    )


def _first(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


def _key(value: IndicatorValue) -> tuple[Any, str]:
    return value.type, value_digest(value.value)


def _indicator_ids(
    session: Session, event: Event, items: list[IndicatorCreate]
) -> dict[tuple[Any, str], int]:
    """Ids of the event's indicators with these values, new or already there."""
    digests = {value_digest(item.value) for item in items}
    found: dict[tuple[Any, str], int] = {}
    for chunk in digest_chunks(digests):
        rows = session.execute(
            select(Indicator.type, Indicator.value_digest, Indicator.id).where(
                Indicator.event_id == event.id, Indicator.value_digest.in_(chunk)
            )
        )
        for indicator_type, digest, indicator_id in rows:
            found[(indicator_type, digest)] = indicator_id
    return found
