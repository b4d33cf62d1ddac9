"""Feed sources over HTTP(S): one URL, and MISP feeds (a manifest and one file per event).

Every download is a conditional GET (the ETag and Last-Modified of the last answer are sent
back, so an unchanged file costs a 304 and no body), bounded in time and size, retried with
a doubling pause on 5xx answers and dropped connections, and written beside its target
then renamed, so a half-written file never appears. Downloads land in
`data_dir/feeds/<feed>/`; a run reads the ones it has not read, which is how `entente feed
fetch` (download only) and a later `entente feed run` fit together.
"""

from __future__ import annotations

import filecmp
import json
import re
import shutil
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from entente import __version__
from entente.core.errors import FetchError
from entente.pipeline.choices import FetchOutcome
from entente.pipeline.retries import Retryable, Sleep, with_retries
from entente.pipeline.sources import (
    Fetched,
    Scope,
    SourceFile,
    SourceOptions,
    SourceState,
    download_entries,
    download_name,
    downloads,
    entry_files,
    fetch_stamp,
    gone,
    unread,
)

_CHUNK = 1024 * 1024
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MANIFEST = "manifest.json"
INDEX_FILES = frozenset({MANIFEST})
"""Files of a MISP events download that list the events rather than hold one."""


class NotThere(FetchError):
    """The server has no such file (HTTP 404 or 410)."""


@dataclass(frozen=True, slots=True)
class Download:
    """A finished download: where it is, its size, and the validators the server sent."""

    path: Path
    bytes: int
    etag: str
    last_modified: str


def http_client(options: SourceOptions) -> httpx.Client:
    return httpx.Client(
        timeout=options.timeout_seconds,
        follow_redirects=True,
        headers={"User-Agent": f"entente/{__version__} (feed fetch)"},
    )


@dataclass(slots=True)
class Downloader:
    """GETs over one client: conditional, bounded, retried, written whole or not at all."""

    client: httpx.Client
    options: SourceOptions
    sleep: Sleep = time.sleep

    def get(self, url: str, target: Path, state: SourceState | None = None) -> Download | None:
        """Download `url` to `target`; None when the server says it has not changed (304).

        With `state`, its ETag and Last-Modified make the request conditional.
        """
        return with_retries(
            url, lambda: self._attempt(url, target, state), self.options, self.sleep
        )

    def _attempt(self, url: str, target: Path, state: SourceState | None) -> Download | None:
        with _translated(url), self.client.stream("GET", url, headers=_conditions(state)) as answer:
            code = answer.status_code
            if code == httpx.codes.NOT_MODIFIED:
                return None
            if code >= httpx.codes.INTERNAL_SERVER_ERROR or code == httpx.codes.TOO_MANY_REQUESTS:
                raise Retryable(f"HTTP {code} {answer.reason_phrase}".strip())
            if code in (httpx.codes.NOT_FOUND, httpx.codes.GONE):
                raise NotThere(f"{url}: HTTP {code}, no such file", field="source", value=url)
            if not answer.is_success:
                message = f"{url}: HTTP {code} {answer.reason_phrase}".strip()
                raise FetchError(message, field="source", value=url)
            self._check_length(url, answer)
            size = self._save(url, answer, target)
            return Download(
                target,
                size,
                answer.headers.get("etag", ""),
                answer.headers.get("last-modified", ""),
            )

    def _check_length(self, url: str, answer: httpx.Response) -> None:
        declared = answer.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.options.max_bytes:
            raise self._too_large(url, f"it is {int(declared):,} bytes")

    def _save(self, url: str, answer: httpx.Response, target: Path) -> int:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        written = 0
        try:
            with partial.open("wb") as handle:
                for chunk in answer.iter_bytes(_CHUNK):
                    written += len(chunk)
                    if written > self.options.max_bytes:
                        raise self._too_large(url, "the body goes on past it")
                    handle.write(chunk)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return written

    def _too_large(self, url: str, why: str) -> FetchError:
        return FetchError(
            f"refused {url}: larger than the limit of {self.options.max_bytes:,} bytes ({why}); "
            "raise options.source.max_bytes if the feed is really this large",
            field="options.source.max_bytes",
            value=self.options.max_bytes,
        )


