"""The application factory: one FastAPI app serving the API, the UI, health and metrics."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry
from starlette.middleware.sessions import SessionMiddleware

from entente import __version__
from entente.alerts import api as alerts_api
from entente.alerts import ui as alerts_ui
from entente.core import api as core_api
from entente.core import ui as core_ui
from entente.core.config import Environment, Settings, get_settings
from entente.core.db import create_db_engine, make_session_factory
from entente.core.logging import configure_logging
from entente.interop import api as interop_api
from entente.interop import misp_api
from entente.interop import ui as interop_ui
from entente.interop.exports import api as exports_api
from entente.interop.federation import api as federation_api
from entente.interop.federation import ui as federation_ui
from entente.interop.taxii import api as taxii_api
from entente.members import api as members_api
from entente.members import constituencies_api, constituencies_ui
from entente.members import ui as members_ui
from entente.pipeline import api as pipeline_api
from entente.pipeline import ui as pipeline_ui
from entente.pipeline.streams import stream_collector
from entente.sharing import api as sharing_api
from entente.sharing import (
    groups_api,
    groups_ui,
    indicators_api,
    indicators_ui,
    warninglists_api,
    warninglists_ui,
)
from entente.sharing import ui as sharing_ui
from entente.web import shell
from entente.web.errors import install_error_handlers
from entente.web.middleware import BodyLimitMiddleware, MetricsMiddleware, SecurityHeadersMiddleware
from entente.web.templating import make_templates

WEB = Path(__file__).parent
API_PREFIX = "/api/v1"

DESCRIPTION = """The cooperation hub of a partnership of national CERTs.

Authenticate with an API token (`Authorization: Bearer ent_...`), created in the UI under
*Tokens* or with `entente token create`. Lists are cursor-paginated: pass the `next_cursor`
of one page as `cursor` to get the next; `limit` is at most 1000. Errors have the shape
`{"error": {"code", "message", "field"}}`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    engine = create_db_engine(settings)
    app = FastAPI(
        title="Entente",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine, settings)
    app.state.templates = make_templates([WEB / "templates", *capability_template_dirs()])
    app.state.metrics_registry = CollectorRegistry()
    # The workers' counters (rows in, out, duplicates, quarantined, lag), read from Redis.
    collector = stream_collector(settings)
    if collector is not None:
        app.state.metrics_registry.register(collector)

    install_error_handlers(app)
    app.include_router(core_api.router)
    app.include_router(members_api.router, prefix=API_PREFIX)
    app.include_router(constituencies_api.router, prefix=API_PREFIX)
    app.include_router(core_api.audit_router, prefix=API_PREFIX)
    app.include_router(groups_api.router, prefix=API_PREFIX)
    app.include_router(sharing_api.router, prefix=API_PREFIX)
    app.include_router(indicators_api.router, prefix=API_PREFIX)
    app.include_router(warninglists_api.router, prefix=API_PREFIX)
    app.include_router(pipeline_api.router, prefix=API_PREFIX)
    app.include_router(alerts_api.router, prefix=API_PREFIX)
    app.include_router(interop_api.router, prefix=API_PREFIX)
    app.include_router(misp_api.router, prefix=API_PREFIX)
    app.include_router(taxii_api.router)  # /taxii2/ and /api/v1/taxii
    app.include_router(exports_api.router, prefix=API_PREFIX)
    app.include_router(federation_api.router, prefix=API_PREFIX)
    app.include_router(shell.router)
    app.include_router(members_ui.router)
    app.include_router(constituencies_ui.router)
    app.include_router(groups_ui.router)
    app.include_router(sharing_ui.router)
    app.include_router(indicators_ui.router)
    app.include_router(warninglists_ui.router)
    app.include_router(pipeline_ui.router)
    app.include_router(alerts_ui.router)
    app.include_router(interop_ui.router)
    app.include_router(federation_ui.router)
    app.include_router(core_ui.router)
    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")

    # Added innermost first: the session must be decoded before handlers run, the body
    # limit must see the raw stream before anything reads it, and the security headers go
    # on every response, the body limit's 413 included.
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="entente_session",
        max_age=settings.session_max_age_seconds,
        same_site="lax",
        https_only=settings.environment is Environment.PRODUCTION,
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware, registry=app.state.metrics_registry)
    return app


def capability_template_dirs() -> list[Path]:
    root = WEB.parent
    # Sub-packages too (`interop/federation/templates`): template names are prefixed by
    # their package (`federation/peers.html`), so a deeper directory collides with nothing.
    return [path for path in sorted(root.glob("**/templates")) if path.parent != WEB]
