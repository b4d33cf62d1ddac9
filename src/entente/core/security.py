"""Password hashing (argon2id) and API token generation.

Tokens are 256-bit random strings, so a fast hash (SHA-256) is enough to store them safely:
argon2's slowness protects low-entropy passwords, and would only slow every API call here.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOKEN_PREFIX = "ent_"
_hasher = PasswordHasher()

# Verified against when the user does not exist, so a login for an unknown name takes as
# long as one for a known name and the response time does not reveal which names exist.
DUMMY_HASH = _hasher.hash("entente-dummy-password-for-timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """A new bearer token, shown to its owner once and never stored in clear."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
