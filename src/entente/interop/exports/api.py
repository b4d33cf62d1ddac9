"""`GET /api/v1/exports/{format}`: the caller's shared indicators for a tool, cached.

A tool polls with its API token and `If-None-Match`: over unchanged data the answer is a
304 computed from the cache key alone (`service.prepare_export`), and a changed export is
served from the disk cache to every caller with the same visibility (docs/exports.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import Response, StreamingResponse

from entente.core.schemas import PlainText
from entente.interop.exports.rpz import DEFAULT_ZONE, RpzPolicy
from entente.interop.exports.selection import ExportFilter
from entente.interop.exports.service import (
    DEFAULT_SID_BASE,
    MAX_SID_BASE,
    ExportFormat,
    ExportOptions,
    ExportRequest,
    prepare_export,
)
from entente.interop.exports.snort import SnortVersion
from entente.members.schemas import RowId
from entente.sharing.indicators import IndicatorType
from entente.vocabulary.markings import TLP
from entente.web.deps import PrincipalDep, SessionDep, SettingsDep
from entente.web.errors import ERROR_RESPONSES

router = APIRouter(responses=ERROR_RESPONSES, tags=["exports"])

_EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {f.media_type.split(";")[0]: {} for f in ExportFormat},
        "description": "The export, streamed",
    },
    304: {"description": "Unchanged since the ETag sent in If-None-Match"},
}


@dataclass(frozen=True)
class ExportParams:
    """The query: filters (`selection.ExportFilter`), then the options of some formats."""

    type: Annotated[list[IndicatorType] | None, Query(description="Only these types")] = None
    tag: Annotated[list[PlainText] | None, Query(description="Events with any of these")] = None
    tlp: Annotated[list[TLP] | None, Query(description="Only indicators of these TLPs")] = None
    event_id: Annotated[list[RowId] | None, Query(description="Only these events")] = None
    organisation_id: Annotated[RowId | None, Query(description="Events of this owner")] = None
    published: Annotated[bool, Query(description="Published events only")] = False
    include_not_for_detection: Annotated[
        bool, Query(description="Also indicators not marked for detection (to_ids false)")
    ] = False
    include_expired: Annotated[bool, Query(description="Also indicators expired by decay")] = False
    min_score: Annotated[
        int | None, Query(ge=1, le=100, description="Decay score at least this (this hour)")
    ] = None
    since: Annotated[date | None, Query(description="Event date on or after")] = None
    until: Annotated[date | None, Query(description="Event date on or before")] = None
    seen_within_days: Annotated[
        int | None, Query(ge=1, le=3650, description="Last seen (else added) in N days")
    ] = None
    sid_base: Annotated[
        int, Query(ge=1, le=MAX_SID_BASE, description="Suricata, Snort: first sid")
    ] = DEFAULT_SID_BASE
    snort_version: Annotated[SnortVersion, Query(description="Snort: rule syntax")] = (
        SnortVersion.V2
    )
    rpz_zone: Annotated[str, Query(max_length=253, description="RPZ: the zone's name")] = (
        DEFAULT_ZONE
    )
    rpz_policy: Annotated[RpzPolicy, Query(description="RPZ: the answer")] = RpzPolicy.NXDOMAIN

    def request(self, export_format: ExportFormat) -> ExportRequest:
        filters = ExportFilter(
            types=tuple(self.type or ()),
            tags=tuple(self.tag or ()),
            tlps=tuple(self.tlp or ()),
            event_ids=tuple(self.event_id or ()),
            organisation_id=self.organisation_id,
            published_only=self.published,
            include_not_for_detection=self.include_not_for_detection,
            include_expired=self.include_expired,
            min_score=self.min_score,
            since=self.since,
            until=self.until,
            seen_within_days=self.seen_within_days,
        )
        options = ExportOptions(self.sid_base, self.snort_version, self.rpz_zone, self.rpz_policy)
        return ExportRequest(export_format, filters, options)


@router.get("/exports/{format}", response_class=StreamingResponse, responses=_EXPORT_RESPONSES)
def export(  # noqa: PLR0913 -- FastAPI declares each dependency as a parameter
    format: ExportFormat,
    params: Annotated[ExportParams, Depends()],
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The indicators you may see, in a tool's format, streamed; 304 when unchanged."""
    prepared = prepare_export(session, settings, principal.viewer, params.request(format))
    headers = {
        "ETag": prepared.etag,
        # Per caller: a shared proxy must never keep it, a client must always revalidate.
        "Cache-Control": "private, no-cache",
        "Vary": "Authorization, Cookie",
        "X-Entente-Cache": "hit" if prepared.cached else "miss",
    }
    if if_none_match is not None and _matches(if_none_match, prepared.etag):
        return Response(status_code=304, headers=headers)
    headers["Content-Disposition"] = f'attachment; filename="{format.filename}"'
    return StreamingResponse(prepared.body(), media_type=format.media_type, headers=headers)


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 section 13.1.2: any listed tag, weak or strong, or `*`."""
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags
