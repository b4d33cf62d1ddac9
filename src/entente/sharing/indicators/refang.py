"""Undo (and apply) the defanging analysts use so indicators in reports are not clickable.

Reports write `hxxps://evil[.]example[.]com` or `admin[at]evil(dot)com` so that nobody opens
them by accident. `refang` turns every common notation back into the real characters with two
regex passes; it never adds or removes a line break, so line numbers in a paste survive it.
"""

from __future__ import annotations

import re

# Each alternative starts with a plain character class, so the regex engine skips ordinary
# text quickly (a leading `\b` or optional padding makes it try every position).
_BRACKETED = re.compile(
    r"(?:[ \t]+(?P<padded>[\[\(\{][ \t]*(?:\.|dot|@|at)[ \t]*[\]\)\}])[ \t]*)"
    r"|(?P<bare>[\[\(\{][ \t]*(?:://|:|\.|dot|@|at|/)[ \t]*[\]\)\}])",
    re.IGNORECASE,
)
_SCHEME = re.compile(
    r"[hf](?<!\w[hf])(?:(?<=h)(?:xx|\*\*)|(?<=f)x)p(?=s?[\[\(\{]?:)", re.IGNORECASE
)
_MEANINGS = {".": ".", "dot": ".", "@": "@", "at": "@", ":": ":", "://": "://", "/": "/"}


def _bracketed_meaning(match: re.Match[str]) -> str:
    marker = match["padded"] or match["bare"]
    return _MEANINGS[marker[1:-1].strip(" \t").lower()]


def _scheme_meaning(match: re.Match[str]) -> str:
    return "http" if match.group()[0] in "hH" else "ftp"


def refang(text: str) -> str:
    """`text` with hxxp, fxp, [.], (dot), [:], [://], [@], [at] and kin turned back."""
    if "[" in text or "(" in text or "{" in text:  # substring tests are far cheaper than sub
        text = _BRACKETED.sub(_bracketed_meaning, text)
    lowered = text.lower()
    if "xx" in lowered or "**" in lowered or "fxp" in lowered:
        text = _SCHEME.sub(_scheme_meaning, text)
    return text


def defang(value: str) -> str:
    """One indicator value made safe to paste into a report: `hxxps://evil[.]com`, `a[@]b[.]c`."""
    defanged = re.sub(r"^(?i:http)(?=s?://)", "hxxp", value)
    defanged = re.sub(r"^(?i:ftp)(?=s?://)", "fxp", defanged)
    return defanged.replace(".", "[.]").replace("@", "[@]")
