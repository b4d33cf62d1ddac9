"""Routes: the TAXII 2.1 server at `/taxii2/` and the collection admin API at
`/api/v1/taxii/collections` (docs/taxii.md).

One router (`router`) holds both, so the app mounts it with one line. The TAXII routes use
`media.TaxiiRoute` (TAXII error bodies), check the Accept header first (406), then the
caller (401); the admin routes are ordinary Entente API routes for platform admins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from entente.core.errors import BadValue, NotFound, PayloadTooLarge
from entente.interop.identifiers import parse_timestamp
from entente.interop.taxii import collections as service
from entente.interop.taxii.auth import TaxiiPrincipalDep
from entente.interop.taxii.collections import CollectionAccess
from entente.interop.taxii.envelopes import get_status, status_resource, write_envelope
from entente.interop.taxii.media import (
    STIX_MEDIA_TYPE,
    TAXII_MEDIA_TYPE,
    TaxiiResponse,
    TaxiiRoute,
    check_accept,
    check_content_type,
)
from entente.interop.taxii.objects import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    ObjectFilter,
    ObjectPage,
    ObjectQuery,
    date_added_headers,
    envelope_text,
    read_page,
    taxii_timestamp,
)
from entente.interop.taxii.removal import delete_object
from entente.interop.taxii.schemas import (
    CollectionCreate,
    CollectionList,
    CollectionPublic,
    CollectionUpdate,
)
from entente.web.deps import AdminDep, SessionDep, SettingsDep
from entente.web.errors import ERROR_RESPONSES

API_ROOT = "api"
TAXII_PREFIX = "/taxii2"

# Not in Entente's OpenAPI document: TAXII 2.1 is specified by OASIS, with its own media
# types, negotiation and error bodies (docs/taxii.md), which an OpenAPI client of the REST
# API would not speak.
taxii = APIRouter(
    prefix=TAXII_PREFIX,
    include_in_schema=False,
    route_class=TaxiiRoute,
    dependencies=[Depends(check_accept)],
    default_response_class=TaxiiResponse,
    tags=["taxii"],
)


def _api_root_url(request: Request) -> str:
    return f"{str(request.base_url).rstrip('/')}{TAXII_PREFIX}/{API_ROOT}/"


@taxii.get("/")
def discovery(request: Request, principal: TaxiiPrincipalDep) -> TaxiiResponse:
    """Server discovery (section 4.1): this hub's one API root."""
    root = _api_root_url(request)
    return TaxiiResponse(
        {
            "title": "Entente TAXII 2.1",
            "description": "Collections of the sharing space, as you may see them.",
            "default": root,
            "api_roots": [root],
        }
    )


@taxii.get(f"/{API_ROOT}/")
def api_root(settings: SettingsDep, principal: TaxiiPrincipalDep) -> TaxiiResponse:
    """The API root (section 4.2)."""
    return TaxiiResponse(
        {
            "title": "Entente",
            "description": "The collections this hub shares over TAXII 2.1.",
            "versions": [TAXII_MEDIA_TYPE],
            "max_content_length": settings.taxii_max_envelope_bytes,
        }
    )


def _collection_resource(access: CollectionAccess) -> dict[str, Any]:
    collection = access.collection
    resource: dict[str, Any] = {
        "id": collection.uuid,
        "title": collection.title,
        "can_read": access.can_read,
        "can_write": access.can_write,
        "media_types": [STIX_MEDIA_TYPE],
    }
    if collection.description:
        resource["description"] = collection.description
    if collection.alias:
        resource["alias"] = collection.alias
    return resource


@taxii.get(f"/{API_ROOT}/collections/")
def list_collections(session: SessionDep, principal: TaxiiPrincipalDep) -> TaxiiResponse:
    """The collections your organisation may read or write (section 5.1)."""
    found = service.caller_collections(session, principal)
    body = {"collections": [_collection_resource(a) for a in found]} if found else {}
    return TaxiiResponse(body)


CollectionKey = Annotated[str, Path(max_length=100, description="The collection's id or alias")]


def collection_access(
    session: SessionDep, principal: TaxiiPrincipalDep, collection_id: CollectionKey
) -> CollectionAccess:
    return service.caller_collection(session, principal, collection_id)


CollectionDep = Annotated[CollectionAccess, Depends(collection_access)]


