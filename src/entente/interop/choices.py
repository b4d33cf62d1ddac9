"""Choice sets of the interop capability."""

from __future__ import annotations

from enum import StrEnum


class StixRole(StrEnum):
    """What a stored STIX object is to the event it was imported into."""

    # The event's own report or grouping (a bundle imported as a new event): exported as
    # the event's container, its `object_refs` following what the event holds now.
    CONTAINER = "container"
    # The STIX form of Entente indicators made from its pattern (or CVE): exported in their
    # place, so the id, timestamps, labels and markings survive a round trip.
    INDICATOR = "indicator"
    # Anything else (malware, attack-pattern, relationship, note, complex indicator...):
    # exported back exactly as it came.
    KEPT = "kept"
