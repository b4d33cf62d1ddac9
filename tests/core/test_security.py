"""Password hashing keeps argon2id's production cost (the suite itself runs a cheaper one)."""

from __future__ import annotations

from entente.core import security
from tests.conftest import PRODUCTION_HASHER


def test_production_passwords_use_argon2id_at_owasp_cost() -> None:
    # OWASP's password storage cheat sheet: argon2id, >= 19 MiB memory, >= 2 iterations.
    assert PRODUCTION_HASHER.type.name == "ID"
    assert PRODUCTION_HASHER.memory_cost >= 19 * 1024
    assert PRODUCTION_HASHER.time_cost >= 2
    assert PRODUCTION_HASHER.hash("x").startswith("$argon2id$")


def test_a_hash_made_at_production_cost_verifies_and_refuses_a_wrong_password() -> None:
    stored = PRODUCTION_HASHER.hash("correct horse battery staple")
    assert security.verify_password(stored, "correct horse battery staple")
    assert not security.verify_password(stored, "correct horse battery stapler")
    assert not security.verify_password("not a hash", "anything")
