"""What the world map can colour member states by.

Each metric is a name, a label and a function giving a value per member state (keyed by
ISO 3166-1 alpha-2). A capability adds a metric with one more entry in `METRICS`; the map
page lists them and `/map/data` joins their values to the countries' ISO numeric ids.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from entente.core.errors import BadValue
from entente.core.pagination import MAX_LIMIT, PageRequest
from entente.members import service
from entente.members.filters import MemberStateFilter


@dataclass(frozen=True, slots=True)
class MapMetric:
    name: str
    label: str
    unit: str
    values: Callable[[Session], Mapping[str, float]]
    value_format: str = "d"  # d3-format of the legend: "d" for counts, ".1f" for scores
    legend_step: float | None = 1  # smallest step between legend ticks; 1 for counts


def organisations_per_member_state(session: Session) -> dict[str, float]:
    return {state.alpha2: count for state, count in service.organisations_per_member_state(session)}


METRICS: Mapping[str, MapMetric] = {
    metric.name: metric
    for metric in (
        MapMetric(
            "organisations",
            "Organisations per member state",
            "organisations",
            organisations_per_member_state,
        ),
    )
}

DEFAULT_METRIC = "organisations"


def get_metric(name: str) -> MapMetric:
    try:
        return METRICS[name]
    except KeyError as exc:
        known = ", ".join(METRICS)
        raise BadValue(
            f"unknown map metric '{name}'; one of: {known}", field="metric", value=name
        ) from exc


def metric_rows(session: Session, metric: MapMetric) -> list[dict[str, Any]]:
    """One row per member state: its ISO numeric id (the atlas' key), name and value or None."""
    values = metric.values(session)
    states = service.list_member_states(session, MemberStateFilter(), PageRequest(limit=MAX_LIMIT))
    return [
        {
            "numeric": state.numeric,
            "alpha2": state.alpha2,
            "name": state.name,
            "region": state.region_label,
            "value": values.get(state.alpha2),
        }
        for state in states.items
    ]
