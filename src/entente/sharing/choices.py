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


class SightingKind(StrEnum):
    """What a member reports about an indicator it can see (MISP's three sighting types)."""

    SEEN = "seen"
    FALSE_POSITIVE = "false_positive"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        return _SIGHTING_LABELS[self]

    @property
    def colour(self) -> str:
        return _SIGHTING_COLOURS[self]


_SIGHTING_LABELS = {
    SightingKind.SEEN: "Seen",
    SightingKind.FALSE_POSITIVE: "False positive",
    SightingKind.EXPIRED: "Expired",
}
_SIGHTING_COLOURS = {
    SightingKind.SEEN: "red",
    SightingKind.FALSE_POSITIVE: "green",
    SightingKind.EXPIRED: "grey",
}


class CorrelationKind(StrEnum):
    """Why two indicators of different events are linked."""

    EXACT = "exact"  # the same canonical value
    CIDR = "cidr"  # one network contains the other address or network

    @property
    def label(self) -> str:
        return "Same value" if self is CorrelationKind.EXACT else "Network containment"
