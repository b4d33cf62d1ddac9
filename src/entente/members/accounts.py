"""Users, passwords, logins and API tokens: who someone is, and what they may do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import String, cast, delete, func, or_, select
from sqlalchemy.orm import Session, contains_eager, joinedload

from entente.core import audit
from entente.core.access import Viewer
from entente.core.audit import Actor
from entente.core.clock import utcnow
from entente.core.config import Settings
from entente.core.errors import (
    BadValue,
    Conflict,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RateLimited,
    translate_db_errors,
)
from entente.core.pagination import Page, PageRequest, paginate
from entente.core.security import DUMMY_HASH, hash_password, hash_token, new_token, verify_password
from entente.members.choices import Role, TokenStatus
from entente.members.filters import UserFilter
from entente.members.models import ApiToken, LoginAttempt, User
from entente.members.schemas import TokenCreate, TokenPublic, UserCreate, UserPublic, UserUpdate
from entente.members.service import get_organisation
from entente.sharing.models import SharingGroupMember

# Roles an organisation admin may hand out: never the platform-wide admin role.
ORG_ADMIN_GRANTABLE = frozenset({Role.ORG_ADMIN, Role.ANALYST, Role.READER})


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user together with the viewer the access predicate sees."""

    user: User
    viewer: Viewer
    via: str
    # Where the request came from, so every audit entry written for it records the address.
    client_address: str | None = None

    def actor(self) -> Actor:
        return Actor(
            label=self.user.username,
            via=self.via,
            user_id=self.user.id,
            client_address=self.client_address,
        )


def load_viewer(session: Session, user: User) -> Viewer:
    groups = session.scalars(
        select(SharingGroupMember.sharing_group_id).where(
            SharingGroupMember.organisation_id == user.organisation_id
        )
    )
    return Viewer(
        user_id=user.id, organisation_id=user.organisation_id, sharing_group_ids=frozenset(groups)
    )


def check_password_strength(settings: Settings, password: str, username: str) -> None:
    """Length beats composition rules (NIST SP 800-63B 5.1.1.2); refuse the obvious ones."""
    if len(password) < settings.min_password_length:
        raise BadValue(
            f"password must be at least {settings.min_password_length} characters",
            field="password",
            value="***",
        )
    lowered = password.lower()
    if username.lower() in lowered or len(set(password)) < 5 or lowered in _COMMON_PASSWORDS:
        raise BadValue("password is too easy to guess", field="password", value="***")


_COMMON_PASSWORDS = frozenset(
    {
        "password1234",
        "123456789012",
        "qwertyuiop12",
        "passwordpassword",
        "administrator",
        "letmein12345",
        "welcome12345",
        "changeme1234",
        "iloveyou1234",
        "entente12345",
    }
)


# ---- users -----------------------------------------------------------------------------


