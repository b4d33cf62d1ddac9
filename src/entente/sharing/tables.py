"""Columns of the sharing pages: events, an event's indicators, correlations, history, lists.

Labels and badge colours come from the choice sets (`sharing/choices.py`, TLP in
`vocabulary/markings.py`); a TLP badge is `badge-tlp-<marking>`, drawn in FIRST's colours by
the stylesheet, because a marking must look the same here as on a printed report.
"""

from __future__ import annotations

from dataclasses import dataclass

from entente.sharing.correlation import CorrelatedEvent
from entente.sharing.schemas import (
    EventPublic,
    EventVersionPublic,
    IndicatorPublic,
    SightingSummary,
)
from entente.sharing.warninglist_schemas import WarningListPublic
from entente.vocabulary.markings import TLP
from entente.web.tables import Action, Align, Cell, Column, Style, Table, code, muted, text, when


def tlp_badge(tlp: TLP) -> Cell:
    return Cell(tlp.label, badge=tlp_badge_name(tlp))


def tlp_badge_name(tlp: TLP) -> str:
    """`amber+strict` -> `tlp-amber-strict`: a CSS class name cannot hold a `+`."""
    return "tlp-" + tlp.value.replace("+", "-")


def publication(event: EventPublic) -> Cell:
    """Draft (never published), the published version, or a version with changes since."""
    if event.version == 0:
        return Cell("Draft", badge="grey")
    if event.published:
        return Cell(f"Published v{event.version}", badge="green")
    return Cell(f"v{event.version} + changes", badge="orange")


# ---- the event list --------------------------------------------------------------------


EVENTS = Table[EventPublic](
    columns=(
        Column("Title", lambda r: Cell(r.title, href=f"/events/{r.id}")),
        Column("Date", lambda r: Cell(r.event_date.isoformat(), style=Style.TIME)),
        Column(
            "Owner",
            lambda r: Cell(
                r.owner_organisation_name,
                href=f"/organisations/{r.owner_organisation_id}",
            ),
        ),
        Column(
            "Member state",
            lambda r: Cell(
                r.owner_member_state,
                href=f"/member-states/{r.owner_member_state}",
                style=Style.CODE,
            ),
        ),
        Column("TLP", lambda r: tlp_badge(r.tlp)),
        Column(
            "Threat",
            lambda r: Cell(r.threat_level.label, badge=r.threat_level.colour),
        ),
        Column("Indicators", lambda r: text(f"{r.indicator_count:,}"), Align.RIGHT),
        Column("Tags", lambda r: muted(", ".join(r.tags))),
        Column("Status", lambda r: publication(r)),
    ),
    empty="No event matches these filters.",
)


# ---- an event's indicators -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndicatorRow:
    """An indicator with what other services know of it: links to other events, sightings."""

    indicator: IndicatorPublic
    links: int
    sightings: SightingSummary | None


def _warnings(indicator: IndicatorPublic) -> Cell:
    if not indicator.warning_lists:
        return muted("")
    return Cell("Warning: " + ", ".join(indicator.warning_lists), badge="orange")


def _links(row: IndicatorRow) -> Cell:
    if not row.links:
        return muted("0")
    return Cell(f"{row.links:,}", href="#correlations")


def _sightings(summary: SightingSummary | None) -> Cell:
    if summary is None:
        return muted("none")
    parts = [f"{summary.seen:,} seen"]
    if summary.false_positive:
        parts.append(f"{summary.false_positive:,} false positive")
    if summary.expired:
        parts.append(f"{summary.expired:,} expired")
    return text(" · ".join(parts))


INDICATORS = Table[IndicatorRow](
    columns=(
        Column("Type", lambda r: Cell(r.indicator.type.label, badge="blue")),
        Column("Value", lambda r: code(r.indicator.value)),
        Column("Category", lambda r: muted(r.indicator.category.label)),
        Column("IDS", lambda r: text("Yes" if r.indicator.to_ids else "No")),
        Column("TLP", lambda r: tlp_badge(r.indicator.tlp)),
        Column("Score", lambda r: text(r.indicator.score), Align.RIGHT),
        Column("Warning lists", lambda r: _warnings(r.indicator)),
        Column("Correlations", _links, Align.RIGHT),
        Column("Sightings", lambda r: _sightings(r.sightings)),
    ),
    empty="No indicators yet.",
)


# ---- correlations and history ----------------------------------------------------------


CORRELATIONS = Table[CorrelatedEvent](
    columns=(
        Column("Event", lambda c: Cell(c.title, href=f"/events/{c.event_id}")),
        Column("Date", lambda c: Cell(c.event_date.isoformat(), style=Style.TIME)),
        Column("Owner", lambda c: text(c.owner_organisation_name)),
        Column("TLP", lambda c: tlp_badge(c.tlp)),
        Column("Links", lambda c: text(f"{c.links:,}"), Align.RIGHT),
        Column("Shared values", lambda c: code(", ".join(c.sample_values))),
    ),
    empty="No other event you may see shares a value or a network with this one.",
)

HISTORY = Table[EventVersionPublic](
    columns=(
        Column("Version", lambda v: text(f"v{v.version}")),
        Column("Published", lambda v: when(v.published_at)),
        Column("By", lambda v: text(v.published_by)),
        Column("Title", lambda v: text(v.title)),
        Column("Indicators", lambda v: text(f"{v.indicator_count:,}"), Align.RIGHT),
    ),
    empty="Not published yet: no version is frozen until the owner publishes the event.",
)


# ---- warning lists ---------------------------------------------------------------------


def _switch(item: WarningListPublic) -> Cell:
    if item.enabled:
        return Cell(
            "",
            action=Action(
                "Disable",
                f"/warninglists/{item.name}/disable",
                f"Disable '{item.name}' for the whole hub? New indicators are no longer "
                "checked against it.",
            ),
        )
    return Cell(
        "",
        action=Action(
            "Enable",
            f"/warninglists/{item.name}/enable",
            f"Enable '{item.name}' for the whole hub? New indicators that hit it are flagged.",
        ),
    )


def warning_lists_table(may_switch: bool) -> Table[WarningListPublic]:
    """The lists; platform admins get a switch per list."""
    columns: list[Column[WarningListPublic]] = [
        Column("Name", lambda w: code(w.name)),
        Column("Description", lambda w: muted(w.description)),
        Column("Kind", lambda w: text(w.kind.value.upper())),
        Column("Entries", lambda w: text(f"{w.entry_count:,}"), Align.RIGHT),
        Column(
            "State",
            lambda w: Cell("Enabled", badge="green") if w.enabled else Cell("Off", badge="grey"),
        ),
        Column("Sample", lambda w: Cell("Sample", badge="orange") if w.sample else muted("")),
    ]
    if may_switch:
        columns.append(Column("", _switch, Align.RIGHT))
    return Table[WarningListPublic](columns=tuple(columns), empty="No warning lists are shipped.")
