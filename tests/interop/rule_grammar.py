"""A strict reader of Suricata and Snort rules, written from their rule grammars, for tests.

`suricata` and `snort` are not installed here, so exported rules are checked against the
grammar of https://docs.suricata.io/en/latest/rules/intro.html (and Snort's manual): a
header of seven fields, then `(`, options each closed by an unescaped `;`, and `)`. On top
of the grammar it refuses what an engine would refuse or silently misread: an unknown
keyword, a content string with a bare `"`, `;`, `\\` or an unbalanced or non-hex `|` group,
a content modifier with no content before it, a sticky buffer of another protocol, a
missing or repeated msg/sid/rev, a sid used twice in one file.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

ACTIONS = frozenset({"alert", "pass", "drop", "reject"})
DIRECTIONS = frozenset({"->", "<>"})
_VARIABLE = re.compile(r"\$[A-Z_]+")
_PORT = re.compile(r"any|\d{1,5}|\$[A-Z_]+")
_HEX_GROUP = re.compile(r"[0-9A-Fa-f]{2}( [0-9A-Fa-f]{2})*")

# keyword -> the protocols whose rules may use it (None: any rule).
SURICATA_BUFFERS = {
    "dns.query": {"dns"},
    "tls.sni": {"tls"},
    "ja3.hash": {"tls"},
    "http.host": {"http"},
    "http.uri": {"http"},
}
SURICATA_MODIFIERS = frozenset({"nocase", "bsize", "endswith", "startswith"})
SURICATA_TRANSFORMS = frozenset({"dotprefix"})
COMMON = frozenset({"msg", "reference", "classtype", "sid", "rev", "flow", "content"})
SURICATA_KEYWORDS = (
    COMMON | SURICATA_MODIFIERS | SURICATA_TRANSFORMS | set(SURICATA_BUFFERS) | {"metadata"}
)
SNORT2_KEYWORDS = COMMON | {"nocase", "http_header", "http_uri"}
SNORT3_KEYWORDS = COMMON | {"http_header", "http_uri"}


class RuleError(ValueError):
    pass


@dataclass
class Rule:
    action: str
    protocol: str
    source: str
    source_port: str
    direction: str
    destination: str
    destination_port: str
    options: list[tuple[str, str | None]] = field(default_factory=list)

    def values(self, keyword: str) -> list[str]:
        return [value or "" for name, value in self.options if name == keyword]

    def one(self, keyword: str) -> str:
        found = self.values(keyword)
        if len(found) != 1:
            raise RuleError(f"{keyword} appears {len(found)} times")
        return found[0]

    @property
    def sid(self) -> int:
        return int(self.one("sid"))

    @property
    def message(self) -> str:
        return unquote(self.one("msg"))

    def contents(self) -> list[bytes]:
        """The content strings of the rule, decoded to the bytes they match."""
        return [decode_content(value.removesuffix(",nocase")) for value in self.values("content")]


def parse_rules(text: str, dialect: str = "suricata") -> list[Rule]:
    """Every rule of a rules file (comments and blank lines skipped); sids unique."""
    rules = [
        parse_rule(line, dialect)
        for line in text.split("\n")
        if line.strip() and not line.startswith("#")
    ]
    sids = [rule.sid for rule in rules]
    if len(sids) != len(set(sids)):
        raise RuleError("a sid is used twice")
    return rules


def parse_rule(line: str, dialect: str = "suricata") -> Rule:
    """One rule, checked strictly; RuleError says what is wrong."""
    if "\r" in line or "\n" in line:
        raise RuleError("a line break inside a rule")
    head, paren, rest = line.partition(" (")
    if not paren or not rest.endswith(")"):
        raise RuleError(f"no option list: {line!r}")
    fields = head.split(" ")
    if len(fields) != 7:
        raise RuleError(f"the header has {len(fields)} fields, not 7: {head!r}")
    action, protocol, source, source_port, direction, destination, destination_port = fields
    rule = Rule(action, protocol, source, source_port, direction, destination, destination_port)
    _check_header(rule)
    rule.options = _options(rest[:-1])
    _check_options(rule, dialect)
    return rule


def _check_header(rule: Rule) -> None:
    if rule.action not in ACTIONS:
        raise RuleError(f"unknown action {rule.action!r}")
    if rule.direction not in DIRECTIONS:
        raise RuleError(f"unknown direction {rule.direction!r}")
    for address in (rule.source, rule.destination):
        if address != "any" and not _VARIABLE.fullmatch(address):
            ipaddress.ip_network(address)  # raises ValueError for anything else
    for port in (rule.source_port, rule.destination_port):
        if not _PORT.fullmatch(port):
            raise RuleError(f"bad port {port!r}")


def _options(body: str) -> list[tuple[str, str | None]]:
    """Split `name:value; name; ...`: a `;` ends an option unless escaped or quoted."""
    options: list[tuple[str, str | None]] = []
    position = 0
    while position < len(body):
        if body[position] == " ":
            position += 1
            continue
        end = _option_end(body, position)
        text = body[position:end]
        name, colon, value = text.partition(":")
        if not re.fullmatch(r"[a-z][a-z0-9._]*", name):
            raise RuleError(f"bad keyword {name!r}")
        options.append((name, value if colon else None))
        position = end + 1
    return options


def _option_end(body: str, start: int) -> int:
    quoted = False
    position = start
    while position < len(body):
        character = body[position]
        if character == "\\":
            position += 2
            continue
        if character == '"':
            quoted = not quoted
        elif character == ";" and not quoted:
            return position
        position += 1
    raise RuleError(f"an option is not closed by ';': {body[start:]!r}")


# Per dialect: content modifiers (after a content) and sticky buffers (before one).
MODIFIERS = {
    "suricata": SURICATA_MODIFIERS,
    "snort-2.9": frozenset({"nocase", "http_header", "http_uri"}),
    "snort-3": frozenset(),
}
STICKY = {
    "suricata": frozenset(SURICATA_BUFFERS) | SURICATA_TRANSFORMS,
    "snort-2.9": frozenset(),
    "snort-3": frozenset({"http_header", "http_uri"}),
}
KEYWORDS = {"suricata": SURICATA_KEYWORDS, "snort-2.9": SNORT2_KEYWORDS, "snort-3": SNORT3_KEYWORDS}


def _check_options(rule: Rule, dialect: str) -> None:
    after_content = False
    names = [name for name, _ in rule.options]
    for position, (name, value) in enumerate(rule.options):
        if name not in KEYWORDS[dialect]:
            raise RuleError(f"{dialect} has no keyword {name!r}")
        allowed = SURICATA_BUFFERS.get(name) if dialect == "suricata" else None
        if allowed is not None and rule.protocol not in allowed:
            raise RuleError(f"{name} in a {rule.protocol} rule")
        if name in MODIFIERS[dialect] and not after_content:
            raise RuleError(f"{name} with no content before it")
        if name in STICKY[dialect] and names[position + 1 : position + 2] not in (
            ["content"],
            ["dotprefix"],
        ):
            raise RuleError(f"{name} not followed by a content")
        if name == "content":
            content = value or ""
            decode_content(content.removesuffix(",nocase") if dialect == "snort-3" else content)
        if name == "msg":
            unquote(value or "")
        if name in {"sid", "rev"} and not (value or "").isdigit():
            raise RuleError(f"{name} is not a number: {value!r}")
        if name == "http_header" and dialect == "snort-3" and value != "field host":
            raise RuleError(f"http_header:{value}")
        after_content = name == "content" or (after_content and name in MODIFIERS[dialect])
    for required in ("msg", "sid", "rev"):
        rule.one(required)
    if rule.sid >= 2**32:
        raise RuleError("sid over 32 bits")


def unquote(value: str) -> str:
    """A quoted string's text; refuses bare quotes and semicolons inside."""
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        raise RuleError(f"not a quoted string: {value!r}")
    inner = value[1:-1]
    text: list[str] = []
    position = 0
    while position < len(inner):
        character = inner[position]
        if character == "\\":
            if position + 1 >= len(inner) or inner[position + 1] not in '\\";':
                raise RuleError(f"bad escape in {value!r}")
            text.append(inner[position + 1])
            position += 2
            continue
        if character in '";':
            raise RuleError(f"bare {character!r} inside {value!r}")
        text.append(character)
        position += 1
    return "".join(text)


def decode_content(value: str) -> bytes:
    """The bytes a content string matches: plain characters, and hex between pipes."""
    text = unquote(value)
    if text.count("|") % 2:
        raise RuleError(f"unbalanced '|' in {value!r}")
    decoded = bytearray()
    for index, part in enumerate(text.split("|")):
        if index % 2:
            if not _HEX_GROUP.fullmatch(part):
                raise RuleError(f"not hex bytes between pipes: {part!r}")
            decoded.extend(bytes.fromhex(part))
        else:
            decoded.extend(part.encode())
    return bytes(decoded)
