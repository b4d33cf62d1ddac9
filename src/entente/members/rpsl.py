"""Reading RPSL objects (RFC 2622) as the RIPE database and whois servers print them.

An object is a block of `attribute: value` lines ended by a blank line; a line starting with
a space, a tab or `+` continues the previous value; `%` and `#` lines are comments, and `#`
starts a comment at the end of a value. A line that is none of these is reported with its
number and skipped, so one damaged line costs one attribute, not the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ATTRIBUTE = re.compile(r"([A-Za-z0-9][A-Za-z0-9_-]*):(.*)")
_CONTINUATION = (" ", "\t", "+")
_COMMENT = ("%", "#")


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    value: str
    line: int


@dataclass(slots=True)
class RpslObject:
    """One object; its class is the name of its first attribute, its key that value."""

    attributes: list[Attribute] = field(default_factory=list)

    @property
    def object_class(self) -> str:
        return self.attributes[0].name

    @property
    def key(self) -> str:
        return self.attributes[0].value

    @property
    def line(self) -> int:
        return self.attributes[0].line

    def first(self, name: str) -> str | None:
        """The first non-empty value of attribute `name`, if the object has one."""
        return next((a.value for a in self.attributes if a.name == name and a.value), None)


@dataclass(frozen=True, slots=True)
class UnreadableLine:
    line: int
    text: str


def read_rpsl(text: str) -> tuple[list[RpslObject], list[UnreadableLine]]:
    """The objects of `text`, in order, and the lines that could not be read."""
    objects: list[RpslObject] = []
    unreadable: list[UnreadableLine] = []
    current = RpslObject()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            if current.attributes:
                objects.append(current)
            current = RpslObject()
        elif line.startswith(_COMMENT):
            continue
        elif line.startswith(_CONTINUATION):
            if not current.attributes:
                unreadable.append(UnreadableLine(number, line))
                continue
            last = current.attributes[-1]
            more = _without_comment(line.removeprefix("+"))
            joined = f"{last.value} {more}".strip()
            current.attributes[-1] = Attribute(last.name, joined, last.line)
        elif match := _ATTRIBUTE.fullmatch(line):
            value = _without_comment(match[2])
            current.attributes.append(Attribute(match[1].lower(), value, number))
        else:
            unreadable.append(UnreadableLine(number, line))
    if current.attributes:
        objects.append(current)
    return objects, unreadable


def _without_comment(value: str) -> str:
    return value.split("#", 1)[0].strip()