@taxii.get(f"/{API_ROOT}/collections/{{collection_id}}/")
def get_collection(access: CollectionDep) -> TaxiiResponse:
    """One collection (section 5.2)."""
    return TaxiiResponse(_collection_resource(access))


def _comma_list(text: str | None) -> frozenset[str]:
    return frozenset(part.strip() for part in (text or "").split(",") if part.strip())


def _timestamp(text: str, name: str) -> Any:
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        raise BadValue(str(exc), field=name, value=text) from exc


@dataclass(frozen=True)
class ObjectParams:
    """The query parameters of the object endpoints (sections 3.4 and 3.5)."""

    added_after: Annotated[str | None, Query(description="Only objects added after this")] = None
    limit: Annotated[int, Query(ge=1, description=f"At most {MAX_LIMIT} are served")] = (
        DEFAULT_LIMIT
    )
    next: Annotated[str | None, Query(max_length=200, description="From the last page")] = None
    match_id: Annotated[str | None, Query(alias="match[id]")] = None
    match_type: Annotated[str | None, Query(alias="match[type]")] = None
    match_version: Annotated[str | None, Query(alias="match[version]")] = None
    match_spec_version: Annotated[str | None, Query(alias="match[spec_version]")] = None


def object_query(params: Annotated[ObjectParams, Depends()]) -> ObjectQuery:
    added_after = params.added_after
    filters = ObjectFilter(
        added_after=_timestamp(added_after, "added_after") if added_after else None,
        ids=_comma_list(params.match_id),
        types=_comma_list(params.match_type),
        versions=_versions(params.match_version),
        spec_versions=_comma_list(params.match_spec_version),
    )
    return ObjectQuery(filters, min(params.limit, MAX_LIMIT), params.next)


def _versions(text: str | None) -> frozenset[Any]:
    """`first`, `last` and `all` select every version held (see `ObjectFilter`)."""
    named = _comma_list(text) - {"first", "last", "all"}
    return frozenset(_timestamp(value, "match[version]") for value in named)


ObjectQueryDep = Annotated[ObjectQuery, Depends(object_query)]


def _page(
    session: SessionDep, principal: TaxiiPrincipalDep, access: CollectionAccess, query: ObjectQuery
) -> ObjectPage:
    access.require_read()
    return read_page(session, principal.viewer, access.collection, query)


@taxii.get(f"/{API_ROOT}/collections/{{collection_id}}/objects/")
def get_objects(
    session: SessionDep, principal: TaxiiPrincipalDep, access: CollectionDep, query: ObjectQueryDep
) -> TaxiiResponse:
    """A page of the collection's objects you may see (section 5.3)."""
    page = _page(session, principal, access, query)
    return TaxiiResponse(envelope_text(page), headers=date_added_headers(page.objects))


@taxii.post(
    f"/{API_ROOT}/collections/{{collection_id}}/objects/",
    status_code=202,
    dependencies=[Depends(check_content_type)],
)
async def add_objects(
    request: Request,
    session: SessionDep,
    principal: TaxiiPrincipalDep,
    access: CollectionDep,
    settings: SettingsDep,
) -> TaxiiResponse:
    """Write an envelope (section 5.4); the status resource says what was stored."""
    body = await _envelope_body(request, settings.taxii_max_envelope_bytes)
    status = await run_in_threadpool(write_envelope, session, principal, access, body)
    return TaxiiResponse(status_resource(status), status_code=202)


async def _envelope_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    too_large = PayloadTooLarge(
        f"an envelope is at most {limit} bytes (the API root's max_content_length)",
        field="envelope",
    )
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


ObjectId = Annotated[str, Path(max_length=300)]


@taxii.get(f"/{API_ROOT}/collections/{{collection_id}}/objects/{{object_id}}/")
def get_object(
    session: SessionDep,
    principal: TaxiiPrincipalDep,
    access: CollectionDep,
    object_id: ObjectId,
    query: ObjectQueryDep,
) -> TaxiiResponse:
    """The object's versions you may see (section 5.5); 404 when there are none."""
    page = _page(session, principal, access, _for_object(query, object_id))
    if not page.objects and query.next is None:
        raise NotFound(f"no object {object_id!r}", field="object_id", value=object_id)
    return TaxiiResponse(envelope_text(page), headers=date_added_headers(page.objects))