def user_public(user: User) -> UserPublic:
    return UserPublic(
        id=user.id,
        username=user.username,
        email=user.email,
        full_name=user.full_name,
        role=user.role,
        organisation_id=user.organisation_id,
        organisation_name=user.organisation.name,
        is_active=user.is_active,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


def list_users(
    session: Session, by: User | None, filters: UserFilter, page: PageRequest
) -> Page[UserPublic]:
    """Admins and the CLI operator (`by` None) see every user; others their own organisation's."""
    query = select(User).options(joinedload(User.organisation))
    if by is not None and by.role is not Role.ADMIN:
        query = query.where(User.organisation_id == by.organisation_id)
    if filters.organisation_id is not None:
        query = query.where(User.organisation_id == filters.organisation_id)
    if filters.role is not None:
        query = query.where(User.role == filters.role)
    if filters.q:
        like = f"%{filters.q.lower()}%"
        query = query.where(
            or_(
                func.lower(User.username).like(like),
                func.lower(User.full_name).like(like),
                func.lower(User.email).like(like),
            )
        )
    result = paginate(session, query, [User.username, User.id], page)
    return Page([user_public(u) for u in result.items], result.next_cursor, result.count)


def get_user(session: Session, by: User | None, user_id: int) -> User:
    """A user `by` may see (any, for the CLI operator); others are reported as absent."""
    user = session.get(User, user_id)
    if user is None or (
        by is not None and by.role is not Role.ADMIN and user.organisation_id != by.organisation_id
    ):
        raise NotFound(f"no user with id {user_id}", field="user_id", value=user_id)
    return user


def get_user_by_username(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user named '{username}'", field="username", value=username)
    return user


def create_user(session: Session, actor: Actor, by: User | None, data: UserCreate) -> User:
    """Create a user; `by` is None only for the CLI run by the operator of the hub."""
    if by is not None:
        _check_may_manage(by, data.organisation_id, data.role)
    organisation = get_organisation(session, data.organisation_id)
    settings = _settings_of(session)
    check_password_strength(settings, data.password, data.username)
    _refuse_taken(session, data.username, str(data.email))
    user = User(
        username=data.username,
        email=str(data.email).lower(),
        full_name=data.full_name,
        password_hash=hash_password(data.password),
        role=data.role,
        organisation_id=organisation.id,
    )
    with translate_db_errors():
        session.add(user)
        session.flush()
        audit.record(
            session,
            actor,
            "user.create",
            ("user", user.id),
            username=user.username,
            role=user.role.value,
            organisation=organisation.name,
        )
        session.commit()
    return user


def update_user(
    session: Session, actor: Actor, by: User | None, user: User, data: UserUpdate
) -> User:
    changes = data.model_dump(exclude_unset=True)
    if by is not None:
        _check_may_manage(by, user.organisation_id, changes.get("role", user.role))
        if user.id == by.id and ("role" in changes or changes.get("is_active") is False):
            raise PermissionDenied("you may not change your own role or deactivate yourself")
    for key, value in changes.items():
        setattr(user, key, value)
    audit.record(
        session,
        actor,
        "user.update",
        ("user", user.id),
        username=user.username,
        **{k: str(v) for k, v in changes.items()},
    )
    session.commit()
    return user


def _check_may_manage(by: User, organisation_id: int, role: Role) -> None:
    if by.role is Role.ADMIN:
        return
    if by.role is Role.ORG_ADMIN and organisation_id == by.organisation_id:
        if role not in ORG_ADMIN_GRANTABLE:
            raise PermissionDenied(f"an organisation admin may not grant the role '{role.value}'")
        return
    raise PermissionDenied(
        "only admins, and organisation admins for their own organisation, manage users"
    )


def _refuse_taken(session: Session, username: str, email: str) -> None:
    if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        raise Conflict(f"the username '{username}' is taken", field="username", value=username)
    if session.scalar(select(User.id).where(User.email == email.lower())):
        raise Conflict(
            f"the e-mail address '{email}' is already registered", field="email", value=email
        )


def _settings_of(session: Session) -> Settings:
    """The hub's settings, carried by every session the factory makes (see core/db.py)."""
    settings = session.info["settings"]
    assert isinstance(settings, Settings)
    return settings


# ---- login -----------------------------------------------------------------------------


def authenticate(session: Session, username: str, password: str, client_address: str) -> User:
    """Check a password login, counting failures per username and per client address."""
    settings = _settings_of(session)
    _refuse_if_rate_limited(session, settings, username, client_address)
    user = session.scalar(select(User).where(User.username == username))
    valid = verify_password(user.password_hash if user else DUMMY_HASH, password)
    if user is None or not valid or not user.is_active or not user.organisation.is_active:
        session.add(
            LoginAttempt(username=username[:64], client_address=client_address[:64], at=utcnow())
        )
        session.commit()
        raise NotAuthenticated("unknown username or wrong password")
    session.execute(delete(LoginAttempt).where(LoginAttempt.username == username))
    user.last_login_at = utcnow()
    audit.record(
        session,
        Actor(label=user.username, via="ui", user_id=user.id, client_address=client_address),
        "user.login",
        ("user", user.id),
    )
    session.commit()
    return user


def _refuse_if_rate_limited(
    session: Session, settings: Settings, username: str, address: str
) -> None:
    since = utcnow() - timedelta(seconds=settings.login_window_seconds)
    recent = select(func.count(LoginAttempt.id)).where(LoginAttempt.at >= since)
    by_name = session.scalar(recent.where(LoginAttempt.username == username)) or 0
    # An address may try a few usernames (a shared NAT), but not sweep through many.
    by_address = session.scalar(recent.where(LoginAttempt.client_address == address)) or 0
    limit = settings.login_attempts_per_window
    if by_name >= limit or by_address >= 4 * limit:
        minutes = settings.login_window_seconds // 60 or 1
        raise RateLimited(f"too many failed logins; try again in {minutes} minutes")


# ---- API tokens ------------------------------------------------------------------------


def token_status(token: ApiToken) -> TokenStatus:
    if token.revoked_at is not None:
        return TokenStatus.REVOKED
    return TokenStatus.EXPIRED if token.expires_at <= utcnow() else TokenStatus.ACTIVE


def token_public(token: ApiToken) -> TokenPublic:
    return TokenPublic(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        user_id=token.user_id,
        username=token.user.username,
        created_at=token.created_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        last_used_at=token.last_used_at,
        status=token_status(token),
    )


def create_token(
    session: Session, actor: Actor, owner: User, data: TokenCreate
) -> tuple[ApiToken, str]:
    """A new token for `owner`; returns the row and the clear token, which is never stored."""
    settings = _settings_of(session)
    clear = new_token()
    days = data.expires_in_days or settings.token_default_days
    token = ApiToken(
        user_id=owner.id,
        name=data.name,
        prefix=clear[:12],
        token_hash=hash_token(clear),
        expires_at=utcnow() + timedelta(days=days),
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor,
        "token.create",
        ("token", token.id),
        name=token.name,
        owner=owner.username,
        expires_at=token.expires_at.isoformat(),
    )
    session.commit()
    return token, clear


def list_tokens(
    session: Session, by: User, page: PageRequest, owner_id: int | None = None
) -> Page[TokenPublic]:
    """A user's own tokens; admins may list another user's by `owner_id`."""
    query = select(ApiToken).options(joinedload(ApiToken.user))
    if by.role is Role.ADMIN and owner_id is not None:
        query = query.where(ApiToken.user_id == owner_id)
    elif by.role is Role.ADMIN:
        pass
    else:
        query = query.where(ApiToken.user_id == by.id)
    result = paginate(session, query, [ApiToken.id], page)
    return Page([token_public(t) for t in result.items], result.next_cursor, result.count)


def get_token(session: Session, by: User | None, token_id: int) -> ApiToken:
    """A token `by` may manage: their own, or any for a platform admin or the CLI operator."""
    token = session.get(ApiToken, token_id)
    if token is None or (by is not None and by.role is not Role.ADMIN and token.user_id != by.id):
        raise NotFound(f"no token with id {token_id}", field="token_id", value=token_id)
    return token


def revoke_token(session: Session, actor: Actor, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(
            session,
            actor,
            "token.revoke",
            ("token", token.id),
            name=token.name,
            owner=token.user.username,
        )
        session.commit()
    return token


def authenticate_token(session: Session, clear: str) -> User:
    """The user behind a bearer token, refusing unknown, revoked and expired tokens by name."""
    return token_viewer(session, clear)[0]


def token_viewer(session: Session, clear: str) -> tuple[User, Viewer]:
    """`authenticate_token` and the user's viewer, read in one query: every API request needs
    both, and a round trip saved is a millisecond off each lookup (bench/sharing_bench.py)."""
    # The sharing groups travel as one string ("3,17"): the only aggregate both backends
    # spell alike (string_agg / group_concat).
    groups = (
        select(func.aggregate_strings(cast(SharingGroupMember.sharing_group_id, String), ","))
        .where(SharingGroupMember.organisation_id == User.organisation_id)
        .scalar_subquery()
    )
    found = session.execute(
        select(ApiToken, groups)
        .join(ApiToken.user)
        .options(contains_eager(ApiToken.user).joinedload(User.organisation))
        .where(ApiToken.token_hash == hash_token(clear))
    ).first()
    if found is None:
        raise NotAuthenticated("unknown API token")
    token, group_ids = found
    status = token_status(token)
    if status is not TokenStatus.ACTIVE:
        raise NotAuthenticated(f"API token '{token.name}' is {status.value}")
    user = token.user
    if not user.is_active or not user.organisation.is_active:
        raise NotAuthenticated("the token's user is deactivated")
    viewer = Viewer(
        user_id=user.id,
        organisation_id=user.organisation_id,
        sharing_group_ids=frozenset(int(g) for g in group_ids.split(","))
        if group_ids
        else frozenset(),
    )
    now = utcnow()
    # Written at most once a minute, so a busy client does not turn every read into a write.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
        session.commit()
    return user, viewer
