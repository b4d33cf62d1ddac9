"""STIX patterns and cyber observables of Entente's indicator types, both ways.

Export: each type has a STIX pattern path (and, where STIX 2.1 has a core observable for
it, an SCO); see docs/stix.md for the table. Import: a pattern that is one equality or an
OR of equalities on those paths becomes typed indicators; anything else (AND, qualifiers,
other operators, paths Entente has no type for) is kept as a STIX object.

Recognising the simple patterns is a small hand-written scanner over a strict subset of the
STIX 2.1 pattern grammar (section 9): the reference parser (ANTLR, `stix2patterns`) takes
about a millisecond per pattern, which would dominate the import of a large indicator
bundle. Whatever the scanner does not accept goes to the reference parser, which decides
whether it is a valid complex pattern (kept) or an invalid one (rejected).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stix2patterns.validator import run_validator  # type: ignore[import-untyped]

from entente.interop.identifiers import observable_id
from entente.sharing.indicators import IndicatorType

# ---- export: Entente type -> pattern path and observable -------------------------------------


@dataclass(frozen=True, slots=True)
class StixForm:
    """Where a type's value sits in a pattern, and the core observable that carries it."""

    path: str
    sco: Callable[[str], dict[str, Any]] | None = None
    integer: bool = False


def _file_hash(algorithm: str) -> StixForm:
    # Section 10.7 names the hash keys; those with a hyphen are quoted in a path.
    key = f"'{algorithm}'" if "-" in algorithm else algorithm
    return StixForm(f"file:hashes.{key}", lambda value: {"file": {"hashes": {algorithm: value}}})


def _sco_of(sco_type: str, key: str) -> Callable[[str], dict[str, Any]]:
    return lambda value: {sco_type: {key: value}}


def _address_form(value: str) -> str:
    return "ipv6-addr" if ":" in value else "ipv4-addr"


# Types without an entry have no pattern: CVE becomes a vulnerability, OTHER a note.
STIX_FORMS: dict[IndicatorType, StixForm] = {
    IndicatorType.IPV4: StixForm("ipv4-addr:value", _sco_of("ipv4-addr", "value")),
    IndicatorType.IPV6: StixForm("ipv6-addr:value", _sco_of("ipv6-addr", "value")),
    IndicatorType.DOMAIN: StixForm("domain-name:value", _sco_of("domain-name", "value")),
    IndicatorType.HOSTNAME: StixForm("domain-name:value", _sco_of("domain-name", "value")),
    IndicatorType.URL: StixForm("url:value", _sco_of("url", "value")),
    IndicatorType.EMAIL_SRC: StixForm(
        "email-message:from_ref.value", _sco_of("email-addr", "value")
    ),
    IndicatorType.EMAIL_SUBJECT: StixForm(
        "email-message:subject", lambda value: {"email-message": {"subject": value}}
    ),
    IndicatorType.MD5: _file_hash("MD5"),
    IndicatorType.SHA1: _file_hash("SHA-1"),
    IndicatorType.SHA256: _file_hash("SHA-256"),
    IndicatorType.SSDEEP: _file_hash("SSDEEP"),
    IndicatorType.TLSH: _file_hash("TLSH"),
    IndicatorType.FILENAME: StixForm("file:name", _sco_of("file", "name")),
    IndicatorType.MUTEX: StixForm("mutex:name", _sco_of("mutex", "name")),
    IndicatorType.REGKEY: StixForm(
        "windows-registry-key:key", _sco_of("windows-registry-key", "key")
    ),
    IndicatorType.ASN: StixForm(
        "autonomous-system:number",
        lambda value: {"autonomous-system": {"number": asn_number(value)}},
        integer=True,
    ),
    # No core observable: OpenCTI's wallet type, and an x- type of Entente's for JA3.
    IndicatorType.BTC: StixForm("cryptocurrency-wallet:value"),
    IndicatorType.JA3: StixForm("x-entente-ja3:value"),
}


def asn_number(value: str) -> int:
    return int(value.removeprefix("AS"))


def stix_value(indicator_type: IndicatorType, value: str) -> str:
    """The value as STIX writes it: a TLSH digest without the `T1` version prefix, as
    section 10.7 defines TLSH (70 hexadecimal digits) and the validator checks."""
    if indicator_type is IndicatorType.TLSH and len(value) == 72 and value.startswith("T1"):
        return value[2:]
    return value


def stix_path(indicator_type: IndicatorType, value: str) -> str | None:
    """The pattern path of a canonical value, or None for a type without a pattern."""
    if indicator_type is IndicatorType.CIDR:
        return f"{_address_form(value)}:value"
    form = STIX_FORMS.get(indicator_type)
    return form.path if form else None


def indicator_pattern(indicator_type: IndicatorType, value: str) -> str | None:
    """`[path = 'value']` for a canonical value, or None for a type without a pattern."""
    path = stix_path(indicator_type, value)
    if path is None:
        return None
    if indicator_type is IndicatorType.ASN:
        return f"[{path} = {asn_number(value)}]"
    return f"[{path} = '{quote(stix_value(indicator_type, value))}']"


def observable(indicator_type: IndicatorType, value: str) -> dict[str, Any] | None:
    """The cyber observable (SCO) carrying a canonical value, with its deterministic id."""
    if indicator_type is IndicatorType.CIDR:
        sco_type, properties = _address_form(value), {"value": value}
    else:
        form = STIX_FORMS.get(indicator_type)
        if form is None or form.sco is None:
            return None
        ((sco_type, properties),) = form.sco(stix_value(indicator_type, value)).items()
    # Each of these types has exactly the one id-contributing property written here.
    sco: dict[str, Any] = {
        "type": sco_type,
        "spec_version": "2.1",
        "id": observable_id(sco_type, properties),
    }
    if sco_type == "email-message":
        sco["is_multipart"] = False  # required (section 6.5)
    sco.update(properties)
    return sco


