"""Taxonomies load from their data files, agree with the code's TLP, and tags round-trip."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from entente.core.errors import BadValue
from entente.vocabulary.markings import TLP
from entente.vocabulary.taxonomies import (
    MachineTag,
    all_machine_tags,
    describe_tag,
    format_machine_tag,
    load_taxonomies,
    parse_machine_tag,
    read_taxonomies,
)

RSIT_CLASSES = {
    "abusive-content",
    "malicious-code",
    "information-gathering",
    "intrusion-attempts",
    "intrusions",
    "availability",
    "information-content-security",
    "fraud",
    "vulnerable",
    "other",
    "test",
}


def test_every_shipped_taxonomy_loads() -> None:
    taxonomies = load_taxonomies()
    assert set(taxonomies) == {"tlp", "pap", "admiralty-scale", "rsit"}
    for taxonomy in taxonomies.values():
        assert taxonomy.predicates, taxonomy.namespace
        assert all(predicate.expanded for predicate in taxonomy.predicates)


def test_tlp_taxonomy_agrees_with_the_markings_enum() -> None:
    tlp = load_taxonomies()["tlp"]
    assert [predicate.value for predicate in tlp.predicates] == [marking.value for marking in TLP]
    for marking in TLP:
        display = describe_tag(MachineTag("tlp", marking.value))
        assert display.label == marking.label
        assert display.colour.upper() == marking.colour.upper()
    assert tlp.exclusive


def test_rsit_has_the_eleven_classes_with_their_types() -> None:
    rsit = load_taxonomies()["rsit"]
    assert {predicate.value for predicate in rsit.predicates} == RSIT_CLASSES
    malicious_code = rsit.find_predicate("malicious-code")
    assert malicious_code is not None
    assert [value.value for value in malicious_code.values] == [
        "infected-system",
        "c2-server",
        "malware-distribution",
        "malware-configuration",
    ]
    assert all(predicate.values for predicate in rsit.predicates)


def test_pap_and_admiralty_scale_hold_their_grades() -> None:
    taxonomies = load_taxonomies()
    assert [p.value for p in taxonomies["pap"].predicates] == ["clear", "green", "amber", "red"]
    admiralty = taxonomies["admiralty-scale"]
    reliability = admiralty.find_predicate("source-reliability")
    credibility = admiralty.find_predicate("information-credibility")
    assert reliability is not None and credibility is not None
    assert [value.value for value in reliability.values] == list("abcdef")
    assert [value.value for value in credibility.values] == list("123456")


@given(st.sampled_from(all_machine_tags()))
def test_machine_tags_round_trip(tag: MachineTag) -> None:
    text = format_machine_tag(tag)
    assert parse_machine_tag(text) == tag
    assert str(parse_machine_tag(text)) == text


@given(st.sampled_from(all_machine_tags()), st.sampled_from([str.upper, str.title, str.lower]))
def test_parsing_ignores_case_and_returns_the_canonical_spelling(
    tag: MachineTag, case: Callable[[str], str]
) -> None:
    assert parse_machine_tag(case(format_machine_tag(tag))) == tag


def test_former_names_are_read_as_their_current_ones() -> None:
    assert parse_machine_tag("tlp:white") == MachineTag("tlp", "clear")
    assert parse_machine_tag("PAP:WHITE") == MachineTag("pap", "clear")


@pytest.mark.parametrize(
    "text",
    [
        "nope:amber",  # unknown namespace
        "tlp:purple",  # unknown predicate
        'rsit:malicious-code="teapot"',  # unknown value
        'tlp:amber="x"',  # a value under a predicate that has none
        "tlp",  # not a machine tag at all
        "",
        'rsit:fraud="phishing" extra',
    ],
)
def test_unknown_or_malformed_tags_are_refused_naming_the_tag_field(text: str) -> None:
    with pytest.raises(BadValue) as caught:
        parse_machine_tag(text)
    assert caught.value.field == "tag"
    assert caught.value.value == text


def test_describe_tag_gives_label_and_the_most_specific_colour() -> None:
    display = describe_tag('rsit:malicious-code="c2-server"')
    assert display.label == "Malicious Code: C2 Server"
    assert display.colour == "#C0392B"  # the class colour, since the type has none
    grade = describe_tag('admiralty-scale:source-reliability="a"')
    assert grade.label == "Source reliability: A - Completely reliable"
    assert grade.colour == "#1A7F37"


def test_describe_tag_refuses_a_hand_built_unknown_tag() -> None:
    with pytest.raises(BadValue) as caught:
        describe_tag(MachineTag("tlp", "amber", "oops"))
    assert caught.value.field == "tag"


def test_a_malformed_taxonomy_file_is_reported_by_name(tmp_path: Path) -> None:
    (tmp_path / "good.json").write_text(
        json.dumps({"namespace": "x", "description": "", "predicates": []})
    )
    (tmp_path / "broken.json").write_text(json.dumps({"namespace": "y"}))
    with pytest.raises(BadValue) as caught:
        read_taxonomies(tmp_path)
    assert caught.value.value == "broken.json"


def test_a_duplicate_namespace_is_refused(tmp_path: Path) -> None:
    for name in ("one.json", "two.json"):
        (tmp_path / name).write_text(
            json.dumps({"namespace": "x", "description": "", "predicates": []})
        )
    with pytest.raises(BadValue, match="duplicate"):
        read_taxonomies(tmp_path)
