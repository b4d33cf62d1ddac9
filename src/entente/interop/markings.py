"""TLP as STIX 2.1 data markings: the official TLP 2.0 marking definitions, and reading TLP back.

Entente writes the five marking-definition objects of the OASIS TLP 2.0 extension
(extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d, published in
oasis-open/cti-stix-common-objects, extension-definition-specifications/tlp-2.0), with their
fixed ids, so a consumer recognises the marking by its id alone. On import it also reads the
TLP 1.0 ids of STIX 2.1 section 7.2.1.4 (TLP:WHITE as TLP:CLEAR), in `object_marking_refs`
and in granular markings alike: a RED property makes the whole object RED here, since
Entente's access rule works per object and must not be looser than any part of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from entente.vocabulary.markings import TLP

TLP2_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP2_CREATED = "2022-10-01T00:00:00.000Z"
TLP2_MARKING_IDS: dict[TLP, str] = {
    TLP.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    TLP.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    TLP.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    TLP.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    TLP.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP1_MARKING_IDS: dict[str, TLP] = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": TLP.CLEAR,  # TLP:WHITE
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": TLP.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": TLP.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": TLP.RED,
}
TLP_BY_MARKING_ID: dict[str, TLP] = {
    **{marking_id: tlp for tlp, marking_id in TLP2_MARKING_IDS.items()},
    **TLP1_MARKING_IDS,
}


def tlp_marking_definition(tlp: TLP) -> dict[str, Any]:
    """The official TLP 2.0 marking-definition object of `tlp`, exactly as OASIS publishes it."""
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP2_MARKING_IDS[tlp],
        "created": TLP2_CREATED,
        "name": tlp.label,
        "extensions": {
            TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": tlp.value}
        },
    }


def tlp_marking_definitions() -> list[dict[str, Any]]:
    """All five, widest first: every export carries them (public constants, nothing to hide)."""
    return [tlp_marking_definition(tlp) for tlp in TLP]


def strictest(tlps: Iterable[TLP | None]) -> TLP | None:
    """The narrowest of the given markings, None if none is given."""
    found = [tlp for tlp in tlps if tlp is not None]
    return max(found, key=lambda tlp: tlp.rank) if found else None


def object_tlp(stix_object: dict[str, Any]) -> TLP | None:
    """The strictest TLP an object carries, at object level or on any of its properties."""
    refs: list[Any] = list(stix_object.get("object_marking_refs") or [])
    granular = stix_object.get("granular_markings") or []
    if isinstance(granular, list):
        refs.extend(g.get("marking_ref") for g in granular if isinstance(g, dict))
    return strictest(TLP_BY_MARKING_ID.get(ref) for ref in refs if isinstance(ref, str))
