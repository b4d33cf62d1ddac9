"""What one STIX object is to Entente: rejected (with the id and property), skipped, kept,
or the source of typed indicators. Pure: no database."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from entente.interop.choices import StixRole
from entente.interop.from_stix import Incoming, Rejected, Skipped, check_object
from entente.interop.markings import TLP2_MARKING_IDS, object_tlp
from entente.sharing.indicators import Category, IndicatorType
from entente.vocabulary.markings import TLP

SAMPLE = Path(__file__).parents[1] / "data" / "stix" / "lagoon_campaign.json"


def sample() -> dict[str, dict[str, Any]]:
    """The sample's objects by a short name: their type, or the indicator's name."""
    objects = json.loads(SAMPLE.read_text())["objects"]
    return {o["name"] if o["type"] == "indicator" else o["type"]: o for o in objects}


OBJECTS = sample()


def checked(content: dict[str, Any]) -> Incoming:
    result = check_object(content, 0)
    assert isinstance(result, Incoming), result
    return result


def rejected(content: object) -> Rejected:
    result = check_object(content, 7)
    assert isinstance(result, Rejected), result
    assert result.index == 7
    return result


def test_a_simple_or_pattern_becomes_two_typed_indicators_with_its_tlp() -> None:
    incoming = checked(OBJECTS["Lagoon C2 addresses"])
    assert incoming.role is StixRole.INDICATOR
    assert [(v.type, v.value) for v in incoming.values] == [
        (IndicatorType.IPV4, "203.0.113.10"),
        (IndicatorType.IPV4, "203.0.113.11"),
    ]
    assert incoming.values[0].to_ids is True
    assert incoming.values[0].comment == "Both addresses answer as C2."
    assert incoming.tlp is TLP.AMBER
    assert json.loads(incoming.body) == OBJECTS["Lagoon C2 addresses"]


def test_entente_labels_give_back_type_category_and_flags() -> None:
    content = copy.deepcopy(OBJECTS["Lagoon landing domain"])
    content["labels"] = [
        'entente:type="hostname"',
        'entente:category="payload_delivery"',
        'entente:to_ids="false"',
    ]
    content["description"] = "Hostname: lagoon-login.example"  # the exporter's default text
    (value,) = checked(content).values
    assert (value.type, value.category, value.to_ids, value.comment) == (
        IndicatorType.HOSTNAME,
        Category.PAYLOAD_DELIVERY,
        False,
        "",
    )


@pytest.mark.parametrize(
    "name",
    ["C2 over TLS", "Loader process"],  # an AND pattern; a sigma rule
)
def test_complex_and_foreign_patterns_are_kept_as_stix(name: str) -> None:
    incoming = checked(OBJECTS[name])
    assert (incoming.role, incoming.values) == (StixRole.KEPT, [])


def test_a_vulnerability_naming_a_cve_becomes_a_cve_indicator() -> None:
    (value,) = checked(OBJECTS["vulnerability"]).values
    assert (value.type, value.value) == (IndicatorType.CVE, "CVE-2024-3400")


@pytest.mark.parametrize(
    "kind",
    ["malware", "threat-actor", "intrusion-set", "attack-pattern", "campaign", "tool",
     "course-of-action", "location", "relationship", "note", "opinion", "sighting",
     "observed-data", "ipv4-addr", "report", "identity"],
)  # fmt: skip
def test_other_objects_are_kept(kind: str) -> None:
    assert checked(OBJECTS[kind]).role is StixRole.KEPT


def test_official_tlp_markings_are_skipped_and_other_markings_kept() -> None:
    markings = [
        o for o in json.loads(SAMPLE.read_text())["objects"] if o["type"] == "marking-definition"
    ]
    results = [check_object(m, 0) for m in markings]
    assert [type(r) for r in results] == [Skipped, Incoming]


def test_a_granular_red_marking_makes_the_whole_object_red() -> None:
    content = copy.deepcopy(OBJECTS["malware"])
    content["granular_markings"] = [
        {"marking_ref": TLP2_MARKING_IDS[TLP.RED], "selectors": ["description"]}
    ]
    assert object_tlp(content) is TLP.RED
    white = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"  # TLP 1.0
    assert object_tlp({"object_marking_refs": [white]}) is TLP.CLEAR


def test_revoked_indicators_are_kept_never_made_indicators() -> None:
    content = {**OBJECTS["Lagoon landing domain"], "revoked": True}
    assert checked(content).role is StixRole.KEPT


def test_custom_objects_are_kept() -> None:
    content = {
        "type": "x-mitre-tactic",
        "spec_version": "2.1",
        "id": "x-mitre-tactic--ffd5bcee-6e16-4dd2-8eca-7b3beedf33ca",
        "created": "2018-10-17T00:14:20.652Z",
        "modified": "2022-04-25T14:00:00.188Z",
        "name": "Initial Access",
        "x_mitre_shortname": "initial-access",
    }
    assert checked(content).role is StixRole.KEPT


def _without(content: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in content.items() if key != name}


@pytest.mark.parametrize(
    ("content", "field", "words"),
    [
        ([1, 2], None, "is a JSON object"),
        (_without(OBJECTS["malware"], "type"), "type", "type is missing"),
        ({**OBJECTS["malware"], "id": "malware--not-a-uuid"}, "id", "followed by a UUID"),
        ({**OBJECTS["malware"], "id": OBJECTS["tool"]["id"]}, "id", "'malware--'"),
        ({**OBJECTS["malware"], "spec_version": "2.0"}, "spec_version", "'2.0' is not '2.1'"),
        (_without(OBJECTS["malware"], "spec_version"), "spec_version", "missing"),
        (_without(OBJECTS["malware"], "is_family"), "is_family", "required for malware"),
        (_without(OBJECTS["report"], "published"), "published", "required for report"),
        (_without(OBJECTS["relationship"], "target_ref"), "target_ref", "required"),
        (_without(OBJECTS["malware"], "created"), "created", "missing"),
        ({**OBJECTS["malware"], "modified": "yesterday"}, "modified", "not a STIX timestamp"),
        ({**OBJECTS["malware"], "modified": "2020-01-01T00:00:00Z"}, "modified", "before"),
        (
            {**OBJECTS["Lagoon landing domain"], "pattern": "[domain-name:value = 'x'"},
            "pattern",
            "invalid STIX pattern",
        ),
        (
            {**OBJECTS["Lagoon landing domain"], "pattern": "[ipv4-addr:value = '999.1.1.1']"},
            "pattern",
            "not a valid ipv4",
        ),
        (
            {"type": "bundle", "id": "bundle--ffd5bcee-6e16-4dd2-8eca-7b3beedf33ca"},
            "type",
            "bundle",
        ),
    ],
)
def test_bad_objects_are_rejected_naming_the_property(
    content: object, field: str | None, words: str
) -> None:
    result = rejected(content)
    assert result.field == field
    assert words in result.message
    if isinstance(content, dict) and isinstance(content.get("id"), str):
        assert result.object_id == content["id"]


def test_a_wallet_of_another_currency_is_kept_not_rejected() -> None:
    content = {
        **OBJECTS["Lagoon landing domain"],
        "pattern": "[cryptocurrency-wallet:value = '0x52908400098527886E0F7030069857D2E4169EE7']",
    }
    assert checked(content).role is StixRole.KEPT
