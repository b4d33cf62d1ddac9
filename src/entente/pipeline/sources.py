"""Where a feed's files come from: the `FeedSource` seam, and the local sources behind it.

A source looks at one place (a file, a directory, a URL) and says which files a run should
read now. What it has seen is kept by the caller (`FeedSourceState`, `FeedFile` rows) and
handed in as a `SourceState`, so a source never touches the database and a test can run
one on a temporary directory. The HTTP sources (a plain URL, a MISP feed) are in
`pipeline/http_sources.py`; `InMemorySource` stands in for any of them in tests.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from entente.core.clock import utcnow
from entente.core.errors import AppError, BadValue, FetchError
from entente.pipeline.choices import FetchOutcome

MiB = 1024 * 1024


class Scope(StrEnum):
    """Which files a look returns: those not read before, or every one there is."""

    NEW = "new"
    ALL = "all"  # `feed run --all`: read again; a URL is fetched without conditions


@dataclass(frozen=True, slots=True)
class FileStamp:
    """What tells a changed file from the one read before: its size and modification time."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileStamp:
        found = path.stat()
        return cls(found.st_size if path.is_file() else 0, found.st_mtime_ns)


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file (or a directory of MISP events) for a run to read, with its stamp."""

    path: Path
    stamp: FileStamp


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the feed remembers of its source, as of the last look."""

    etag: str = ""
    last_modified: str = ""
    # A MISP feed's manifest: event uuid -> the event's timestamp when last fetched.
    manifest: Mapping[str, int] = field(default_factory=dict)
    # Files already read, by path.
    read: Mapping[str, FileStamp] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Fetched:
    """What one look found: the files to read now, and what to remember for the next look.

    `etag`, `last_modified` and `manifest` are None when the look learnt nothing new about
    them (keep the remembered ones).
    """

    outcome: FetchOutcome
    files: tuple[SourceFile, ...] = ()
    # Paths the feed read before that are no longer there: forget them.
    gone: tuple[str, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    manifest: Mapping[str, int] | None = None
    download: Path | None = None
    bytes: int = 0
    note: str = ""


class FeedSource(Protocol):
    """Looks at a feed's source and says which files a run should read now.

    Contract (every source here keeps it, and a new one must):

    - `fetch(state, scope)` looks once. It returns, oldest first, the files not in
      `state.read` with the same stamp; with `Scope.ALL`, every file it has (a URL source
      downloads again without conditions). A file it returns is complete: downloads are
      written beside their target and renamed when whole, so a crash leaves no half file.
    - It never parses the files and never touches the database: the caller reads the
      files (`ingest_file`) and remembers `Fetched` for the next look.
    - `outcome` is `NEW` when new data came, `NOT_MODIFIED` when the server said so (304),
      `NOTHING_NEW` otherwise. Files fetched earlier and not read yet are returned with
      any outcome, so `entente feed fetch` then `entente feed run` reads them.
    - Failures raise `FetchError` (missing path, HTTP error after retries, a download over
      the size limit) or `BadValue` (a bad source option), naming the place; never an
      `httpx` or `OSError` exception.

    Example::

        fetched = DirectorySource(Path("/srv/feeds/drop")).fetch(SourceState(), Scope.NEW)
        for file in fetched.files:
            ingest_file(session, pipeline, feed, file.path)
    """

    def fetch(self, state: SourceState, scope: Scope) -> Fetched:
        """One look at the source; see the class docstring for the contract."""
        ...


def unread(found: Iterable[SourceFile], state: SourceState, scope: Scope) -> tuple[SourceFile, ...]:
    """The files a look returns: those whose stamp differs from the one read, or all."""
    if scope is Scope.ALL:
        return tuple(found)
    return tuple(file for file in found if state.read.get(str(file.path)) != file.stamp)


def gone(state: SourceState, present: Iterable[SourceFile]) -> tuple[str, ...]:
    """Read paths no longer among the files present."""
    there = {str(file.path) for file in present}
    return tuple(sorted(path for path in state.read if path not in there))


def outcome_of(files: Sequence[SourceFile]) -> FetchOutcome:
    return FetchOutcome.NEW if files else FetchOutcome.NOTHING_NEW


# ---- local sources ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileSource:
    """One file, read again when its size or modification time changes."""

    path: Path

    def fetch(self, state: SourceState, scope: Scope) -> Fetched:
        if not self.path.is_file():
            raise FetchError(f"no file at {self.path}", field="source", value=str(self.path))
        files = unread([SourceFile(self.path, FileStamp.of(self.path))], state, scope)
        return Fetched(outcome_of(files), files)


@dataclass(frozen=True, slots=True)
class DirectorySource:
    """The files of a directory (not its subdirectories) whose names match `pattern`.

    Hidden files (`.name`) are skipped: tools that write a file then rename it into place
    (rsync, our own downloads) write it hidden first. A file modified in the last
    `settle_seconds` is left for the next look, for writers that write in place.
    """

    path: Path
    pattern: str = "*"
    settle_seconds: float = 0.0

    def fetch(self, state: SourceState, scope: Scope) -> Fetched:
        present = self.present()
        settled = _settled(present, self.settle_seconds)
        files = unread(settled, state, scope)
        waiting = len(present) - len(settled)
        note = f"{waiting} file(s) still being written, left for the next look" if waiting else ""
        return Fetched(outcome_of(files), files, gone(state, present), note=note)

    def present(self) -> list[SourceFile]:
        """The matching files there now, by name."""
        try:
            entries = sorted(self.path.iterdir())
        except OSError as exc:
            raise FetchError(
                f"cannot list the directory {self.path}: {exc.strerror or exc}",
                field="source",
                value=str(self.path),
            ) from exc
        return [
            SourceFile(entry, FileStamp.of(entry))
            for entry in entries
            if not entry.name.startswith(".")
            and entry.is_file()
            and fnmatch.fnmatchcase(entry.name, self.pattern)
        ]


def _settled(files: list[SourceFile], settle_seconds: float) -> list[SourceFile]:
    if settle_seconds <= 0:
        return files
    newest = time.time_ns() - int(settle_seconds * 1e9)
    return [file for file in files if file.stamp.mtime_ns <= newest]


def download_entries(directory: Path) -> list[Path]:
    """A remote feed's downloads (files, and directories of MISP events), oldest first.

    Partial downloads are hidden and skipped; a rename keeps the modification time of the
    last write, so that time orders them (the name, which ends in the fetch time, breaks ties).
    """
    if not directory.is_dir():
        return []
    found = [entry for entry in directory.iterdir() if not entry.name.startswith(".")]
    return sorted(found, key=lambda entry: (entry.stat().st_mtime_ns, entry.name))


def entry_files(entry: Path, index_files: frozenset[str] = frozenset()) -> list[SourceFile]:
    """The files a run reads of one download: the file, or the files of a directory by
    name, less the directory's index files (a MISP feed's `manifest.json`)."""
    if not entry.is_dir():
        return [SourceFile(entry, FileStamp.of(entry))]
    return [
        SourceFile(path, FileStamp.of(path))
        for path in sorted(entry.iterdir())
        if path.is_file() and not path.name.startswith(".") and path.name not in index_files
    ]


def downloads(directory: Path, index_files: frozenset[str] = frozenset()) -> list[SourceFile]:
    """Every file of a remote feed's downloads, in the order they were fetched."""
    return [
        file for entry in download_entries(directory) for file in entry_files(entry, index_files)
    ]


def download_name(name: str) -> str:
    """A download's name: the remote name with the fetch time before its suffix.

    `2026-11-20-scan_http-nl.csv` becomes `2026-11-20-scan_http-nl-20261120T101500123456Z.csv`,
    so parsers that read the report type from the name (Shadowserver) still can.
    """
    path = Path(name)
    suffix = path.suffix if 1 < len(path.suffix) <= 11 else ""
    return f"{name.removesuffix(suffix) or 'download'}-{fetch_stamp()}{suffix}"


# ---- for tests -------------------------------------------------------------------------


Answer = bytes | AppError | None
"""What `InMemorySource` answers a look: new content, an error to raise, or None (304)."""


@dataclass(slots=True)
class InMemorySource:
    """A remote source whose answers are given up front: for tests of runs and schedules.

    Each look takes the next answer (the last one repeats): bytes are written as a new
    download into `directory`, as a URL source would, None is "not modified", an error is
    raised. `looks` records the state and scope of every look.
    """

    directory: Path
    answers: list[Answer]
    name: str = "download.txt"
    looks: list[tuple[SourceState, Scope]] = field(default_factory=list)

    def fetch(self, state: SourceState, scope: Scope) -> Fetched:
        self.looks.append((state, scope))
        answer = self.answers[min(len(self.looks), len(self.answers)) - 1]
        if isinstance(answer, AppError):
            raise answer
        download = None
        if answer is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            download = self.directory / download_name(self.name)
            download.write_bytes(answer)
        present = downloads(self.directory)
        files = unread(present, state, Scope.NEW)
        outcome = FetchOutcome.NOT_MODIFIED if answer is None else FetchOutcome.NEW
        etag = None if answer is None else f'"{len(self.looks)}"'
        return Fetched(
            outcome,
            files,
            gone(state, present),
            etag=etag,
            download=download,
            bytes=len(answer or b""),
        )


def fetch_stamp() -> str:
    """The fetch time as downloads are named: sortable, to the microsecond."""
    return utcnow().strftime("%Y%m%dT%H%M%S%fZ")


# ---- options ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """The feed's `options.source`: how its source is read (docs/feeds.md, Sources)."""

    max_bytes: int = 512 * MiB
    timeout_seconds: float = 60.0
    retries: int = 3
    retry_backoff_seconds: float = 2.0
    keep_downloads: int = 10
    pattern: str = "*"
    settle_seconds: float = 0.0

    @classmethod
    def of(cls, options: Mapping[str, object]) -> SourceOptions:
        """Read `options["source"]`, refusing unknown names and values of the wrong kind."""
        given = options.get("source", {})
        if not isinstance(given, Mapping):
            raise BadValue("options.source must be an object", field="options.source", value=given)
        defaults = cls()
        values: dict[str, object] = {}
        for name, value in given.items():
            if name not in _OPTION_RULES:
                known = ", ".join(sorted(_OPTION_RULES))
                raise BadValue(
                    f"unknown source option {name!r}; known: {known}",
                    field=f"options.source.{name}",
                    value=name,
                )
            values[name] = _checked(name, value, getattr(defaults, name))
        return cls(**values)  # type: ignore[arg-type]


# name -> the smallest value allowed
_OPTION_RULES: dict[str, float] = {
    "max_bytes": 1,
    "timeout_seconds": 0.1,
    "retries": 0,
    "retry_backoff_seconds": 0,
    "keep_downloads": 1,
    "pattern": 0,
    "settle_seconds": 0,
}


def _checked(name: str, value: object, default: object) -> object:
    where = f"options.source.{name}"
    if isinstance(default, str):
        if not isinstance(value, str) or not value:
            raise BadValue(f"{where} must be non-empty text", field=where, value=value)
        return value
    kind = int if isinstance(default, int) else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        expected = "a whole number" if kind is int else "a number"
        raise BadValue(f"{where} must be {expected}", field=where, value=value)
    if value < _OPTION_RULES[name]:
        raise BadValue(
            f"{where} must be at least {_OPTION_RULES[name]:g}", field=where, value=value
        )
    return value
