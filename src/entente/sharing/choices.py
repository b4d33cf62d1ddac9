"""Choice sets of shared events, each value with its label and badge colour."""

from __future__ import annotations

from enum import StrEnum


class ThreatLevel(StrEnum):
    """How bad the reported threat is, as the reporting member judges it (MISP's scale)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    UNDEFINED = "undefined"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def colour(self) -> str:
        return _THREAT_COLOURS[self]


_THREAT_COLOURS = {
    ThreatLevel.HIGH: "red",
    ThreatLevel.MEDIUM: "orange",
    ThreatLevel.LOW: "green",
    ThreatLevel.UNDEFINED: "grey",
}


class AnalysisState(StrEnum):
    INITIAL = "initial"
    ONGOING = "ongoing"
    COMPLETE = "complete"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def colour(self) -> str:
        return _ANALYSIS_COLOURS[self]


_ANALYSIS_COLOURS = {
    AnalysisState.INITIAL: "grey",
    AnalysisState.ONGOING: "blue",
    AnalysisState.COMPLETE: "green",
}
