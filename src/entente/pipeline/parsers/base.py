"""The parser seam: a feed file in, pipeline batches out; and the registry of parsers.

Contract of a `Parser` (every implementation here keeps it, and a new one must):

- `parse(path, options)` yields `StageOutput`s lazily, one per block of the file: the
  file is never loaded whole, so a 10-million-row file parses in the memory of a few
  blocks. Iterate to the end (or close the generator) to release the file.
- `kept` is a polars DataFrame whose columns are vocabulary fields (`source.ip`, ...),
  `extra.<name>` for source columns the parser does not map (nothing is silently
  dropped), and the bookkeeping columns `_file` (the path, String) and `_line` (Int64,
  the 1-based line of the row in the file). All field columns are text (String): typing
  and validation are the normaliser's job, so a junk value is kept, not dropped.
  Every batch of one file has the same columns.
- `quarantined` has exactly `QUARANTINE_SCHEMA`: rows that could not be split into
  fields (wrong number of fields, cut-short last line, unclosed quote, overlong line,
  carriage return inside a line), with `_raw` = the raw line and `_reason` saying why.
  A bad row never stops the file; the other rows of its block are kept.
- Blank lines and comment lines are not data: neither kept nor quarantined. Every other
  line after the header is either kept or quarantined, exactly once.
- A file that cannot be read as the format at all raises `ParseError` naming the file
  and, where known, the line and column (missing required column, duplicate header name,
  UTF-16 file, undetectable report). An empty file yields nothing.
- `options` are the parser's settings (a mapping from the feed's configuration); an
  option the parser does not know is refused with `BadValue(field="options.<name>")`.

Example::

    for output in parser("shadowserver").parse(Path("2026-11-20-scan_http-nl.csv"), {}):
        store(output.kept); quarantine(output.quarantined)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from entente.core.errors import BadValue
from entente.pipeline.batches import StageOutput

ParserOptions = Mapping[str, object]


class Parser(Protocol):
    """A feed format's reader; see the module docstring for the contract."""

    @property
    def name(self) -> str:
        """The name the registry and feed configurations know the parser by."""
        ...

    def parse(self, path: Path, options: ParserOptions) -> Iterator[StageOutput]:
        """The file's batches; see the module docstring for the contract."""
        ...


@dataclass(frozen=True, slots=True)
class InMemoryParser:
    """A parser that yields outputs given up front: for tests of the stages after parsing."""

    name: str
    outputs: Sequence[StageOutput]

    def parse(self, path: Path, options: ParserOptions) -> Iterator[StageOutput]:
        yield from self.outputs


def check_options(options: ParserOptions, known: frozenset[str]) -> None:
    """Refuse an option the parser does not read, naming it and the known ones."""
    for name in options:
        if name not in known:
            allowed = ", ".join(sorted(known)) or "none"
            raise BadValue(
                f"unknown parser option {name!r}; this parser reads: {allowed}",
                field=f"options.{name}",
                value=name,
            )


def string_option(options: ParserOptions, name: str) -> str | None:
    """An option that must be text when given."""
    value = options.get(name)
    if value is None or isinstance(value, str):
        return value
    raise BadValue(f"option {name!r} must be text", field=f"options.{name}", value=value)


def mapping_option(options: ParserOptions, name: str) -> dict[str, str]:
    """An option that must map text to text when given (empty when not)."""
    value = options.get(name)
    if value is None:
        return {}
    if isinstance(value, Mapping) and all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    ):
        return dict(value)
    raise BadValue(f"option {name!r} must map names to text", field=f"options.{name}", value=value)


def parsers() -> Mapping[str, Parser]:
    """Every parser by name."""
    # Imported here: the parser modules import this one for the Protocol and helpers.
    from entente.pipeline.parsers import (
        abusech,
        generic_csv,
        lists,
        misp_feed,
        shadowserver,
        spamhaus,
        stix,
    )

    found: list[Parser] = [
        shadowserver.ShadowserverParser(),
        *abusech.PARSERS,
        spamhaus.SpamhausDropParser(),
        lists.ListParser(),
        generic_csv.GenericCsvParser(),
        stix.StixParser(),
        misp_feed.MispFeedParser(),
    ]
    return {parser.name: parser for parser in found}


def parser(name: str) -> Parser:
    """The parser called `name`; `BadValue(field="parser")` names the known ones."""
    known = parsers()
    found = known.get(name)
    if found is None:
        raise BadValue(
            f"unknown parser {name!r}; known parsers: {', '.join(sorted(known))}",
            field="parser",
            value=name,
        )
    return found
