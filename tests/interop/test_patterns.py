"""Patterns and observables of every indicator type, checked against the reference
implementations: `stix2patterns` (the grammar) and `stix2` (deterministic SCO ids)."""

from __future__ import annotations

import pytest
import stix2  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st
from stix2patterns.v21.pattern import Pattern  # type: ignore[import-untyped]

from entente.interop.patterns import (
    indicator_pattern,
    observable,
    pattern_problem,
    quote,
    simple_comparisons,
    stix_value,
    type_of_path,
)
from entente.sharing.indicators import IndicatorType, canonicalise
from tests.interop.builders import EVERY_TYPE

PATTERNED = {t: v for t, v in EVERY_TYPE.items() if indicator_pattern(t, v) is not None}


def test_only_cve_and_other_have_no_pattern() -> None:
    assert set(EVERY_TYPE) - set(PATTERNED) == {IndicatorType.CVE, IndicatorType.OTHER}


@pytest.mark.parametrize("indicator_type", sorted(PATTERNED))
def test_each_pattern_is_valid_and_reads_back_as_the_same_indicator(
    indicator_type: IndicatorType,
) -> None:
    value = canonicalise(indicator_type, PATTERNED[indicator_type])
    pattern = indicator_pattern(indicator_type, value)
    assert pattern is not None
    assert pattern_problem(pattern) is None
    comparisons = simple_comparisons(pattern)
    assert comparisons is not None and len(comparisons) == 1
    path, raw = comparisons[0]
    # The reference parser sees the same object, path and value.
    inspected = Pattern(pattern).inspect().comparisons
    ((object_type, [(parts, operator, literal)]),) = inspected.items()
    assert operator == "="
    assert path == f"{object_type}:{'.'.join(parts)}"
    assert literal == (str(raw) if isinstance(raw, int) else f"'{quote(raw)}'")
    # Domain and hostname share a path, as do an address and a /32: the label tells them apart.
    assert type_of_path(path, raw, indicator_type) is indicator_type
    assert canonicalise(indicator_type, str(raw)) == stix_value(indicator_type, value)


@pytest.mark.parametrize(
    ("indicator_type", "reference"),
    [
        (IndicatorType.IPV4, lambda v: stix2.IPv4Address(value=v)),
        (IndicatorType.IPV6, lambda v: stix2.IPv6Address(value=v)),
        (IndicatorType.CIDR, lambda v: stix2.IPv6Address(value=v)),
        (IndicatorType.DOMAIN, lambda v: stix2.DomainName(value=v)),
        (IndicatorType.URL, lambda v: stix2.URL(value=v)),
        (IndicatorType.EMAIL_SRC, lambda v: stix2.EmailAddress(value=v)),
        (
            IndicatorType.EMAIL_SUBJECT,
            lambda v: stix2.EmailMessage(is_multipart=False, subject=v),
        ),
        (IndicatorType.MD5, lambda v: stix2.File(hashes={"MD5": v})),
        (IndicatorType.SHA1, lambda v: stix2.File(hashes={"SHA-1": v})),
        (IndicatorType.SHA256, lambda v: stix2.File(hashes={"SHA-256": v})),
        (IndicatorType.SSDEEP, lambda v: stix2.File(hashes={"SSDEEP": v})),
        (IndicatorType.TLSH, lambda v: stix2.File(hashes={"TLSH": v.removeprefix("T1")})),
        (IndicatorType.FILENAME, lambda v: stix2.File(name=v)),
        (IndicatorType.MUTEX, lambda v: stix2.Mutex(name=v)),
        (IndicatorType.REGKEY, lambda v: stix2.WindowsRegistryKey(key=v)),
        (IndicatorType.ASN, lambda v: stix2.AutonomousSystem(number=int(v[2:]))),
    ],
)
def test_observables_have_the_ids_the_stix2_library_computes(
    indicator_type: IndicatorType, reference: object
) -> None:
    value = canonicalise(indicator_type, EVERY_TYPE[indicator_type])
    sco = observable(indicator_type, value)
    assert sco is not None
    expected = reference(value)  # type: ignore[operator]
    assert sco["id"] == expected.id
    # The library also writes the defaults it knows (`defanged: false`).
    assert sco.items() <= {**expected, "spec_version": "2.1"}.items()


@given(st.text(min_size=1, max_size=40))
def test_any_text_survives_quoting_in_a_pattern(text: str) -> None:
    pattern = f"[email-message:subject = '{quote(text)}']"
    assert simple_comparisons(pattern) == [("email-message:subject", text)]
    assert pattern_problem(pattern) is None


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[ipv4-addr:value = '198.51.100.7']", [("ipv4-addr:value", "198.51.100.7")]),
        (
            "[ipv4-addr:value = '198.51.100.7' OR ipv4-addr:value = '198.51.100.8']",
            [("ipv4-addr:value", "198.51.100.7"), ("ipv4-addr:value", "198.51.100.8")],
        ),
        (
            f" [file:hashes.'SHA-256' = '{'ab' * 32}'] OR [url:value='http://x.example/'] ",
            [("file:hashes.SHA-256", "ab" * 32), ("url:value", "http://x.example/")],
        ),
        ("[autonomous-system:number = 64496]", [("autonomous-system:number", 64496)]),
    ],
)
def test_the_scanner_reads_equalities_joined_by_or(
    pattern: str, expected: list[tuple[str, object]]
) -> None:
    assert simple_comparisons(pattern) == expected
    assert pattern_problem(pattern) is None


@pytest.mark.parametrize(
    "pattern",
    [
        "[ipv4-addr:value = '198.51.100.7' AND ipv4-addr:value = '198.51.100.8']",
        "[ipv4-addr:value = '198.51.100.7'] AND [url:value = 'http://x.example/']",
        "[ipv4-addr:value = '198.51.100.7'] WITHIN 300 SECONDS",
        "[ipv4-addr:value != '198.51.100.7']",
        "[ipv4-addr:value IN ('198.51.100.7', '198.51.100.8')]",
        "[domain-name:value LIKE '%.example']",
        "([ipv4-addr:value = '198.51.100.7'])",
        "[file:hashes.MD5 = h'ab']",
        "[autonomous-system:number = 007]",
        "[x:y = 'a'OR x:y = 'b']",
    ],
)
def test_anything_else_goes_to_the_reference_parser(pattern: str) -> None:
    assert simple_comparisons(pattern) is None


@pytest.mark.parametrize(
    "pattern",
    [
        "[ipv4-addr:value = '198.51.100.7'",
        "ipv4-addr:value = '198.51.100.7'",
        "[ipv4-addr:value = 198.51.100.7]",
        "[ipv4-addr:value = ]",
        "",
    ],
)
def test_invalid_patterns_are_explained(pattern: str) -> None:
    assert simple_comparisons(pattern) is None
    problem = pattern_problem(pattern)
    assert problem is not None and problem


def test_paths_entente_has_no_type_for_are_not_indicators() -> None:
    assert type_of_path("network-traffic:dst_port", 443, None) is None
    assert type_of_path("file:hashes.SHA-512", "ab", None) is None
    assert type_of_path("file:hashes.sha256", "ab", None) is IndicatorType.SHA256
    assert type_of_path("ipv4-addr:value", "198.51.100.0/24", None) is IndicatorType.CIDR
