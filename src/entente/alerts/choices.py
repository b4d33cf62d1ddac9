"""The alert lifecycle, with labels and badge colours for the UI."""

from __future__ import annotations

from enum import StrEnum


class AlertStatus(StrEnum):
    """Where an alert is in its lifecycle; time-to-notify and time-to-remediate are measured
    between these steps."""

    NEW = "new"
    NOTIFIED = "notified"
    ACKNOWLEDGED = "acknowledged"
    REMEDIATED = "remediated"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def colour(self) -> str:
        return _COLOURS[self]


_COLOURS = {
    AlertStatus.NEW: "red",
    AlertStatus.NOTIFIED: "orange",
    AlertStatus.ACKNOWLEDGED: "blue",
    AlertStatus.REMEDIATED: "green",
    AlertStatus.CLOSED: "grey",
}
