"""Plain lists: each selected value once, one a line, for firewalls and block lists.

What a firewall or proxy reads (an address list, a domain list) is chosen with the type
filter (`?type=ipv4&type=cidr`). A value holding a line break (possible only in free-text
types) would read as two entries, so it is left out: the list holds values and nothing
else (no header, no comment), as such tools expect.
"""

from __future__ import annotations

from collections.abc import Iterator

from entente.interop.exports.selection import Selection, distinct_values

_LINE_BREAKS = frozenset("\r\n\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def text_list(selection: Selection) -> Iterator[str]:
    """Distinct values, ordered, one per line."""
    for _type, value in distinct_values(selection):
        if _LINE_BREAKS.isdisjoint(value):
            yield value + "\n"
