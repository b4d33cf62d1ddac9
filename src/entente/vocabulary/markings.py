"""TLP 2.0 markings and distribution levels, each carrying its label and badge colour.

TLP 2.0: https://www.first.org/tlp/ (FIRST, August 2022). The colours are FIRST's own
(RGB on a black badge), so a marking looks the same in Entente as on a printed report.
"""

from __future__ import annotations

from enum import StrEnum


class TLP(StrEnum):
    """Traffic Light Protocol 2.0, ordered from widest to narrowest disclosure."""

    CLEAR = "clear"
    GREEN = "green"
    AMBER = "amber"
    AMBER_STRICT = "amber+strict"
    RED = "red"

    @property
    def label(self) -> str:
        return "TLP:" + self.value.upper()

    @property
    def colour(self) -> str:
        return _TLP_COLOURS[self]

    @property
    def rank(self) -> int:
        """0 for CLEAR up to 4 for RED; a marking may only be tightened, never loosened."""
        return list(TLP).index(self)

    def is_stricter_or_equal(self, other: TLP) -> bool:
        return self.rank >= other.rank


_TLP_COLOURS = {
    TLP.CLEAR: "#FFFFFF",
    TLP.GREEN: "#33FF00",
    TLP.AMBER: "#FFC000",
    TLP.AMBER_STRICT: "#FFC000",
    TLP.RED: "#FF2B2B",
}


class Distribution(StrEnum):
    """Who the owner meant to reach; TLP then caps it (see core/access.py)."""

    ORGANISATION = "organisation"
    SHARING_GROUP = "sharing_group"
    ALL_MEMBERS = "all_members"
    PUBLIC = "public"

    @property
    def label(self) -> str:
        return _DISTRIBUTION_LABELS[self]


_DISTRIBUTION_LABELS = {
    Distribution.ORGANISATION: "Own organisation only",
    Distribution.SHARING_GROUP: "Sharing group",
    Distribution.ALL_MEMBERS: "All members",
    Distribution.PUBLIC: "Public",
}