def quote(value: str) -> str:
    """A STIX pattern string literal's body: backslash and quote escaped (section 9.2)."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


# ---- import: simple patterns -> (path, value) -------------------------------------------------

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_KEY = r"'[^'\\]*'"
_PATH = rf"[a-z][a-z0-9-]*:(?:{_IDENT}|{_KEY})(?:\.(?:{_IDENT}|{_KEY}))*"
_STRING = r"'(?:[^'\\]|\\['\\])*'"
_INTEGER = r"[-+]?(?:0|[1-9][0-9]*)"
_COMPARISON = re.compile(rf"\s*({_PATH})\s*=\s*({_STRING}|{_INTEGER})")
_OR_INSIDE = re.compile(r"\s+OR\s+")
_OR_BETWEEN = re.compile(r"\s*\]\s*OR\s*\[")
_CLOSE = re.compile(r"\s*\]\s*")
_ESCAPE = re.compile(r"\\(['\\])")

Comparison = tuple[str, str | int]


def simple_comparisons(pattern: str) -> list[Comparison] | None:
    """The `(path, value)` pairs of an OR of equalities, or None for any other pattern.

    Paths are normalised (quotes around keys dropped: `file:hashes.SHA-256`); string
    values are unescaped. Everything accepted here is valid in the full grammar; the values
    themselves are checked by Entente's types when they become indicators (a hash of the
    wrong length is refused there, as the reference parser refuses it).
    """
    text = pattern.strip()
    if not text.startswith("["):
        return None
    found: list[Comparison] = []
    position = 1
    while True:
        match = _COMPARISON.match(text, position)
        if match is None:
            return None
        found.append((_normal_path(match[1]), _literal(match[2])))
        position = match.end()
        for separator in (_OR_INSIDE, _OR_BETWEEN):
            step = separator.match(text, position)
            if step is not None:
                position = step.end()
                break
        else:
            close = _CLOSE.match(text, position)
            return found if close is not None and close.end() == len(text) else None


def _normal_path(path: str) -> str:
    return path.replace("'", "")


def _literal(token: str) -> str | int:
    if token.startswith("'"):
        return _ESCAPE.sub(r"\1", token[1:-1])
    return int(token)


def pattern_problem(pattern: str) -> str | None:
    """Why a pattern is not valid STIX 2.1 (the reference parser's first message), or None."""
    try:
        errors = run_validator(pattern, stix_version="2.1")
    except Exception as exc:  # the ANTLR runtime raises bare exceptions on some inputs
        return f"the pattern cannot be parsed: {exc}"
    if not errors:
        return None
    return str(errors[0]).removeprefix("FAIL: ")


# Normalised paths Entente reads, with the type each gives. A hash key is upper-cased
# first, since producers write `MD5` and `md5`, `SHA-256` and `SHA256`.
_TYPES_BY_PATH: dict[str, IndicatorType] = {
    "ipv4-addr:value": IndicatorType.IPV4,
    "ipv6-addr:value": IndicatorType.IPV6,
    "domain-name:value": IndicatorType.DOMAIN,
    "url:value": IndicatorType.URL,
    "email-addr:value": IndicatorType.EMAIL_SRC,
    "email-message:from_ref.value": IndicatorType.EMAIL_SRC,
    "email-message:sender_ref.value": IndicatorType.EMAIL_SRC,
    "email-message:subject": IndicatorType.EMAIL_SUBJECT,
    "file:hashes.MD5": IndicatorType.MD5,
    "file:hashes.SHA-1": IndicatorType.SHA1,
    "file:hashes.SHA1": IndicatorType.SHA1,
    "file:hashes.SHA-256": IndicatorType.SHA256,
    "file:hashes.SHA256": IndicatorType.SHA256,
    "file:hashes.SSDEEP": IndicatorType.SSDEEP,
    "file:hashes.TLSH": IndicatorType.TLSH,
    "file:name": IndicatorType.FILENAME,
    "mutex:name": IndicatorType.MUTEX,
    "windows-registry-key:key": IndicatorType.REGKEY,
    "autonomous-system:number": IndicatorType.ASN,
    "cryptocurrency-wallet:value": IndicatorType.BTC,
    "x-entente-ja3:value": IndicatorType.JA3,
}
# Paths whose values are not all of Entente's type (a wallet of another currency): a value
# that does not fit keeps the object as STIX instead of rejecting it.
BEST_EFFORT_PATHS = frozenset({"cryptocurrency-wallet:value"})
# Types the pattern cannot tell apart; the exporter's `entente:type` label decides.
_SAME_PATH = {
    IndicatorType.DOMAIN: frozenset({IndicatorType.DOMAIN, IndicatorType.HOSTNAME}),
    IndicatorType.IPV4: frozenset({IndicatorType.IPV4, IndicatorType.CIDR}),
    IndicatorType.IPV6: frozenset({IndicatorType.IPV6, IndicatorType.CIDR}),
}


def type_of_path(path: str, value: str | int, hint: IndicatorType | None) -> IndicatorType | None:
    """The Entente type of a compared path, or None if Entente has none for it."""
    head, _, key = path.rpartition(".")
    if head == "file:hashes":
        path = f"{head}.{key.upper()}"
    indicator_type = _TYPES_BY_PATH.get(path)
    if indicator_type is None:
        return None
    if hint is not None and hint in _SAME_PATH.get(indicator_type, frozenset()):
        return hint
    if indicator_type in (IndicatorType.IPV4, IndicatorType.IPV6) and "/" in str(value):
        # Section 6.4 lets an address object hold a network; even a /32 stays a CIDR.
        return IndicatorType.CIDR
    return indicator_type
