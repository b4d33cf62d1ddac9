"""REST routes of MISP interop: events as MISP JSON, import of MISP JSON, a MISP feed.

Exports read through the access predicate for the caller (`misp.exports`); the feed under
`/misp/feed/` is what a remote MISP subscribes to as a "MISP Feed" with the header
`Authorization: Bearer <token>`: it holds what the token's organisation may see, published
events only (docs/misp.md). Imports write for the caller's organisation (`misp.imports`).
"""

from __future__ import annotations

import tempfile
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from entente.interop.misp.exports import (
    event_by_uuid,
    event_misp,
    events_misp,
    published_events,
    response_text,
    visible_parts,
)
from entente.interop.misp.feed_export import attribute_hash, feed_manifest
from entente.interop.misp.imports import import_events, importer_of
from entente.interop.misp.reading import events_in_stream
from entente.interop.misp.schemas import MispImportResult
from entente.members.accounts import Principal
from entente.sharing.api import EventDep, EventFilterDep
from entente.web.deps import PrincipalDep, SessionDep
from entente.web.errors import ERROR_RESPONSES

router = APIRouter(responses=ERROR_RESPONSES, tags=["misp"])

_SPOOL_IN_MEMORY = 4 * 1024 * 1024
_UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


@router.get("/events/{event_id}/misp")
def export_event(event: EventDep, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """The event as MISP event JSON (`{"Event": {...}}`), as you may see it."""
    return event_misp(session, principal.viewer, event)


_JSON_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}}, "description": "A restSearch response"}
}


@router.get("/misp/events", response_class=StreamingResponse, responses=_JSON_RESPONSE)
def export_events(
    session: SessionDep, principal: PrincipalDep, filters: EventFilterDep
) -> StreamingResponse:
    """Every event you may see matching the filters, as a restSearch response, streamed."""
    return StreamingResponse(
        response_text(events_misp(session, principal.viewer, filters)),
        media_type="application/json",
    )


@router.post("/misp/import", response_model=MispImportResult)
async def import_misp(
    request: Request, session: SessionDep, principal: PrincipalDep
) -> MispImportResult:
    """Import MISP JSON (the body): one event, a restSearch response or a list of events.

    Events are matched by UUID: the same version again adds nothing, a newer `timestamp`
    updates. Each part not imported is listed in `rejected` naming its MISP field; a body
    with nothing importable is a 422 naming the first.
    """
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        return await run_in_threadpool(_import, session, principal, spool)


def _import(session: Session, principal: Principal, body: Any) -> MispImportResult:
    importer = importer_of(principal)
    return import_events(session, importer, events_in_stream(body, "request body"))


@router.get("/misp/feed/manifest.json")
def manifest(session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """The feed's manifest: the published events your organisation may see."""
    return feed_manifest(session, principal.viewer)


_CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"}
}


@router.get("/misp/feed/hashes.csv", response_class=Response, responses=_CSV_RESPONSE)
def hashes(session: SessionDep, principal: PrincipalDep) -> Response:
    """`md5(value),event uuid` per attribute of the feed's events."""
    lines = [
        f"{attribute_hash(indicator.value)},{parts.event.uuid}\n"
        for parts in visible_parts(session, principal.viewer, published_events(principal.viewer))
        for indicator in parts.indicators
    ]
    return Response("".join(lines), media_type="text/csv")


@router.get("/misp/feed/{event_uuid}.json")
def feed_event(
    event_uuid: Annotated[str, Path(pattern=_UUID_PATTERN)],
    session: SessionDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    """One event of the feed; 404 when absent, hidden from you, or not published."""
    event = event_by_uuid(session, principal.viewer, event_uuid)
    return event_misp(session, principal.viewer, event)
