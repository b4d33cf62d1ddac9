"""Health, readiness, Prometheus metrics, and the audit log API."""

from __future__ import annotations

from typing import Annotated

import redis
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from entente.core import audit
from entente.core.schemas import AuditEntryPublic, Health
from entente.members.schemas import ListOf
from entente.web.deps import AdminDep, PageDep, SessionDep, SettingsDep
from entente.web.errors import ERROR_RESPONSES

router = APIRouter(tags=["operations"])
audit_router = APIRouter(prefix="/audit", tags=["audit"], responses=ERROR_RESPONSES)


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """Liveness: the process answers. Says nothing about its database."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
def readyz(session: SessionDep, settings: SettingsDep) -> Response:
    """Readiness: the database (and Redis, when configured) answer; 503 otherwise."""
    checks: dict[str, str] = {}
    try:
        session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
    if settings.redis_url:
        try:
            redis.Redis.from_url(settings.redis_url, socket_timeout=2).ping()
            checks["redis"] = "ok"
        except redis.RedisError as exc:
            checks["redis"] = f"unavailable: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    body = Health(status="ok" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST
    )


@audit_router.get("", response_model=ListOf[AuditEntryPublic])
def list_audit_entries(
    session: SessionDep,
    _admin: AdminDep,
    filters: Annotated[audit.AuditFilter, Depends()],
    page: PageDep,
) -> ListOf[AuditEntryPublic]:
    """Every write on the hub, newest first. Platform admins only."""
    result = audit.list_entries(session, filters, page)
    return ListOf[AuditEntryPublic](
        data=[AuditEntryPublic.model_validate(e, from_attributes=True) for e in result.items],
        count=result.count,
        next_cursor=result.next_cursor,
    )
