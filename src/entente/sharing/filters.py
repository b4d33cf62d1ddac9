"""Query parameters of the sharing lists, declared once for the API, the UI and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from entente.core.schemas import PlainText
from entente.members.schemas import RowId
from entente.sharing.choices import ThreatLevel
from entente.sharing.indicators import IndicatorType
from entente.vocabulary.markings import TLP


@dataclass(frozen=True, slots=True)
class EventFilter:
    """`q` searches titles; `value` finds events holding an indicator of that value."""

    q: PlainText | None = None
    value: PlainText | None = None
    organisation_id: RowId | None = None
    member_state: PlainText | None = None
    tlp: TLP | None = None
    threat_level: ThreatLevel | None = None
    published: bool | None = None
    tag: PlainText | None = None
    since: date | None = None
    until: date | None = None


@dataclass(frozen=True, slots=True)
class IndicatorFilter:
    """`value` is an exact lookup of any canonical form; `cidr` finds addresses and networks
    inside a network; `active` keeps only indicators not yet expired by decay.
    """

    value: PlainText | None = None
    cidr: PlainText | None = None
    type: IndicatorType | None = None
    event_id: RowId | None = None
    organisation_id: RowId | None = None
    member_state: PlainText | None = None
    tag: PlainText | None = None
    tlp: TLP | None = None
    to_ids: bool | None = None
    active: bool | None = None
    warning: bool | None = None
    since: date | None = None
    until: date | None = None
