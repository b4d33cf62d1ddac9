"""Writing an envelope into a collection, and the status resource that reports on it.

Where the objects go: each organisation writing to a collection has one event for it, its
*inbox* (`TaxiiInbox`), made on its first write: owned by the writer's organisation,
titled after the collection, carrying the collection's tags, marked the collection's
maximum TLP and distributed as widely as that TLP allows within the collection's sharing
group (if it has one) or to all members. So what a writer posts shows in the collection
to everyone who may read it, and no further than the collection promises. Objects carrying
a stricter TLP marking keep it (the import never loosens a marking).

The objects go through the STIX import (`interop.stix_import.import_objects`), so indicators
with simple patterns become Entente indicators (validated, correlated) and every object is
kept as it came. Each object is checked first (`from_stix.check_object`): an invalid one is
a failure of the status resource naming the property at fault, and the valid ones are
stored anyway (TAXII 2.1 section 4.3.1). Envelopes are processed before the response: every
status is `complete`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.core.access import GROUP_TLPS, MEMBER_TLPS_BY_DISTRIBUTION
from entente.core.clock import utcnow
from entente.core.errors import BadValue, NotFound
from entente.interop.from_stix import Incoming, Rejected
from entente.interop.from_stix import check_object as check_stix_object
from entente.interop.stix_import import ImportTarget, import_objects
from entente.interop.taxii.collections import CollectionAccess
from entente.interop.taxii.models import TaxiiCollection, TaxiiInbox, TaxiiStatus
from entente.interop.taxii.objects import taxii_timestamp
from entente.members.accounts import Principal
from entente.sharing import service
from entente.sharing.models import Event
from entente.sharing.permissions import require_writer
from entente.sharing.schemas import EventCreate
from entente.vocabulary.markings import Distribution

MAX_EVENT_TAGS = 100


def write_envelope(
    session: Session, principal: Principal, access: CollectionAccess, body: bytes
) -> TaxiiStatus:
    """Store the envelope's valid objects in the caller's inbox event; report on each."""
    access.require_write()
    require_writer(principal)
    contents = _objects_of(body)
    successes: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    passed: list[Incoming] = []
    for index, content in enumerate(contents):
        checked = check_stix_object(content, index)
        if isinstance(checked, Rejected):
            failures.append(_failure(content, index, _reason(checked)))
        elif isinstance(checked, Incoming):
            passed.append(checked)
        else:  # an official TLP marking definition: the server holds it already
            successes.append(_detail(content, index))
    if passed:
        imported, refused = _import(session, principal, access.collection, passed)
        successes.extend(imported)
        failures.extend(refused)
    status = TaxiiStatus(
        uuid=str(uuid.uuid4()),
        collection_id=access.collection.id,
        organisation_id=principal.user.organisation_id,
        request_timestamp=utcnow(),
        total_count=len(contents),
        success_count=len(successes),
        failure_count=len(failures),
        successes=successes,
        failures=failures,
    )
    session.add(status)
    session.commit()
    return status


def _import(
    session: Session, principal: Principal, collection: TaxiiCollection, passed: list[Incoming]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Import the checked objects; the status details of those stored and those refused."""
    event = inbox_event(session, principal, collection)
    target = ImportTarget(event=event)
    try:
        result = import_objects(session, principal, [item.content for item in passed], target)
    except BadValue as exc:  # nothing could be imported: every object says why
        return [], [_failure(i.content, i.index, exc.message) for i in passed]
    refused = {rejection.index: rejection.message for rejection in result.rejected}
    successes = [
        _detail(item.content, item.index)
        for position, item in enumerate(passed)
        if position not in refused
    ]
    failures = [
        _failure(item.content, item.index, refused[position])
        for position, item in enumerate(passed)
        if position in refused
    ]
    return successes, failures


def inbox_event(session: Session, principal: Principal, collection: TaxiiCollection) -> Event:
    """The caller's organisation's event for this collection, made on first use."""
    organisation_id = principal.user.organisation_id
    inbox = session.get(TaxiiInbox, (collection.id, organisation_id))
    if inbox is not None:
        return session.get_one(Event, inbox.event_id)
    tlp = collection.max_tlp
    if collection.sharing_group_id is not None and tlp in GROUP_TLPS:
        distribution = Distribution.SHARING_GROUP
    elif tlp in MEMBER_TLPS_BY_DISTRIBUTION[Distribution.ALL_MEMBERS]:
        distribution = Distribution.ALL_MEMBERS
    else:
        distribution = Distribution.ORGANISATION
    data = EventCreate(
        title=f"TAXII: {collection.title}"[:300],
        description=f"Objects posted to the TAXII collection {collection.uuid}.",
        event_date=utcnow().date(),
        tlp=tlp,
        distribution=distribution,
        sharing_group_id=(
            collection.sharing_group_id if distribution is Distribution.SHARING_GROUP else None
        ),
        tags=collection.tags[:MAX_EVENT_TAGS],
    )
    event = service.create_event(session, principal, data)
    session.add(
        TaxiiInbox(collection_id=collection.id, organisation_id=organisation_id, event_id=event.id)
    )
    session.commit()
    return event


def _objects_of(body: bytes) -> list[Any]:
    """The envelope's `objects` (section 3.7), or 400 naming what is wrong."""
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadValue(f"the body is not JSON: {exc}", field="envelope") from exc
    if not isinstance(envelope, dict):
        raise BadValue("an envelope is a JSON object", field="envelope")
    objects = envelope.get("objects", [])
    if not isinstance(objects, list):
        raise BadValue("an envelope's 'objects' is a list", field="objects")
    return objects


def _reason(rejected: Rejected) -> str:
    return f"{rejected.field}: {rejected.message}" if rejected.field else rejected.message


def _identity(content: Any, index: int) -> tuple[str, str | None]:
    """An object's id (or its place, when it has none) and its version (section 4.3.1)."""
    if not isinstance(content, dict):
        return f"objects[{index}]", None
    stix_id = content.get("id")
    version = content.get("modified") or content.get("created")
    return (
        stix_id if isinstance(stix_id, str) else f"objects[{index}]",
        version if isinstance(version, str) else None,
    )


def _detail(content: Any, index: int) -> dict[str, Any]:
    stix_id, version = _identity(content, index)
    detail: dict[str, Any] = {"id": stix_id}
    if version is not None:
        detail["version"] = version
    return detail


def _failure(content: Any, index: int, message: str) -> dict[str, Any]:
    return {**_detail(content, index), "message": message}


def status_resource(status: TaxiiStatus) -> dict[str, Any]:
    """The status resource (section 4.3.1) as sent to the client."""
    return {
        "id": status.uuid,
        "status": "complete",
        "request_timestamp": taxii_timestamp(status.request_timestamp),
        "total_count": status.total_count,
        "success_count": status.success_count,
        "successes": status.successes,
        "failure_count": status.failure_count,
        "failures": status.failures,
        "pending_count": 0,
        "pendings": [],
    }


def get_status(session: Session, principal: Principal, status_id: str) -> TaxiiStatus:
    """A status of an envelope the caller's organisation wrote; 404 for anyone else's."""
    status = session.scalar(
        select(TaxiiStatus).where(
            TaxiiStatus.uuid == status_id,
            TaxiiStatus.organisation_id == principal.user.organisation_id,
        )
    )
    if status is None:
        raise NotFound(f"no status {status_id!r}", field="status_id", value=status_id)
    return status
