"""The admin override of warning lists: which shipped lists are switched on, kept in the DB.

The lists themselves are files shipped with Entente (`warninglists.py`); a platform admin
switches one off (a national CERT whose own ranges sit in a "cloud" list) or back on. The
index of the enabled lists is rebuilt only when the set of switches changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.core import audit
from entente.core.clock import utcnow
from entente.core.errors import AppError, BadValue, NotFound, PermissionDenied
from entente.members.accounts import Principal
from entente.members.choices import Role
from entente.sharing.indicators import IndicatorType, canonicalise
from entente.sharing.models import WarningListSetting
from entente.sharing.warninglists import WarningList, WarningListIndex, load_warning_lists


def warning_lists(session: Session) -> list[WarningList]:
    """The shipped lists with each admin override applied to `enabled`."""
    overrides = {
        name: enabled
        for name, enabled in session.execute(
            select(WarningListSetting.name, WarningListSetting.enabled)
        )
    }
    return [
        dataclasses.replace(item, enabled=overrides.get(item.name, item.enabled))
        for item in load_warning_lists()
    ]


def active_warning_lists(session: Session) -> WarningListIndex:
    """The index of the lists enabled now (cached per set of enabled names)."""
    enabled = frozenset(item.name for item in warning_lists(session) if item.enabled)
    return _index_of(enabled)


@cache
def _index_of(enabled: frozenset[str]) -> WarningListIndex:
    return WarningListIndex(
        dataclasses.replace(item, enabled=item.name in enabled) for item in load_warning_lists()
    )


def check_values(
    session: Session, indicator_type: IndicatorType, values: Sequence[str]
) -> dict[str, list[str]]:
    """The enabled lists each value hits, keyed by the value's canonical form."""
    canonical = []
    for index, value in enumerate(values):
        try:
            canonical.append(canonicalise(indicator_type, value))
        except AppError as exc:
            raise BadValue(exc.message, field=f"values[{index}]", value=value) from exc
    hits = active_warning_lists(session).match_many([indicator_type] * len(canonical), canonical)
    return dict(zip(canonical, hits, strict=True))


def get_warning_list(session: Session, name: str) -> WarningList:
    for item in warning_lists(session):
        if item.name == name:
            return item
    raise NotFound(f"no warning list called {name!r}", field="name", value=name)


def set_enabled(session: Session, principal: Principal, name: str, enabled: bool) -> WarningList:
    """Switch a list on or off for the whole hub; platform admins only."""
    if principal.user.role is not Role.ADMIN:
        raise PermissionDenied("only platform admins switch warning lists")
    get_warning_list(session, name)
    setting = session.get(WarningListSetting, name)
    if setting is None:
        setting = WarningListSetting(name=name, enabled=enabled, updated_by="")
        session.add(setting)
    setting.enabled = enabled
    setting.updated_by = principal.user.username
    setting.updated_at = utcnow()
    audit.record(
        session, principal.actor(), "warninglist.switch", ("warninglist", name), enabled=enabled
    )
    session.commit()
    return get_warning_list(session, name)
