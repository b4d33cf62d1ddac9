"""Words threat-intelligence formats classify with, as RSIT classification types.

STIX indicators carry `indicator_types` (the indicator-type vocabulary) and free `labels`;
MISP events and attributes carry tags such as `rsit:fraud="phishing"` or the older
`ecsirt:malicious-code="c&c"`. The parsers read those words, in order, and the first one
known here (or an RSIT type or alias named as is) sets `classification.type`; the
taxonomy follows from the type; a word that says only `undetermined` or `other` gives way to
a more specific one later in the list. No known word: `other` / `undetermined`. The table is
printed in docs/feeds.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from types import MappingProxyType

from entente.vocabulary.fields import classification_type_aliases, classification_types

DEFAULT = ("other", "undetermined")
"""Taxonomy and type of a row whose words name no RSIT type."""

WORDS = MappingProxyType(
    {
        # STIX 2.1 indicator-type-ov
        "malicious-activity": "undetermined",
        "anomalous-activity": "undetermined",
        "attribution": "undetermined",
        "anonymization": "undetermined",
        "benign": "other",
        "compromised": "system-compromise",
        # labels and eCSIRT tag values seen in STIX and MISP exports
        "c2": "c2-server",
        "cc": "c2-server",
        "command-and-control": "c2-server",
        "botnet-cc": "c2-server",
        "botnet_cc": "c2-server",
        "payload-delivery": "malware-distribution",
        "payload_delivery": "malware-distribution",
        "malware-download": "malware-distribution",
        "botnet-drone": "infected-system",
        "bot": "infected-system",
        "scanning": "scanner",
        "scan": "scanner",
        "exploitation": "exploit",
        "vulnerable-service": "vulnerable-system",
        "dropzone": "data-leak",
        "blacklist": "undetermined",
        "blocklist": "undetermined",
    }
)
"""Words that are not RSIT type names themselves, and the type each stands for."""

VAGUE = frozenset({"undetermined", "other"})
"""Types a more specific word later in the list overrides (`malicious-activity` says less
than a `c2` label beside it)."""

TAG_NAMESPACES = ("rsit", "ecsirt")
"""MISP machine-tag namespaces whose value is a classification word."""


@cache
def _known() -> dict[str, tuple[str, str]]:
    """Every word read, lower-case, with its (taxonomy, type)."""
    types = classification_types()
    words = {name: name for name in types}
    words.update(classification_type_aliases())
    words.update(WORDS)
    return {word: (types[found], found) for word, found in words.items()}


def classification(words: Iterable[str]) -> tuple[str, str] | None:
    """(taxonomy, type) of the first word that names a specific RSIT type (case-insensitive),
    else of the first that names `undetermined` or `other`, else None."""
    known = _known()
    vague: tuple[str, str] | None = None
    for word in words:
        found = known.get(word.strip().lower())
        if found is not None and found[1] not in VAGUE:
            return found
        vague = vague or found
    return vague


def tag_word(tag: str) -> str | None:
    """The classification word of a MISP machine tag (`rsit:fraud="phishing"` -> phishing)
    in one of `TAG_NAMESPACES`; None for any other tag."""
    namespace, _, rest = tag.partition(":")
    if namespace.strip().lower() not in TAG_NAMESPACES or "=" not in rest:
        return None
    return rest.partition("=")[2].strip().strip('"').strip()
