"""The reference list of ITU member states, shipped in the package as `data/member_states.csv`."""

from __future__ import annotations

import csv
from importlib import resources


def read_member_states() -> list[dict[str, str]]:
    """Rows of alpha2, alpha3, numeric, name, region (an `ItuRegion` value)."""
    text = resources.files("entente.members.data").joinpath("member_states.csv").read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))
