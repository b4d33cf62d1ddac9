"""Bad input gets a clear error naming the field, in one shape, and changes nothing.

Every error body is `{"error": {"code", "message", "field"}}`; `error_of` checks that shape
on each response below. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from entente.core.config import Settings
from entente.members.choices import Role
from entente.members.models import Organisation
from entente.web.app import create_app
from tests.factories import auth, make_organisation, make_token, make_user

SMALL_BODY_LIMIT = 2048


def error_of(response: Any, status: int) -> dict[str, Any]:
    """The error object of a response, after checking its status and the shared shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert {"code", "message", "field"} <= set(error)
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    return error


def organisation_count(session: Session) -> int:
    return session.scalar(select(func.count(Organisation.id))) or 0


@pytest.fixture
def admin_headers(session: Session) -> dict[str, str]:
    token = make_token(session, make_user(session, make_organisation(session), Role.ADMIN))
    return auth(token)


def organisation_json(name: str = "CERT Errorland", **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": "national_cert", "member_state": "GH", **extra}


# ---- request bodies --------------------------------------------------------------------


@pytest.mark.parametrize(
    "content", [b'{"name": "CERT Errorland", ', b"not json", b"\xff\xfe\x00garbage"]
)
def test_malformed_json_is_422_malformed_json_and_stores_nothing(
    client: TestClient, session: Session, admin_headers: dict[str, str], content: bytes
) -> None:
    before = organisation_count(session)
    response = client.post(
        "/api/v1/organisations",
        content=content,
        headers={**admin_headers, "content-type": "application/json"},
    )
    error = error_of(response, 422)
    assert error["code"] == "malformed_json"
    assert error["field"] is None
    assert "JSON" in error["message"]
    assert organisation_count(session) == before


def test_a_json_value_that_is_not_an_object_is_422(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    response = client.post("/api/v1/organisations", json=[1, 2], headers=admin_headers)
    assert error_of(response, 422)["code"] == "validation_failed"


def test_unknown_field_is_422_naming_it(
    client: TestClient, session: Session, admin_headers: dict[str, str]
) -> None:
    before = organisation_count(session)
    response = client.post(
        "/api/v1/organisations", json=organisation_json(colour="blue"), headers=admin_headers
    )
    error = error_of(response, 422)
    assert error["code"] == "unknown_field"
    assert error["field"] == "colour"
    assert "colour" in error["message"]
    assert organisation_count(session) == before


def test_missing_field_is_422_naming_it(client: TestClient, admin_headers: dict[str, str]) -> None:
    body = organisation_json()
    del body["name"]
    error = error_of(client.post("/api/v1/organisations", json=body, headers=admin_headers), 422)
    assert error["field"] == "name"
    assert error["problems"] == [{"field": "name", "message": "Field required"}]


def test_every_problem_is_listed_when_there_are_several(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    response = client.post("/api/v1/organisations", json={"type": "nope"}, headers=admin_headers)
    fields = {problem["field"] for problem in error_of(response, 422)["problems"]}
    assert fields == {"name", "type", "member_state"}


def test_nul_character_is_422_naming_the_field(
    client: TestClient, session: Session, admin_headers: dict[str, str]
) -> None:
    before = organisation_count(session)
    response = client.post(
        "/api/v1/organisations", json=organisation_json("CERT \x00 Null"), headers=admin_headers
    )
    assert error_of(response, 422)["field"] == "name"
    assert organisation_count(session) == before


def test_duplicate_organisation_name_is_409_naming_name(
    client: TestClient, session: Session, admin_headers: dict[str, str]
) -> None:
    make_organisation(session, name="CERT Taken")
    before = organisation_count(session)
    for name in ("CERT Taken", "cert taken"):
        response = client.post(
            "/api/v1/organisations", json=organisation_json(name), headers=admin_headers
        )
        error = error_of(response, 409)
        assert error["code"] == "conflict"
        assert error["field"] == "name"
    assert organisation_count(session) == before


@pytest.mark.parametrize("field", ["name", "type", "is_active"])
def test_null_for_a_required_field_in_a_patch_is_422_and_changes_nothing(
    client: TestClient, session: Session, admin_headers: dict[str, str], field: str
) -> None:
    organisation = make_organisation(session, name="CERT Unchanged")
    response = client.patch(
        f"/api/v1/organisations/{organisation.id}", json={field: None}, headers=admin_headers
    )
    assert error_of(response, 422)["field"] == field
    session.expire_all()
    assert session.get_one(Organisation, organisation.id).name == "CERT Unchanged"


def test_null_clears_an_optional_field(
    client: TestClient, session: Session, admin_headers: dict[str, str]
) -> None:
    organisation = make_organisation(session)
    url = f"/api/v1/organisations/{organisation.id}"
    client.patch(url, json={"website": "https://cert.example"}, headers=admin_headers)
    response = client.patch(url, json={"website": None}, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json()["website"] is None


def test_null_full_name_for_a_user_is_422(
    client: TestClient, session: Session, admin_headers: dict[str, str]
) -> None:
    user = make_user(session, make_organisation(session))
    response = client.patch(
        f"/api/v1/users/{user.id}", json={"full_name": None}, headers=admin_headers
    )
    assert error_of(response, 422)["field"] == "full_name"


# ---- body size -------------------------------------------------------------------------


@pytest.fixture
def small_body_client(
    settings: Settings, session_factory: sessionmaker[Session]
) -> Iterator[TestClient]:
    """The app with a 2 KiB body limit, on the test's rolled-back connection."""
    small: FastAPI = create_app(settings.model_copy(update={"max_body_bytes": SMALL_BODY_LIMIT}))
    small.state.session_factory = session_factory
    with TestClient(small) as client:
        yield client


def test_oversized_body_is_413_and_stores_nothing(
    small_body_client: TestClient, session: Session, admin_headers: dict[str, str]
) -> None:
    before = organisation_count(session)
    body = organisation_json(description="x" * SMALL_BODY_LIMIT)
    response = small_body_client.post("/api/v1/organisations", json=body, headers=admin_headers)
    error = error_of(response, 413)
    assert error["code"] == "payload_too_large"
    assert str(SMALL_BODY_LIMIT) in error["message"]
    assert organisation_count(session) == before


def test_oversized_streamed_body_without_length_is_413_and_stores_nothing(
    small_body_client: TestClient, session: Session, admin_headers: dict[str, str]
) -> None:
    before = organisation_count(session)
    payload = json.dumps(organisation_json(description="x" * SMALL_BODY_LIMIT)).encode()
    chunks = (payload[i : i + 512] for i in range(0, len(payload), 512))
    response = small_body_client.post(
        "/api/v1/organisations",
        content=chunks,
        headers={**admin_headers, "content-type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert error_of(response, 413)["code"] == "payload_too_large"
    assert organisation_count(session) == before


def test_body_under_the_limit_is_accepted(
    small_body_client: TestClient, admin_headers: dict[str, str]
) -> None:
    response = small_body_client.post(
        "/api/v1/organisations", json=organisation_json("CERT Small"), headers=admin_headers
    )
    assert response.status_code == 201, response.text


# ---- query and path parameters ---------------------------------------------------------


def forged(values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!not base64!!!",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),  # not UTF-8
        forged({"name": "x"}),  # not a list
        forged(["Ghana"]),  # too short for (name, id)
        forged(["Ghana", 1, 2]),  # too long
        forged([1, 2]),  # a number where the name goes
        forged(["Ghana", "one"]),  # a string where the id goes
        forged(["Ghana", True]),  # a boolean is not an id
        forged([{"x": 1}, 1]),  # an object
        forged(["Gh\x00ana", 1]),  # NUL, which PostgreSQL text cannot hold
    ],
)
def test_bad_cursor_is_422_naming_cursor(client: TestClient, cursor: str) -> None:
    response = client.get("/api/v1/member-states", params={"cursor": cursor})
    error = error_of(response, 422)
    assert error["field"] == "cursor"
    assert error["code"] == "bad_value"


def test_a_cursor_this_server_issued_still_works(client: TestClient) -> None:
    first = client.get("/api/v1/member-states", params={"limit": 2}).json()
    second = client.get(
        "/api/v1/member-states", params={"limit": 2, "cursor": first["next_cursor"]}
    )
    assert second.status_code == 200
    assert second.json()["data"][0]["name"] > first["data"][-1]["name"]


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "ten", "1e3"])
def test_limit_out_of_range_is_422_naming_limit(client: TestClient, limit: str) -> None:
    response = client.get("/api/v1/member-states", params={"limit": limit})
    assert error_of(response, 422)["field"] == "limit"


def test_nul_in_a_query_parameter_is_422_naming_it(client: TestClient) -> None:
    response = client.get("/api/v1/member-states", params={"q": "Gh\x00"})
    assert error_of(response, 422)["field"] == "q"


@pytest.mark.parametrize("code", ["G", "GHAN", "G1", "G%00"])
def test_malformed_member_state_code_is_422_naming_code(client: TestClient, code: str) -> None:
    assert error_of(client.get(f"/api/v1/member-states/{code}"), 422)["field"] == "code"


def test_unknown_member_state_code_is_404_naming_it(client: TestClient) -> None:
    error = error_of(client.get("/api/v1/member-states/QQ"), 404)
    assert error["field"] == "member_state"
    assert "QQ" in error["message"]


@pytest.mark.parametrize("identifier", ["0", "-3", str(2**31), str(2**64), "abc"])
def test_impossible_id_is_422_naming_it(
    client: TestClient, admin_headers: dict[str, str], identifier: str
) -> None:
    response = client.get(f"/api/v1/organisations/{identifier}", headers=admin_headers)
    assert error_of(response, 422)["field"] == "organisation_id"


def test_unknown_id_is_404_naming_it(client: TestClient, admin_headers: dict[str, str]) -> None:
    response = client.get(f"/api/v1/organisations/{2**31 - 1}", headers=admin_headers)
    assert error_of(response, 404)["field"] == "organisation_id"


def test_audit_time_without_a_timezone_is_422_naming_it(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    naive = client.get(
        "/api/v1/audit", params={"since": "2024-01-01T00:00:00"}, headers=admin_headers
    )
    assert error_of(naive, 422)["field"] == "since"
    aware = client.get(
        "/api/v1/audit", params={"since": "2024-01-01T00:00:00Z"}, headers=admin_headers
    )
    assert aware.status_code == 200


# ---- routes ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/nowhere", "/api/v2/organisations", "/nowhere"])
def test_unknown_route_is_a_json_404(client: TestClient, path: str) -> None:
    error = error_of(client.get(path), 404)
    assert error["code"] == "not_found"


def test_wrong_method_is_a_json_405(client: TestClient) -> None:
    response = client.put("/api/v1/member-states")
    assert error_of(response, 405)["code"] == "method_not_allowed"
    assert response.headers["allow"] == "GET"


def test_missing_token_is_a_json_401(client: TestClient) -> None:
    error = error_of(client.get("/api/v1/organisations"), 401)
    assert error["code"] == "not_authenticated"


def test_reader_creating_an_organisation_is_a_json_403(
    client: TestClient, session: Session
) -> None:
    token = make_token(session, make_user(session, make_organisation(session), Role.READER))
    response = client.post("/api/v1/organisations", json=organisation_json(), headers=auth(token))
    assert error_of(response, 403)["code"] == "permission_denied"
