"""Accounts and authentication: password storage, tokens, roles, login rate limiting.

Runs on SQLite and PostgreSQL; the API cases go through the real app on the test's connection.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from entente.core.audit import SYSTEM
from entente.core.clock import utcnow
from entente.core.config import Settings
from entente.core.db import Base
from entente.core.errors import BadValue, NotAuthenticated, RateLimited
from entente.core.security import hash_token, verify_password
from entente.members import accounts
from entente.members.choices import Role
from entente.members.models import ApiToken, LoginAttempt, Organisation, User
from entente.members.schemas import UserCreate
from tests.factories import (
    PASSWORD,
    auth,
    make_organisation,
    make_sharing_group,
    make_token,
    make_user,
)

ADDRESS = "192.0.2.10"


def user_count(session: Session, username: str) -> int:
    return session.scalar(select(func.count(User.id)).where(User.username == username)) or 0


def database_text(session: Session) -> str:
    """Every row of every table, as text: what a stolen database dump would show."""
    return "\n".join(
        repr(row) for table in Base.metadata.sorted_tables for row in session.execute(select(table))
    )


# ---- passwords -------------------------------------------------------------------------


def test_password_is_stored_as_an_argon2id_hash(session: Session) -> None:
    user = make_user(session, make_organisation(session), username="hashcheck")
    stored = session.scalar(select(User.password_hash).where(User.id == user.id))
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in database_text(session)
    assert verify_password(stored, PASSWORD)
    assert not verify_password(stored, PASSWORD + "!")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Sh0rt!pass", "at least 12 characters"),
        ("my-weakling-is-long", "too easy"),  # contains the username
        ("WEAKLING-77-x", "too easy"),  # contains it in another case
        ("abababababababab", "too easy"),  # two distinct characters
        ("aabbccddaabbccdd", "too easy"),  # four distinct characters
        ("password1234", "too easy"),  # on the common list
    ],
)
def test_weak_password_is_refused_naming_the_field_and_nothing_is_stored(
    session: Session, password: str, reason: str
) -> None:
    organisation = make_organisation(session)
    data = UserCreate(
        username="weakling",
        email="weakling@example.org",
        password=password,
        role=Role.ANALYST,
        organisation_id=organisation.id,
    )
    with pytest.raises(BadValue) as refused:
        accounts.create_user(session, SYSTEM, None, data)
    assert refused.value.field == "password"
    assert reason in refused.value.message
    assert password not in refused.value.message
    assert refused.value.value == "***"
    assert user_count(session, "weakling") == 0


def test_weak_password_over_the_api_is_422_and_nothing_is_stored(
    client: TestClient, session: Session
) -> None:
    organisation = make_organisation(session)
    token = make_token(session, make_user(session, organisation, Role.ORG_ADMIN))
    response = client.post(
        "/api/v1/users",
        headers=auth(token),
        json={
            "username": "apiweak",
            "email": "apiweak@example.org",
            "password": "aaaaaaaaaaaaaaaa",
            "role": "analyst",
            "organisation_id": organisation.id,
        },
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "password"
    assert "aaaaaaaaaaaaaaaa" not in response.text
    assert user_count(session, "apiweak") == 0


# ---- tokens ----------------------------------------------------------------------------


def test_token_is_stored_only_as_its_hash(session: Session) -> None:
    user = make_user(session, make_organisation(session))
    clear = make_token(session, user, name="stored-hashed")
    row = session.scalar(select(ApiToken).where(ApiToken.name == "stored-hashed"))
    assert row is not None
    assert row.token_hash == hash_token(clear)
    assert clear not in database_text(session)
    assert accounts.authenticate_token(session, clear).id == user.id


@pytest.mark.parametrize("groups", [0, 1, 3])
def test_a_token_brings_its_viewer_in_the_same_read(session: Session, groups: int) -> None:
    organisation, other = make_organisation(session), make_organisation(session)
    joined = {make_sharing_group(session, other, [organisation]).id for _ in range(groups)}
    make_sharing_group(session, other, [])  # one the user's organisation is not in
    user = make_user(session, organisation)
    found, viewer = accounts.token_viewer(session, make_token(session, user))
    assert found.id == user.id
    assert viewer == accounts.load_viewer(session, user)
    assert viewer.sharing_group_ids == joined


def test_token_authenticates_over_the_api(client: TestClient, session: Session) -> None:
    user = make_user(session, make_organisation(session), username="tokenuser")
    response = client.get("/api/v1/me", headers=auth(make_token(session, user)))
    assert response.status_code == 200
    assert response.json()["user"]["username"] == "tokenuser"


def test_expired_token_is_401_saying_expired(client: TestClient, session: Session) -> None:
    clear = make_token(session, make_user(session, make_organisation(session)), name="old")
    session.execute(
        update(ApiToken)
        .where(ApiToken.name == "old")
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    session.commit()
    response = client.get("/api/v1/me", headers=auth(clear))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert "expired" in response.json()["error"]["message"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_revoked_token_is_401_saying_revoked(client: TestClient, session: Session) -> None:
    user = make_user(session, make_organisation(session))
    clear = make_token(session, user)
    token_id = session.scalar(select(ApiToken.id).where(ApiToken.token_hash == hash_token(clear)))
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=auth(clear)).status_code == 200
    response = client.get("/api/v1/me", headers=auth(clear))
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


@pytest.mark.parametrize("header", ["Bearer ent_not-a-token-we-issued", "Bearer ", "Basic abc"])
def test_unknown_or_missing_token_is_401(client: TestClient, header: str) -> None:
    response = client.get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("role", [Role.ORG_ADMIN, Role.ANALYST])
def test_another_organisations_token_cannot_be_revoked_or_listed(
    client: TestClient, session: Session, role: Role
) -> None:
    other = make_user(session, make_organisation(session), Role.ANALYST)
    other_clear = make_token(session, other, name="not yours")
    other_id = session.scalar(select(ApiToken.id).where(ApiToken.user_id == other.id))
    caller = make_token(session, make_user(session, make_organisation(session), role))
    response = client.delete(f"/api/v1/tokens/{other_id}", headers=auth(caller))
    assert response.status_code == 404
    assert response.json()["error"]["field"] == "token_id"
    listed = client.get("/api/v1/tokens", headers=auth(caller), params={"user_id": other.id})
    assert other_id not in {t["id"] for t in listed.json()["data"]}
    session.expire_all()
    assert session.get(ApiToken, other_id).revoked_at is None  # type: ignore[union-attr]
    assert client.get("/api/v1/me", headers=auth(other_clear)).status_code == 200


# ---- roles -----------------------------------------------------------------------------


def new_user_json(organisation: Organisation, username: str, role: Role) -> dict[str, object]:
    return {
        "username": username,
        "email": f"{username}@example.org",
        "password": PASSWORD,
        "role": role.value,
        "organisation_id": organisation.id,
    }


def test_org_admin_manages_own_organisation_but_cannot_grant_admin(
    client: TestClient, session: Session
) -> None:
    organisation = make_organisation(session)
    token = make_token(session, make_user(session, organisation, Role.ORG_ADMIN))
    made = client.post(
        "/api/v1/users",
        headers=auth(token),
        json=new_user_json(organisation, "granted", Role.ANALYST),
    )
    assert made.status_code == 201, made.text
    refused = client.post(
        "/api/v1/users",
        headers=auth(token),
        json=new_user_json(organisation, "wouldbeadmin", Role.ADMIN),
    )
    assert refused.status_code == 403
    assert user_count(session, "wouldbeadmin") == 0
    promoted = client.patch(
        f"/api/v1/users/{made.json()['id']}", headers=auth(token), json={"role": "admin"}
    )
    assert promoted.status_code == 403
    session.expire_all()
    assert session.get(User, made.json()["id"]).role is Role.ANALYST  # type: ignore[union-attr]


def test_org_admin_cannot_create_users_elsewhere_or_see_them(
    client: TestClient, session: Session
) -> None:
    token = make_token(session, make_user(session, make_organisation(session), Role.ORG_ADMIN))
    elsewhere = make_organisation(session)
    stranger = make_user(session, elsewhere)
    response = client.post(
        "/api/v1/users", headers=auth(token), json=new_user_json(elsewhere, "planted", Role.ANALYST)
    )
    assert response.status_code == 403
    assert user_count(session, "planted") == 0
    edit = client.patch(
        f"/api/v1/users/{stranger.id}", headers=auth(token), json={"full_name": "x"}
    )
    assert edit.status_code == 404


@pytest.mark.parametrize(
    ("role", "wanted"), [(Role.ORG_ADMIN, Role.READER), (Role.ADMIN, Role.ANALYST)]
)
def test_nobody_changes_their_own_role(
    client: TestClient, session: Session, role: Role, wanted: Role
) -> None:
    user = make_user(session, make_organisation(session), role)
    response = client.patch(
        f"/api/v1/users/{user.id}",
        headers=auth(make_token(session, user)),
        json={"role": wanted.value},
    )
    assert response.status_code == 403
    session.expire_all()
    assert session.get(User, user.id).role is role  # type: ignore[union-attr]


def test_analyst_cannot_create_users(client: TestClient, session: Session) -> None:
    organisation = make_organisation(session)
    token = make_token(session, make_user(session, organisation, Role.ANALYST))
    response = client.post(
        "/api/v1/users",
        headers=auth(token),
        json=new_user_json(organisation, "byanalyst", Role.READER),
    )
    assert response.status_code == 403
    assert user_count(session, "byanalyst") == 0


# ---- login -----------------------------------------------------------------------------


@pytest.fixture
def login_limit(session: Session, settings: Settings) -> int:
    """A low limit for these tests: each failed login costs an argon2 verification."""
    limit = 2
    session.info["settings"] = settings.model_copy(update={"login_attempts_per_window": limit})
    return limit


def test_login_is_rate_limited_per_username_until_the_window_passes(
    session: Session, settings: Settings, login_limit: int
) -> None:
    user = make_user(session, make_organisation(session), username="guessed")
    limit = login_limit
    for _ in range(limit):
        with pytest.raises(NotAuthenticated):
            accounts.authenticate(session, "guessed", "wrong password!!", ADDRESS)
    with pytest.raises(RateLimited):
        accounts.authenticate(session, "guessed", PASSWORD, ADDRESS)
    with pytest.raises(RateLimited):  # the limit follows the name, not the address
        accounts.authenticate(session, "guessed", PASSWORD, "198.51.100.7")
    window = settings.login_window_seconds
    session.execute(
        update(LoginAttempt)
        .where(LoginAttempt.username == "guessed")
        .values(at=utcnow() - timedelta(seconds=window + 1))
    )
    session.commit()
    assert accounts.authenticate(session, "guessed", PASSWORD, ADDRESS).id == user.id
    remaining = select(func.count(LoginAttempt.id)).where(LoginAttempt.username == "guessed")
    assert session.scalar(remaining) == 0


def test_one_address_cannot_sweep_through_many_usernames(
    session: Session, login_limit: int
) -> None:
    make_user(session, make_organisation(session), username="sweepvictim")
    limit = login_limit
    for n in range(4 * limit):
        with pytest.raises(NotAuthenticated):
            accounts.authenticate(session, f"nobody{n}", "wrong password!!", ADDRESS)
    with pytest.raises(RateLimited):
        accounts.authenticate(session, "sweepvictim", PASSWORD, ADDRESS)
    assert accounts.authenticate(session, "sweepvictim", PASSWORD, "198.51.100.7")


def test_unknown_user_and_wrong_password_fail_alike(session: Session) -> None:
    make_user(session, make_organisation(session), username="realname")
    with pytest.raises(NotAuthenticated) as unknown:
        accounts.authenticate(session, "notaname", PASSWORD, ADDRESS)
    with pytest.raises(NotAuthenticated) as wrong:
        accounts.authenticate(session, "realname", "wrong password!!", ADDRESS)
    assert unknown.value.message == wrong.value.message


def deactivate_user(session: Session, user: User) -> None:
    user.is_active = False
    session.commit()


def deactivate_organisation(session: Session, user: User) -> None:
    user.organisation.is_active = False
    session.commit()


@pytest.mark.parametrize("deactivate", [deactivate_user, deactivate_organisation])
def test_deactivated_user_or_organisation_can_neither_log_in_nor_use_tokens(
    client: TestClient, session: Session, deactivate: Callable[[Session, User], None]
) -> None:
    user = make_user(session, make_organisation(session), username="leaver")
    clear = make_token(session, user)
    assert client.get("/api/v1/me", headers=auth(clear)).status_code == 200
    deactivate(session, user)
    with pytest.raises(NotAuthenticated):
        accounts.authenticate(session, "leaver", PASSWORD, ADDRESS)
    response = client.get("/api/v1/me", headers=auth(clear))
    assert response.status_code == 401
    assert "deactivated" in response.json()["error"]["message"]