def _for_object(query: ObjectQuery, object_id: str) -> ObjectQuery:
    filters = query.filters
    narrowed = ObjectFilter(
        added_after=filters.added_after,
        ids=frozenset({object_id}),
        versions=filters.versions,
        spec_versions=filters.spec_versions,
    )
    return ObjectQuery(narrowed, query.limit, query.next)


@taxii.delete(f"/{API_ROOT}/collections/{{collection_id}}/objects/{{object_id}}/")
def remove_object(
    session: SessionDep,
    principal: TaxiiPrincipalDep,
    access: CollectionDep,
    object_id: ObjectId,
    query: ObjectQueryDep,
) -> Response:
    """Delete your organisation's object (section 5.7)."""
    delete_object(session, principal, access, _for_object(query, object_id).filters)
    return Response(status_code=200, media_type=TAXII_MEDIA_TYPE)


@taxii.get(f"/{API_ROOT}/collections/{{collection_id}}/objects/{{object_id}}/versions/")
def get_versions(
    session: SessionDep,
    principal: TaxiiPrincipalDep,
    access: CollectionDep,
    object_id: ObjectId,
    query: ObjectQueryDep,
) -> TaxiiResponse:
    """The versions of the object you may see (section 5.8)."""
    page = _page(session, principal, access, _for_object(query, object_id))
    if not page.objects and query.next is None:
        raise NotFound(f"no object {object_id!r}", field="object_id", value=object_id)
    body: dict[str, Any] = {"more": page.more, "versions": [o.version for o in page.objects]}
    if page.next:
        body["next"] = page.next
    return TaxiiResponse(body, headers=date_added_headers(page.objects))


@taxii.get(f"/{API_ROOT}/collections/{{collection_id}}/manifest/")
def get_manifest(
    session: SessionDep, principal: TaxiiPrincipalDep, access: CollectionDep, query: ObjectQueryDep
) -> TaxiiResponse:
    """The manifest (section 5.6): ids, versions and times of addition, without bodies."""
    page = _page(session, principal, access, query)
    body: dict[str, Any] = {"more": page.more}
    if page.next:
        body["next"] = page.next
    if page.objects:
        body["objects"] = [
            {
                "id": item.stix_id,
                "date_added": taxii_timestamp(item.date_added),
                "version": item.version,
                "media_type": STIX_MEDIA_TYPE,
            }
            for item in page.objects
        ]
    return TaxiiResponse(body, headers=date_added_headers(page.objects))


@taxii.get(f"/{API_ROOT}/status/{{status_id}}/")
def status(
    session: SessionDep,
    principal: TaxiiPrincipalDep,
    status_id: Annotated[str, Path(max_length=36)],
) -> TaxiiResponse:
    """A status resource of an envelope your organisation wrote (section 4.3)."""
    return TaxiiResponse(status_resource(get_status(session, principal, status_id)))


# ---- admin API ------------------------------------------------------------------------------

admin = APIRouter(prefix="/api/v1/taxii", responses=ERROR_RESPONSES, tags=["taxii"])


@admin.get("/collections", response_model=CollectionList)
def admin_list(session: SessionDep, principal: AdminDep) -> CollectionList:
    """Every collection, with its filter and permissions (platform admins)."""
    found = [service.collection_public(session, c) for c in service.list_collections(session)]
    return CollectionList(data=found, count=len(found))


@admin.post("/collections", response_model=CollectionPublic, status_code=201)
def admin_create(
    session: SessionDep, principal: AdminDep, data: CollectionCreate
) -> CollectionPublic:
    """Create a collection: a filter over the sharing space and who may read or write it."""
    collection = service.create_collection(session, principal.actor(), data)
    return service.collection_public(session, collection)


@admin.patch("/collections/{collection_id}", response_model=CollectionPublic)
def admin_update(
    session: SessionDep, principal: AdminDep, collection_id: CollectionKey, data: CollectionUpdate
) -> CollectionPublic:
    """Change a collection; `permissions`, when given, replaces the list."""
    collection = service.get_collection(session, collection_id)
    service.update_collection(session, principal.actor(), collection, data)
    return service.collection_public(session, collection)


@admin.delete("/collections/{collection_id}", status_code=204)
def admin_delete(session: SessionDep, principal: AdminDep, collection_id: CollectionKey) -> None:
    """Remove a collection; the events and objects it showed stay."""
    service.delete_collection(
        session, principal.actor(), service.get_collection(session, collection_id)
    )


router = APIRouter()
router.include_router(taxii)
router.include_router(admin)
