"""STIX patterns reduced to the observable values they name, with `stix2patterns`' parser.

A pattern reduces when it is a disjunction of observations, each a conjunction of equality
comparisons on one object: `[ipv4-addr:value = '192.0.2.1']`, `[url:value = 'a' OR
url:value = 'b']`, `[file:hashes.MD5 = 'x' AND file:name = 'y.exe']`. OR, parentheses and
`IN ('a', 'b')` (one value per row) are read at both levels; ISSUBSET is kept as such
(`ipv4-addr:value ISSUBSET '198.51.100.0/24'` names a network). `reduce_pattern` gives
one `Observation` (a conjunction) per row, or raises `Unreducible` saying why not:

- an AND or FOLLOWEDBY between observations (`[a] AND [b]`): two objects at once;
- an AND of comparisons on different object types;
- a temporal qualifier (WITHIN, START ... STOP, REPEATS): a condition in time, not a value;
- an operator that matches a range or a shape (`!=`, `<`, LIKE, MATCHES, ISSUPERSET,
  EXISTS, NOT): no single value to report;
- a pattern the grammar refuses.

Why templates: the ANTLR parser costs half a millisecond per pattern, minutes for a bundle
of hundreds of thousands of indicators; but such bundles repeat a few shapes with different
values. Each plain string literal is cut out (a lexical step over the quotes, not parsing)
and replaced by its index, so `[ipv4-addr:value = '192.0.2.1']` and
`[ipv4-addr:value = '192.0.2.2']` share one template, parsed once (cached); the values are
put back into the reduced structure. A pattern whose quotes cannot be cut cleanly (an
invalid escape, an unclosed quote) is parsed as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from stix2patterns.exceptions import ParseException  # type: ignore[import-untyped]
from stix2patterns.v20.grammars.STIXPatternVisitor import (  # type: ignore[import-untyped]
    STIXPatternVisitor as Visitor20,
)
from stix2patterns.v20.pattern import Pattern as Pattern20  # type: ignore[import-untyped]
from stix2patterns.v21.grammars.STIXPatternVisitor import (  # type: ignore[import-untyped]
    STIXPatternVisitor as Visitor21,
)
from stix2patterns.v21.pattern import Pattern as Pattern21  # type: ignore[import-untyped]

MAX_ROWS = 1000
"""The most rows one pattern may give (distributing AND over OR multiplies them)."""

_LITERALS = re.compile(r"(?P<prefixed>(?<![\w-])[bht]'(?:[^'\\]|\\['\\])*')|'(?:[^'\\]|\\['\\])*'")
"""STIX string literals as the grammar defines them (only \\' and \\\\ are escapes);
binary, hex and timestamp literals (b'...', h'...', t'...') are matched whole so their
quotes are not mistaken for a string's."""
_QUALIFIERS = {
    "ObservationExpressionWithinContext": "WITHIN",
    "ObservationExpressionStartStopContext": "START ... STOP",
    "ObservationExpressionRepeatedContext": "REPEATS",
}
_VAGUE_OPERATORS = {
    "PropTestOrderContext": "an ordering comparison (<, >, <=, >=)",
    "PropTestLikeContext": "LIKE",
    "PropTestRegexContext": "MATCHES",
    "PropTestIsSupersetContext": "ISSUPERSET",
    "PropTestExistsContext": "EXISTS",
}

Part = str | int
"""A path step or value: text, or (in a template) the index of a cut-out string literal."""


class Unreducible(Exception):
    """The pattern names no value a row could carry; the message says why."""


@dataclass(frozen=True, slots=True)
class Comparison:
    """`object_type:path operator value`, with `operator` `=` or `ISSUBSET`."""

    object_type: str
    path: tuple[str, ...]
    operator: str
    value: str


Observation = tuple[Comparison, ...]
"""Comparisons that must all hold of one object: one row."""


@dataclass(frozen=True, slots=True)
class _Shape:
    object_type: str
    path: tuple[Part, ...]
    operator: str
    value: Part


_Reduced = tuple[tuple[_Shape, ...], ...] | str
"""A reduced pattern's shapes, or why it does not reduce (cached either way)."""


def reduce_pattern(pattern: str, version: str = "2.1") -> tuple[Observation, ...]:
    """The observations the pattern is a disjunction of (see the module docstring)."""
    literals, template = _cut_literals(pattern)
    if template is not None:
        shapes = _reduced(template, version, True)
        if not (isinstance(shapes, str) and shapes.startswith(_INVALID)):
            return _filled(shapes, literals)
    return _filled(_reduced(pattern, version, False), [])


def _cut_literals(pattern: str) -> tuple[list[str], str | None]:
    """The string literals' values and the pattern with each replaced by its index; None
    for the template when a quote is left outside every literal."""
    literals: list[str] = []
    quotes = 0

    def cut(match: re.Match[str]) -> str:
        nonlocal quotes
        quotes += match[0].count("'")
        if match["prefixed"]:
            return match[0]
        literals.append(match[0][1:-1].replace("\\'", "'").replace("\\\\", "\\"))
        return f"'{len(literals) - 1}'"

    template = _LITERALS.sub(cut, pattern)
    return literals, template if quotes == pattern.count("'") else None


_INVALID = "invalid STIX pattern: "


@lru_cache(maxsize=4096)
def _reduced(text: str, version: str, template: bool) -> _Reduced:
    """The reduced structure of a pattern (or template), or why it does not reduce."""
    try:
        tree = _parse_tree(text, version)
        return tuple(_check_one_object(found) for found in _Reducer(template).pattern(tree))
    except ParseException as exc:
        return _INVALID + str(exc)
    except Unreducible as exc:
        return str(exc)


def _filled(shapes: _Reduced, literals: list[str]) -> tuple[Observation, ...]:
    if isinstance(shapes, str):
        raise Unreducible(shapes)

    def value(part: Part) -> str:
        return literals[part] if isinstance(part, int) else part

    return tuple(
        tuple(
            Comparison(
                shape.object_type,
                tuple(value(step) for step in shape.path),
                shape.operator,
                value(shape.value),
            )
            for shape in observation
        )
        for observation in shapes
    )


def _parse_tree(text: str, version: str) -> Any:
    """The ANTLR parse tree of `text` in the STIX `version` grammar (2.0 or 2.1)."""
    pattern, visitor = (Pattern20, Visitor20) if version == "2.0" else (Pattern21, Visitor21)
    grab = type("TreeGrab", (visitor,), {"visitPattern": lambda self, ctx: ctx})
    return pattern(text).visit(grab())


def _check_one_object(observation: tuple[_Shape, ...]) -> tuple[_Shape, ...]:
    types = sorted({shape.object_type for shape in observation})
    if len(types) > 1:
        raise Unreducible(f"AND of different objects ({' and '.join(types)}): no one value")
    return observation


class _Reducer:
    """Walks a parse tree into a disjunction of conjunctions (lists of `_Shape`)."""

    def __init__(self, template: bool) -> None:
        self.template = template

    def pattern(self, ctx: Any) -> list[tuple[_Shape, ...]]:
        return self.observations(ctx.observationExpressions())

    def observations(self, ctx: Any) -> list[tuple[_Shape, ...]]:
        if ctx.FOLLOWEDBY():
            raise Unreducible("FOLLOWEDBY: a sequence of observations, not one value")
        if ctx.observationExpressionOr() is None:
            return self.observations(ctx.observationExpressions(0))
        return self.observation_or(ctx.observationExpressionOr())

    def observation_or(self, ctx: Any) -> list[tuple[_Shape, ...]]:
        if ctx.OR():
            left = self.observation_or(ctx.observationExpressionOr(0))
            return _bounded(left + self.observation_or(ctx.observationExpressionOr(1)))
        if ctx.observationExpressionAnd() is None:
            return self.observation_or(ctx.observationExpressionOr(0))
        return self.observation_and(ctx.observationExpressionAnd())

    def observation_and(self, ctx: Any) -> list[tuple[_Shape, ...]]:
        if ctx.AND():
            raise Unreducible("AND of different objects ([...] AND [...]): no one value")
        if ctx.observationExpression() is None:
            return self.observation_and(ctx.observationExpressionAnd(0))
        return self.observation(ctx.observationExpression())

    def observation(self, ctx: Any) -> list[tuple[_Shape, ...]]:
        kind = type(ctx).__name__
        if kind in _QUALIFIERS:
            raise Unreducible(
                f"temporal qualifier {_QUALIFIERS[kind]}: a condition in time, not a value"
            )
        if kind == "ObservationExpressionCompoundContext":
            return self.observations(ctx.observationExpressions())
        return self.comparison(ctx.comparisonExpression())

    def comparison(self, ctx: Any) -> list[tuple[_Shape, ...]]:
        if ctx.OR():
            left = self.comparison(ctx.comparisonExpression(0))
            return _bounded(left + self.comparison(ctx.comparisonExpression(1)))
        if ctx.comparisonExpressionAnd() is None:
            return self.comparison(ctx.comparisonExpression(0))
        return self.comparison_and(ctx.comparisonExpressionAnd())

    def comparison_and(self, ctx: Any) -> list[tuple[_Shape, ...]]:
        if ctx.AND():
            left = self.comparison_and(ctx.comparisonExpressionAnd(0))
            right = self.comparison_and(ctx.comparisonExpressionAnd(1))
            return _bounded([one + other for one in left for other in right])
        if ctx.propTest() is None:
            return self.comparison_and(ctx.comparisonExpressionAnd(0))
        return self.prop_test(ctx.propTest())

    def prop_test(self, ctx: Any) -> list[tuple[_Shape, ...]]:
        kind = type(ctx).__name__
        if kind == "PropTestParenContext":
            return self.comparison(ctx.comparisonExpression())
        if kind in _VAGUE_OPERATORS:
            raise Unreducible(f"operator {_VAGUE_OPERATORS[kind]}: matches many values")
        if getattr(ctx, "NOT", None) is not None and ctx.NOT():
            raise Unreducible("operator NOT: matches many values")
        object_type, path = self.path(ctx.objectPath())
        if kind == "PropTestEqualContext":
            if ctx.NEQ():
                raise Unreducible("operator !=: matches many values")
            value = self.literal(ctx.primitiveLiteral())
            return [(_Shape(object_type, path, "=", value),)]
        if kind == "PropTestSetContext":
            values = [self.literal(item) for item in ctx.setLiteral().primitiveLiteral()]
            return _bounded([(_Shape(object_type, path, "=", value),) for value in values])
        if kind == "PropTestIsSubsetContext":
            value = self.string(ctx.StringLiteral().getText())
            return [(_Shape(object_type, path, "ISSUBSET", value),)]
        raise Unreducible(f"comparison {ctx.getText()!r} is not read")

    def path(self, ctx: Any) -> tuple[str, tuple[Part, ...]]:
        """The object type and the path's steps (`hashes`, `SHA-256`; `[*]` for an index)."""
        steps: list[Part] = []
        for token in _terminals(ctx.firstPathComponent()) + _terminals(ctx.objectPathComponent()):
            if token in (".", "]"):
                continue
            if token == "[":
                steps.append("[")
            elif steps and steps[-1] == "[":
                steps[-1] = f"[{token}]"
            else:
                steps.append(self.string(token) if token.startswith("'") else token)
        return ctx.objectType().getText(), tuple(steps)

    def literal(self, ctx: Any) -> Part:
        text = ctx.getText()
        return self.string(text) if text.startswith("'") else text

    def string(self, token: str) -> Part:
        content = token[1:-1]
        if self.template:
            return int(content)
        return content.replace("\\'", "'").replace("\\\\", "\\")


def _terminals(ctx: Any) -> list[str]:
    """The texts of a subtree's tokens, in order (none for a missing subtree)."""
    if ctx is None:
        return []
    if not hasattr(ctx, "getChildCount") or not ctx.getChildCount():
        return [ctx.getText()]
    found: list[str] = []
    for index in range(ctx.getChildCount()):
        child = ctx.getChild(index)
        found.extend(_terminals(child) if hasattr(child, "getChildCount") else [child.getText()])
    return found


def _bounded(found: list[tuple[_Shape, ...]]) -> list[tuple[_Shape, ...]]:
    if len(found) > MAX_ROWS:
        raise Unreducible(f"the pattern names more than {MAX_ROWS} values")
    return found
