"""Which reader a file needs, told from its content (file names from mirrors vary too much)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from entente.core.errors import ParseError
from entente.pipeline.enrich.mmdb import looks_like_mmdb, read_mmdb
from entente.pipeline.enrich.readers import read_as_names, read_as_org, read_delegated, read_pfx2as
from entente.pipeline.enrich.sources import SourceData, SourceFormat, read_bytes

READERS: dict[SourceFormat, Callable[[Path], SourceData]] = {
    SourceFormat.MMDB: read_mmdb,
    SourceFormat.PFX2AS: read_pfx2as,
    SourceFormat.DELEGATED: read_delegated,
    SourceFormat.AS_NAMES: read_as_names,
    SourceFormat.AS_ORG: read_as_org,
}

_TEXT_SHAPES = (
    # An RIR file opens with its version line (`2|ripencc|...` or `2.3|apnic|...`).
    (SourceFormat.DELEGATED, re.compile(r"^\d+(\.\d+)?\|")),
    (SourceFormat.DELEGATED, re.compile(r"^[A-Za-z]+\|[A-Za-z*]*\|(ipv4|ipv6|asn)\|")),
    (SourceFormat.PFX2AS, re.compile(r"^[0-9A-Fa-f:.]+[\t ]+\d{1,3}[\t ]+[\d_,]+$")),
    (SourceFormat.AS_NAMES, re.compile(r"^(AS)?\d+[\t ]+\S", re.IGNORECASE)),
)
_HEAD_BYTES = 64 * 1024


def detect_format(path: Path) -> SourceFormat:
    """The format of the file at `path`, from its first lines (or the MaxMind DB marker)."""
    content = read_bytes(path)
    if looks_like_mmdb(content) or content[257:262] == b"ustar":
        return SourceFormat.MMDB
    lines = content[:_HEAD_BYTES].decode("utf-8", errors="replace").splitlines()
    if any(line.startswith("# format:") for line in lines):
        return SourceFormat.AS_ORG
    first = next((line for line in lines if line.strip() and not line.startswith("#")), "")
    for source_format, shape in _TEXT_SHAPES:
        if shape.match(first.strip()):
            return source_format
    raise ParseError(
        "cannot tell which format this file is in; name it with --format "
        f"({', '.join(source_format.value for source_format in SourceFormat)})",
        file=str(path),
    )


def read_source(path: Path, source_format: SourceFormat | None = None) -> SourceData:
    """Read one data file, in `source_format` or in the format its content shows."""
    return READERS[source_format or detect_format(path)](path)