def _conditions(state: SourceState | None) -> dict[str, str]:
    headers = {}
    if state is not None and state.etag:
        headers["If-None-Match"] = state.etag
    if state is not None and state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


@contextmanager
def _translated(url: str) -> Iterator[None]:
    """httpx's and the file system's errors as ours (or as worth retrying)."""
    try:
        yield
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        message = f"not a URL Entente can fetch: {url} ({exc})"
        raise FetchError(message, field="source", value=url) from exc
    except httpx.TransportError as exc:
        raise Retryable(str(exc) or type(exc).__name__) from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"could not fetch {url}: {exc}", field="source", value=url) from exc
    except OSError as exc:
        raise FetchError(f"could not save {url}: {exc}", field="source", value=url) from exc


def remote_name(url: str) -> str:
    """The last segment of the URL's path, made safe for a file name."""
    name = unquote(Path(urlsplit(url).path).name)
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._-")[:120] or "download"


def prune(directory: Path, state: SourceState, options: SourceOptions) -> None:
    """Delete the oldest downloads the feed has read, keeping the newest `keep_downloads`
    of them; a download with a file not read yet is never deleted."""
    done = [
        entry
        for entry in download_entries(directory)
        if all(
            state.read.get(str(file.path)) == file.stamp for file in entry_files(entry, INDEX_FILES)
        )
    ]
    for entry in done[: max(len(done) - options.keep_downloads, 0)]:
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _look(directory: Path, state: SourceState, options: SourceOptions) -> list[SourceFile]:
    """The downloads there after pruning: every file of them a run reads."""
    prune(directory, state, options)
    return downloads(directory, INDEX_FILES)


# ---- one URL ---------------------------------------------------------------------------


@dataclass(slots=True)
class UrlSource:
    """One URL, downloaded when it changed (see the module docstring)."""

    url: str
    directory: Path
    options: SourceOptions
    sleep: Sleep = time.sleep

    def fetch(self, state: SourceState, scope: Scope) -> Fetched:
        conditional = state if scope is Scope.NEW else None
        target = self.directory / download_name(remote_name(self.url))
        with http_client(self.options) as client:
            got = Downloader(client, self.options, self.sleep).get(self.url, target, conditional)
        note = ""
        if got is not None and scope is Scope.NEW and _same_as_last(got, state, self.directory):
            # Not every server sends validators: an identical body is not new data.
            got.path.unlink()
            note = "the same content as the last download"
        present = _look(self.directory, state, self.options)
        files = unread(present, state, Scope.NEW)
        if got is None:
            return Fetched(FetchOutcome.NOT_MODIFIED, files, gone(state, present))
        return Fetched(
            FetchOutcome.NEW if not note else FetchOutcome.NOTHING_NEW,
            files,
            gone(state, present),
            etag=got.etag,
            last_modified=got.last_modified,
            download=None if note else got.path,
            bytes=got.bytes,
            note=note,
        )


def _same_as_last(got: Download, state: SourceState, directory: Path) -> bool:
    """Whether the newest earlier download (already read) has exactly these bytes."""
    earlier = [file for file in downloads(directory, INDEX_FILES) if file.path != got.path]
    if not earlier or str(earlier[-1].path) not in state.read:
        return False
    last = earlier[-1]
    return last.stamp.size == got.bytes and filecmp.cmp(last.path, got.path, shallow=False)


# ---- MISP feeds ------------------------------------------------------------------------


