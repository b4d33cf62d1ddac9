"""A dry run of services that commit as they go: their work is done, seen, then undone.

The STIX and MISP imports commit a batch at a time, so they have no dry-run mode, and a
SAVEPOINT opened with `session.begin_nested()` in the caller's session would not hold them:
in SQLAlchemy 2.0 `Session.commit()` ends the whole transaction, savepoints included. So the
rehearsal opens the SAVEPOINT on the caller's connection and runs the services in a second
session joined to it with `join_transaction_mode="create_savepoint"`: each of their commits
only releases a savepoint nested in ours, and rolling ours back undoes all of it. Nothing is
stored, yet every query, check and trigger of the real path runs (COPY on PostgreSQL too,
as it goes through the same connection).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from entente.members.accounts import Principal
from entente.members.models import User


@contextmanager
def rehearsal(session: Session) -> Iterator[Session]:
    """A session on `session`'s connection whose work, commits included, is rolled back."""
    connection = session.connection()
    savepoint = connection.begin_nested()
    trial = Session(
        bind=connection,
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
        info=dict(session.info),
    )
    try:
        yield trial
    finally:
        trial.close()
        if savepoint.is_active:
            savepoint.rollback()


def principal_in(trial: Session, principal: Principal) -> Principal:
    """The same caller with its user loaded in `trial`: rows the services add refer to it,
    and an object may belong to one session only."""
    user = trial.get(User, principal.user.id)
    assert user is not None, "the caller's own row, loaded by this request"
    return Principal(
        user=user,
        viewer=principal.viewer,
        via=principal.via,
        client_address=principal.client_address,
    )
