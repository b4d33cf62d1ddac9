"""Who may write shared data: writers of the owner organisation, never readers."""

from __future__ import annotations

from entente.core.errors import PermissionDenied
from entente.members.accounts import Principal
from entente.members.choices import Role
from entente.sharing.models import Event

# Roles that may write shared data for their own organisation; readers only read.
WRITER_ROLES = frozenset({Role.ADMIN, Role.ORG_ADMIN, Role.ANALYST})


def require_writer(principal: Principal) -> None:
    if principal.user.role not in WRITER_ROLES:
        raise PermissionDenied("readers may not write shared data")


def require_owner(principal: Principal, event: Event) -> None:
    """Only writers of the owner organisation change an event (platform admins included)."""
    require_writer(principal)
    if principal.user.organisation_id != event.owner_organisation_id:
        raise PermissionDenied("only the owner organisation may change this event")
