"""REST routes of STIX 2.1: export of events as bundles (streamed), import of bundles.

Exports read through the access predicate for the caller (`stix_export`); imports write
through the sharing services as the caller, so only the owner's writers add to an event.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from entente.core.errors import BadValue
from entente.core.schemas import refuse_nul
from entente.interop.bundles import StixOut, bundle_text
from entente.interop.schemas import NewEventTarget, StixImportResult
from entente.interop.stix_export import event_bundle, events_bundle
from entente.interop.stix_import import BundleFile, ImportTarget, import_bundle
from entente.members.accounts import Principal
from entente.members.schemas import RowId
from entente.sharing import service
from entente.sharing.api import EventDep, EventFilterDep
from entente.sharing.schemas import Title
from entente.vocabulary.markings import TLP, Distribution
from entente.web.deps import PrincipalDep, SessionDep
from entente.web.errors import ERROR_RESPONSES

router = APIRouter(responses=ERROR_RESPONSES, tags=["stix"])

# The media type of a STIX 2.1 bundle (TAXII 2.1 section 1.6.8.2).
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
_BUNDLE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {STIX_MEDIA_TYPE: {}}, "description": "A STIX 2.1 bundle"}
}
# An upload is read into memory up to this size, beyond it into a temporary file.
_SPOOL_IN_MEMORY = 4 * 1024 * 1024


def _streamed(objects: Iterator[StixOut], filename: str) -> StreamingResponse:
    return StreamingResponse(
        (piece.encode() for piece in bundle_text(objects)),
        media_type=STIX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/events/{event_id}/stix", response_class=StreamingResponse, responses=_BUNDLE_RESPONSE)
def export_event(
    event: EventDep, session: SessionDep, principal: PrincipalDep
) -> StreamingResponse:
    """The event as a STIX 2.1 bundle, as you may see it, streamed (docs/stix.md)."""
    objects = event_bundle(session, principal.viewer, event)
    return _streamed(objects, f"entente-event-{event.id}.json")


@router.get("/stix/bundle", response_class=StreamingResponse, responses=_BUNDLE_RESPONSE)
def export_events(
    session: SessionDep, principal: PrincipalDep, filters: EventFilterDep
) -> StreamingResponse:
    """Every event you may see that matches the filters, as one STIX 2.1 bundle, streamed."""
    return _streamed(events_bundle(session, principal.viewer, filters), "entente-events.json")


@dataclass(frozen=True)
class ImportParams:
    """Where a bundle goes: `event_id`, or a new event titled `new_event`."""

    event_id: Annotated[RowId | None, Query(description="Import into this event")] = None
    new_event: Annotated[
        Title | None, AfterValidator(refuse_nul), Query(description="Title of a new event")
    ] = None
    tlp: Annotated[TLP | None, Query(description="New event: its TLP (else the bundle's)")] = None
    distribution: Annotated[Distribution, Query(description="New event: who it reaches")] = (
        Distribution.ORGANISATION
    )
    sharing_group_id: Annotated[RowId | None, Query(description="New event: its group")] = None


# The body is read as a stream, not parsed by FastAPI: declared here for clients and docs.
_BUNDLE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A STIX 2.1 bundle",
        "content": {
            media: {"schema": {"type": "object", "required": ["type"]}}
            for media in (STIX_MEDIA_TYPE, "application/json")
        },
    }
}


@router.post("/stix/import", response_model=StixImportResult, openapi_extra=_BUNDLE_BODY)
async def import_stix(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    params: Annotated[ImportParams, Depends()],
) -> StixImportResult:
    """Import a STIX 2.1 bundle (the request body) into an event or a new event.

    Valid objects are imported and each invalid one is listed in `rejected` with its id and
    the property at fault; a bundle with nothing to import is a 422 naming the first. Body
    over the size limit: 413. Importing the same bundle again adds nothing.
    """
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        bundle = BundleFile(spool, "request body")
        return await run_in_threadpool(_import, session, principal, bundle, params)


def _import(
    session: Session, principal: Principal, bundle: BundleFile, params: ImportParams
) -> StixImportResult:
    if (params.event_id is None) == (params.new_event is None):
        raise BadValue("give event_id or new_event (a title), not both", field="event_id")
    if params.event_id is not None:
        target = ImportTarget(event=service.get_event(session, principal.viewer, params.event_id))
    else:
        assert params.new_event is not None
        new_event = NewEventTarget(
            title=params.new_event,
            tlp=params.tlp,
            distribution=params.distribution,
            sharing_group_id=params.sharing_group_id,
        )
        target = ImportTarget(new_event=new_event)
    return import_bundle(session, principal, bundle, target)
