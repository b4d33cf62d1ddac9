"""Safe text inside Suricata and Snort rules: content strings, messages, references.

A rule is `action proto src sport dir dst dport (name:value; ...)`: a value that carried an
unescaped `;` would end its option and start another, a `"` would end its string, a `|`
would start hex bytes, and a line break would end the rule. Shared values come from other
organisations, so none reaches a rule as it is:

- a content string keeps only bytes that mean nothing to either parser (`_PLAIN`) and writes
  every other byte in hex between pipes (`|3B 22|`), which both engines read back as those
  bytes: the rule matches exactly the value, whatever it holds;
- a message (`msg`) has no hex form, so it keeps only `_PLAIN` characters and replaces the
  rest with `_` (it is read by people; the content carries the value exactly);
- a reference is built from the hub's own base URL and an event id, filtered the same way.
"""

from __future__ import annotations

import re
import string

# Characters with no meaning to the Suricata or Snort rule parsers inside a quoted string.
_PLAIN = frozenset(string.ascii_letters + string.digits + " ._-/:@=?&%+,~#!*'")
_PLAIN_BYTES = frozenset(ord(character) for character in _PLAIN)
_ALL_PLAIN = re.compile("[" + re.escape("".join(sorted(_PLAIN))) + "]*")
MAX_MESSAGE = 200


def content_string(value: str | bytes) -> str:
    """The quoted content string matching exactly the bytes of `value` (UTF-8)."""
    if isinstance(value, str) and _ALL_PLAIN.fullmatch(value):
        return f'"{value}"'  # the usual case (a name, an address), without a loop per byte
    raw = value.encode() if isinstance(value, str) else value
    parts: list[str] = []
    pending_hex: list[str] = []
    for byte in raw:
        if byte in _PLAIN_BYTES:
            if pending_hex:
                parts.append("|" + " ".join(pending_hex) + "|")
                pending_hex = []
            parts.append(chr(byte))
        else:
            pending_hex.append(f"{byte:02X}")
    if pending_hex:
        parts.append("|" + " ".join(pending_hex) + "|")
    return '"' + "".join(parts) + '"'


def message_text(text: str) -> str:
    """`text` reduced to characters safe in a quoted message, at most `MAX_MESSAGE` long."""
    safe = "".join(character if character in _PLAIN else "_" for character in text)
    return " ".join(safe.split())[:MAX_MESSAGE]


def reference_target(base_url: str, event_id: int) -> str:
    """The event's page for `reference:url,...` (engines prepend `http://` themselves)."""
    host_and_path = base_url.split("://", 1)[-1].rstrip("/")
    safe = "".join(c for c in host_and_path if c in _PLAIN and c not in " ,")
    return f"{safe}/events/{event_id}"


def dns_wire_name(name: str) -> str:
    """A domain name as the length-prefixed labels of a DNS query, all in hex: `|07|ex...`.

    Snort 2.9 has no DNS query buffer; rules match the name's wire form in the packet,
    which also matches it under any subdomain, never a longer label (`badexample.com`).
    """
    labels = [label.encode() for label in name.strip(".").split(".")]
    wire = b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"
    return '"|' + " ".join(f"{byte:02X}" for byte in wire) + '|"'


def rule_line(header: str, options: list[str]) -> str:
    """One rule: the header, then each option closed by `;`, in parentheses."""
    return header + " (" + " ".join(f"{option};" for option in options) + ")"


def sid_of(sid_base: int, indicator_id: int, slot: int) -> int:
    """A rule's id, stable across exports: rules per indicator get `SLOTS` ids of their own,
    so a tool's rule manager sees the same sid for the same indicator every time."""
    return sid_base + indicator_id * SLOTS + slot


SLOTS = 10
# Suricata and Snort keep sids as unsigned 32-bit integers.
MAX_SID = 2**32 - 1
