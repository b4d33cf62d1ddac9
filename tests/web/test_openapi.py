"""The OpenAPI document is complete, and the API keeps its promises under generated input.

Schemathesis generates valid and invalid requests for every operation from /openapi.json
and checks each response: no 5xx, the status code and content type are documented, and the
body matches the documented schema. Each request runs in a savepoint that is rolled back,
so a generated DELETE or PATCH cannot change what the next request sees (the admin's own
token stays valid). 25 examples per operation and mode (valid, invalid).

The operations are parametrised by hand rather than with `schema.parametrize()`: the app is
built per backend by a fixture, and schemathesis 4.32's lazy fixture loader breaks on pytest
9.2 (it writes `request.node._nodeid`, which pytest no longer has).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from entente.core.config import Environment, Settings
from entente.members.choices import Role
from entente.web.app import API_PREFIX, create_app
from tests.factories import auth, make_organisation, make_token, make_user

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 25


@pytest.fixture
def admin_token(session: Session) -> str:
    """A platform admin's token, committed (as a savepoint) so the app's sessions see it."""
    return make_token(session, make_user(session, make_organisation(session), Role.ADMIN))


def documented_operations() -> list[tuple[str, str]]:
    """(method, path) of every operation, read from an app that never touches its database."""
    app = create_app(Settings(database_url="sqlite:///:memory:", environment=Environment.TEST))
    return [(method, path) for path, item in app.openapi()["paths"].items() for method in item]


OPERATIONS = documented_operations()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "path"), OPERATIONS, ids=[f"{method.upper()} {path}" for method, path in OPERATIONS]
)
def test_operation_keeps_its_documented_promises(
    app: FastAPI, connection: Connection, admin_token: str, method: str, path: str
) -> None:
    operation = schemathesis.openapi.from_asgi("/openapi.json", app)[path][method]
    takes_input = bool(operation.query or operation.path_parameters or operation.body)
    # Invalid input needs an input to spoil: healthz, readyz and /me take none.
    modes = (
        [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
        if takes_input
        else [GenerationMode.POSITIVE]
    )
    for mode in modes:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def call(case: schemathesis.Case[Any]) -> None:
            savepoint = connection.begin_nested()
            try:
                case.call_and_validate(headers=auth(admin_token), checks=CHECKS)
            finally:
                savepoint.rollback()

        call()


def test_every_api_route_is_in_the_openapi_document(app: FastAPI) -> None:
    documented = app.openapi()["paths"]
    # Routes as the app dispatches them, prefixes of included routers applied; a route
    # hidden with include_in_schema=False would be served but missing from the document.
    routes = {
        (context.path, method.lower())
        for context in iter_route_contexts(app.routes)
        if context.path and context.path.startswith(API_PREFIX)
        for method in context.methods or ()
    }
    assert (f"{API_PREFIX}/organisations", "post") in routes
    missing = sorted(
        (path, method) for path, method in routes if method not in documented.get(path, {})
    )
    assert missing == []


def test_error_responses_are_documented_with_the_error_shape(app: FastAPI) -> None:
    document = app.openapi()
    operation = document["paths"][f"{API_PREFIX}/organisations"]["post"]
    for status in ("401", "403", "409", "422"):
        schema = operation["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorResponse"}
    error = document["components"]["schemas"]["ErrorDetail"]
    assert set(error["required"]) == {"code", "message", "field"}
