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
    FALSE_POSITIVE = "false_positive"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def colour(self) -> str:
        return _COLOURS[self]


_COLOURS = {
    AlertStatus.NEW: "red",
    AlertStatus.NOTIFIED: "orange",
    AlertStatus.ACKNOWLEDGED: "blue",
    AlertStatus.REMEDIATED: "green",
    AlertStatus.FALSE_POSITIVE: "purple",
    AlertStatus.CLOSED: "grey",
}


class TimelineKind(StrEnum):
    """What a timeline entry records: a status change, an assignment, a comment, or a finding
    that came back in a later report after its alert was remediated."""

    STATUS = "status"
    ASSIGNMENT = "assignment"
    COMMENT = "comment"
    RETURNED = "returned"

    @property
    def label(self) -> str:
        return self.value.capitalize()
