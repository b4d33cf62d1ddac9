"""Shadowserver CSV reports: find the report type, then run its declared mapping.

Which report a file is, in this order:

1. `options["report"]`, when given (a report type such as `scan_http`);
2. the file name, as Shadowserver names its files: an optional `YYYY-MM-DD-` date, the
   report type, then optional `-`-separated parts (`2026-11-20-scan_http-nl-geo.csv`,
   `scan_dns.csv`);
3. the header: among the reports whose required columns it has, the one whose published
   columns match it best (shared columns, less those of the report it lacks; more shared
   than lacking). No such report, or a tie, is a `ParseError`: name the report.

The tables themselves live in `shadowserver_reports`; docs/feeds.md is rendered from them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from entente.core.errors import BadValue, ParseError
from entente.pipeline.batches import StageOutput
from entente.pipeline.parsers.base import ParserOptions, check_options, string_option
from entente.pipeline.parsers.csv_reading import CsvLayout, CsvReader
from entente.pipeline.parsers.mapping import FeedSpec, map_batches
from entente.pipeline.parsers.shadowserver_reports import REPORTS
from entente.pipeline.parsers.source_lines import TextLayout

FILE_NAME = re.compile(r"^(?:\d{4}-\d{2}-\d{2}-)?(?P<report>\w+?)(?:-[\w.]+)*\.csv$", re.ASCII)
"""Shadowserver's file names; `report` is the report type."""

LAYOUT = CsvLayout(TextLayout())


class ShadowserverParser:
    """Shadowserver's CSV reports (see the module docstring for report detection)."""

    name = "shadowserver"
    options = frozenset({"report"})

    def parse(self, path: Path, options: ParserOptions) -> Iterator[StageOutput]:
        check_options(options, self.options)
        named = string_option(options, "report")
        with CsvReader(path, LAYOUT) as reader:
            if reader.is_empty:
                return
            spec = report_for(path.name, reader.columns, named)
            if spec is None:
                raise ParseError(
                    "cannot tell which Shadowserver report this is from its name or header; "
                    f"name it (known: {', '.join(REPORTS)})",
                    file=str(path),
                    line=reader.header_line,
                )
            yield from map_batches(reader, spec)


def report_for(file_name: str, header: tuple[str, ...], named: str | None) -> FeedSpec | None:
    """The report a file holds: named, else by file name, else by header (or None)."""
    if named is not None:
        spec = REPORTS.get(named)
        if spec is None:
            raise BadValue(
                f"unknown Shadowserver report {named!r}; known: {', '.join(REPORTS)}",
                field="options.report",
                value=named,
            )
        return spec
    match = FILE_NAME.match(file_name)
    if match is not None and match["report"] in REPORTS:
        return REPORTS[match["report"]]
    return report_by_header(header)


def report_by_header(header: tuple[str, ...]) -> FeedSpec | None:
    """The report whose published columns best match `header`, if exactly one does best."""
    columns = set(header)
    # Shared columns count for a report, its published columns the file lacks against it:
    # so a report whose columns are a subset of another's is still told apart.
    scored = sorted(
        (
            (len(columns & set(spec.header)) - len(set(spec.header) - columns), spec.name)
            for spec in REPORTS.values()
            if set(spec.required) <= columns
        ),
        reverse=True,
    )
    if not scored or scored[0][0] <= 0 or (len(scored) > 1 and scored[0][0] == scored[1][0]):
        return None
    return REPORTS[scored[0][1]]