@dataclass(slots=True)
class MispFeedSource:
    """A MISP feed: `<url>/manifest.json` lists the events (uuid -> info and timestamp),
    each in `<url>/<uuid>.json`. A look fetches the manifest (conditionally), then only the
    events that are new or whose timestamp changed, into one directory
    `events-<fetch time>/` holding them and a `manifest.json` of just those events. A run
    reads each event file (the `misp_feed` parser's unit), not the manifest.

    An event the manifest lists but the server does not have (404) is skipped and asked
    for again on the next look (the manifest's validators are then not kept).
    """

    url: str
    directory: Path
    options: SourceOptions
    sleep: Sleep = time.sleep

    def fetch(self, state: SourceState, scope: Scope) -> Fetched:
        base = self.url.rstrip("/")
        staging = self.directory / f".events-{fetch_stamp()}.partial"
        try:
            with http_client(self.options) as client:
                loader = Downloader(client, self.options, self.sleep)
                conditional = state if scope is Scope.NEW else None
                got = loader.get(f"{base}/{MANIFEST}", staging / MANIFEST, conditional)
                if got is None:
                    present = _look(self.directory, state, self.options)
                    files = unread(present, state, Scope.NEW)
                    return Fetched(FetchOutcome.NOT_MODIFIED, files, gone(state, present))
                return self._events(loader, got, state, scope, staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _events(
        self, loader: Downloader, got: Download, state: SourceState, scope: Scope, staging: Path
    ) -> Fetched:
        base = self.url.rstrip("/")
        entries, skipped = read_manifest(got.path, f"{base}/{MANIFEST}")
        known = state.manifest if scope is Scope.NEW else {}
        wanted = {uuid: stamp for uuid, (stamp, _) in entries.items() if known.get(uuid) != stamp}
        missing, size = [], got.bytes
        for uuid in sorted(wanted):
            try:
                event = loader.get(f"{base}/{uuid}.json", staging / f"{uuid}.json")
            except NotThere:
                missing.append(uuid)
                continue
            size += event.bytes if event is not None else 0
        fetched = [uuid for uuid in sorted(wanted) if uuid not in missing]
        download = self._publish(staging, {uuid: entries[uuid][1] for uuid in fetched})
        present = _look(self.directory, state, self.options)
        remembered = {
            uuid: stamp
            for uuid, (stamp, _) in entries.items()
            if uuid not in missing and (uuid in fetched or known.get(uuid) == stamp)
        }
        note = _note(len(fetched), missing, skipped)
        return Fetched(
            FetchOutcome.NEW if fetched else FetchOutcome.NOTHING_NEW,
            unread(present, state, Scope.NEW),
            gone(state, present),
            # Forget the validators while an event is missing, so the next look asks again.
            etag="" if missing else got.etag,
            last_modified="" if missing else got.last_modified,
            manifest=remembered,
            download=download,
            bytes=size,
            note=note,
        )

    def _publish(self, staging: Path, entries: Mapping[str, Any]) -> Path | None:
        """Write the fetched events' manifest and move the directory into place."""
        if not entries:
            return None
        (staging / MANIFEST).write_text(json.dumps(entries, indent=1), encoding="utf-8")
        target = self.directory / f"events-{fetch_stamp()}"
        staging.replace(target)
        return target


def read_manifest(path: Path, url: str) -> tuple[dict[str, tuple[int, Any]], int]:
    """A MISP feed manifest: event uuid -> (its timestamp, its entry), and how many keys
    were skipped as not being event uuids (a file name made of them would be unsafe)."""
    try:
        found = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise FetchError(f"{url} is not JSON: {exc}", field="source", value=url) from exc
    if not isinstance(found, dict):
        raise FetchError(
            f"{url} is not a MISP feed manifest (a JSON object of event uuids)",
            field="source",
            value=url,
        )
    entries = {
        uuid: (_timestamp(entry), entry) for uuid, entry in found.items() if _UUID.match(uuid)
    }
    return entries, len(found) - len(entries)


def _timestamp(entry: object) -> int:
    value = entry.get("timestamp", 0) if isinstance(entry, dict) else 0
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _note(fetched: int, missing: list[str], skipped: int) -> str:
    parts = [f"{fetched} new or changed event(s)"]
    if missing:
        parts.append(f"{len(missing)} listed but not on the server (asked again next time)")
    if skipped:
        parts.append(f"{skipped} manifest key(s) that are not event uuids skipped")
    return "; ".join(parts)
