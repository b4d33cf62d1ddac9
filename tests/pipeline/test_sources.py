"""Feed sources without a database: local files and directories, one URL and a MISP feed
over a real HTTP server on a loopback port (conditional GET, 304, retries, size limit)."""

from __future__ import annotations

import json
import os
import shutil
import socket
from dataclasses import replace
from pathlib import Path

import pytest

from entente.core.errors import BadValue, FetchError
from entente.pipeline.choices import FetchOutcome
from entente.pipeline.http_sources import MispFeedSource, UrlSource, remote_name
from entente.pipeline.sources import (
    DirectorySource,
    Fetched,
    FileSource,
    InMemorySource,
    Scope,
    SourceOptions,
    SourceState,
)
from tests.pipeline.feed_server import DROP, FeedServer, Reply

SAMPLES = Path(__file__).parent.parent / "data"
SHADOWSERVER = SAMPLES / "shadowserver"
MISP_FEED = SAMPLES / "misp_feed_http"
FIRST_EVENT = "5f1a3c1e-8d2b-4c3a-9f0e-2b7d4e6a1c01"
SECOND_EVENT = "5f1a3c1e-8d2b-4c3a-9f0e-2b7d4e6a1c02"
FAST = SourceOptions(retry_backoff_seconds=0.0, timeout_seconds=5.0)


def after(state: SourceState, fetched: Fetched) -> SourceState:
    """The state the caller keeps after a look whose files it then read."""
    read = {path: stamp for path, stamp in state.read.items() if path not in set(fetched.gone)} | {
        str(file.path): file.stamp for file in fetched.files
    }
    return SourceState(
        etag=state.etag if fetched.etag is None else fetched.etag,
        last_modified=state.last_modified
        if fetched.last_modified is None
        else fetched.last_modified,
        manifest=state.manifest if fetched.manifest is None else fetched.manifest,
        read=read,
    )


def no_partials(directory: Path) -> bool:
    return not any(path.name.startswith(".") for path in directory.rglob("*"))


# ---- local files and directories -------------------------------------------------------


def test_a_directory_gives_only_files_it_has_not_given_before(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    for name in ("scan_rdp.csv", "scan_dns.csv"):
        shutil.copy(SHADOWSERVER / name, drop / name)
    (drop / ".scan_http.csv.partial").write_text("being written")
    (drop / "subdirectory").mkdir()
    source = DirectorySource(drop)

    first = source.fetch(SourceState(), Scope.NEW)
    assert first.outcome is FetchOutcome.NEW
    assert [file.path.name for file in first.files] == ["scan_dns.csv", "scan_rdp.csv"]

    state = after(SourceState(), first)
    assert source.fetch(state, Scope.NEW) == Fetched(FetchOutcome.NOTHING_NEW)

    shutil.copy(SHADOWSERVER / "scan_telnet.csv", drop / "scan_telnet.csv")
    with (drop / "scan_dns.csv").open("a") as grown:
        grown.write("\n")
    (drop / "scan_rdp.csv").unlink()
    third = source.fetch(state, Scope.NEW)
    assert [file.path.name for file in third.files] == ["scan_dns.csv", "scan_telnet.csv"]
    assert third.gone == (str(drop / "scan_rdp.csv"),)

    everything = source.fetch(after(state, third), Scope.ALL)
    assert [file.path.name for file in everything.files] == ["scan_dns.csv", "scan_telnet.csv"]


def test_a_directory_pattern_and_settle_time_hold_files_back(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x")
    (tmp_path / "b.txt").write_text("x")
    fresh = tmp_path / "c.csv"
    fresh.write_text("still being written")
    old = fresh.stat().st_mtime - 60
    os.utime(tmp_path / "a.csv", (old, old))

    found = DirectorySource(tmp_path, pattern="*.csv", settle_seconds=30).fetch(
        SourceState(), Scope.NEW
    )
    assert [file.path.name for file in found.files] == ["a.csv"]
    assert "1 file(s) still being written" in found.note


def test_a_file_is_read_again_only_when_it_changed(tmp_path: Path) -> None:
    path = tmp_path / "scan_rdp.csv"
    shutil.copy(SHADOWSERVER / "scan_rdp.csv", path)
    source = FileSource(path)
    first = source.fetch(SourceState(), Scope.NEW)
    assert [file.path for file in first.files] == [path]
    assert source.fetch(after(SourceState(), first), Scope.NEW).files == ()
    assert source.fetch(after(SourceState(), first), Scope.ALL).files == first.files


def test_missing_local_sources_are_fetch_errors_naming_the_path(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="no file at"):
        FileSource(tmp_path / "gone.csv").fetch(SourceState(), Scope.NEW)
    with pytest.raises(FetchError, match="cannot list the directory") as raised:
        DirectorySource(tmp_path / "gone").fetch(SourceState(), Scope.NEW)
    assert raised.value.field == "source"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"source": {"max_byte": 1}}, "options.source.max_byte"),
        ({"source": {"max_bytes": "10"}}, "options.source.max_bytes"),
        ({"source": {"max_bytes": 0}}, "options.source.max_bytes"),
        ({"source": {"retries": True}}, "options.source.retries"),
        ({"source": {"pattern": ""}}, "options.source.pattern"),
        ({"source": []}, "options.source"),
    ],
)
def test_bad_source_options_name_the_option(options: dict[str, object], field: str) -> None:
    with pytest.raises(BadValue) as raised:
        SourceOptions.of(options)
    assert raised.value.field == field


def test_source_options_are_read_with_defaults() -> None:
    options = SourceOptions.of({"parser": {}, "source": {"max_bytes": 5, "timeout_seconds": 2}})
    assert (options.max_bytes, options.timeout_seconds, options.retries) == (5, 2, 3)


# ---- one URL ---------------------------------------------------------------------------


def url_source(server: FeedServer, tmp_path: Path, name: str, **options: object) -> UrlSource:
    return UrlSource(server.url(name), tmp_path / "downloads", replace(FAST, **options))


def test_a_url_is_downloaded_then_asked_for_conditionally(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    served = feed_server.root / "2026-11-20-scan_http-nl.csv"
    shutil.copy(SHADOWSERVER / "scan_http.csv", served)
    source = url_source(feed_server, tmp_path, served.name)

    first = source.fetch(SourceState(), Scope.NEW)
    assert first.outcome is FetchOutcome.NEW
    assert first.download is not None
    assert first.download.read_bytes() == served.read_bytes()
    assert first.bytes == served.stat().st_size
    # The report type stays readable from the name (the Shadowserver parser needs it).
    assert first.download.name.startswith("2026-11-20-scan_http-nl-")
    assert first.download.suffix == ".csv"
    assert first.etag and first.last_modified
    assert [file.path for file in first.files] == [first.download]

    state = after(SourceState(), first)
    second = source.fetch(state, Scope.NEW)
    assert second.outcome is FetchOutcome.NOT_MODIFIED
    assert second.files == ()
    assert second.etag is None
    assert feed_server.asked(served.name)[-1][1:] == (first.etag, first.last_modified)

    forced = source.fetch(state, Scope.ALL)
    assert feed_server.asked(served.name)[-1][1:] == ("", "")
    assert forced.outcome is FetchOutcome.NEW
    assert [file.path for file in forced.files] == [forced.download]
    state = after(state, forced)

    # A server that ignores the validators and sends the same bytes: nothing new.
    feed_server.scripts[f"/{served.name}"] = [Reply(200, served.read_bytes())]
    same = source.fetch(state, Scope.NEW)
    assert (same.outcome, same.files, same.download) == (FetchOutcome.NOTHING_NEW, (), None)
    assert same.note == "the same content as the last download"
    assert len(list((tmp_path / "downloads").iterdir())) == 2
    assert no_partials(tmp_path / "downloads")


def test_a_fetched_file_not_yet_read_is_given_on_the_next_look(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    (feed_server.root / "list.txt").write_text("192.0.2.1\n")
    source = url_source(feed_server, tmp_path, "list.txt")
    fetched = source.fetch(SourceState(), Scope.NEW)
    # Not read: only the validators are remembered (`entente feed fetch`).
    state = SourceState(etag=fetched.etag or "", last_modified=fetched.last_modified or "")
    later = source.fetch(state, Scope.NEW)
    assert later.outcome is FetchOutcome.NOT_MODIFIED
    assert [file.path for file in later.files] == [fetched.download]


def test_a_server_error_is_retried_with_a_growing_pause(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    (feed_server.root / "list.txt").write_text("192.0.2.1\n")
    feed_server.scripts["/list.txt"] = [Reply(500, b"oops"), Reply(DROP), Reply(503)]
    pauses: list[float] = []
    source = url_source(feed_server, tmp_path, "list.txt", retry_backoff_seconds=0.5)
    source.sleep = pauses.append

    fetched = source.fetch(SourceState(), Scope.NEW)
    assert fetched.outcome is FetchOutcome.NEW
    assert pauses == [0.5, 1.0, 2.0]
    assert len(feed_server.asked("list.txt")) == 4


def test_a_server_that_keeps_failing_is_a_fetch_error_and_leaves_no_file(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_server.scripts["/list.txt"] = [Reply(503)] * 3
    source = url_source(feed_server, tmp_path, "list.txt", retries=2)
    with pytest.raises(FetchError, match=r"HTTP 503 .*gave up after 3 attempts"):
        source.fetch(SourceState(), Scope.NEW)
    assert not (tmp_path / "downloads").exists() or not any((tmp_path / "downloads").iterdir())


def test_a_missing_file_is_not_retried(feed_server: FeedServer, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        url_source(feed_server, tmp_path, "nothing.csv").fetch(SourceState(), Scope.NEW)
    assert len(feed_server.asked("nothing.csv")) == 1


@pytest.mark.parametrize("with_length", [True, False], ids=["declared", "streamed"])
def test_a_body_over_the_limit_is_refused(
    feed_server: FeedServer, tmp_path: Path, with_length: bool
) -> None:
    feed_server.scripts["/big.csv"] = [Reply(200, b"x" * 5000, with_length=with_length)]
    source = url_source(feed_server, tmp_path, "big.csv", max_bytes=1000)
    with pytest.raises(FetchError, match="larger than the limit of 1,000 bytes") as raised:
        source.fetch(SourceState(), Scope.NEW)
    assert raised.value.field == "options.source.max_bytes"
    downloads = tmp_path / "downloads"
    assert not downloads.exists() or not any(downloads.iterdir())


def test_an_unreachable_server_is_a_fetch_error(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = UrlSource(f"http://127.0.0.1:{port}/x.csv", tmp_path, replace(FAST, retries=0))
    with pytest.raises(FetchError, match=r"could not fetch http://127\.0\.0\.1"):
        source.fetch(SourceState(), Scope.NEW)


def test_read_downloads_are_pruned_to_the_newest_few(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    served = feed_server.root / "list.txt"
    source = url_source(feed_server, tmp_path, "list.txt", keep_downloads=2)
    state = SourceState()
    for number in range(4):
        served.write_text(f"192.0.2.{number}\n")
        fetched = source.fetch(state, Scope.NEW)
        state = after(state, fetched)
    kept = sorted(path.read_text() for path in (tmp_path / "downloads").iterdir())
    # Pruned when the next look finds them read: the last two read, and the newest.
    assert kept == ["192.0.2.1\n", "192.0.2.2\n", "192.0.2.3\n"]


def test_remote_names_are_safe_file_names() -> None:
    assert remote_name("https://example.org/feeds/drop.txt?x=1") == "drop.txt"
    assert remote_name("https://example.org/") == "download"
    assert remote_name("https://example.org/a%2F..%2Fb c.csv") == "a_.._b_c.csv"


# ---- MISP feeds ------------------------------------------------------------------------


def serve_misp_feed(server: FeedServer) -> Path:
    feed = server.root / "misp"
    shutil.copytree(MISP_FEED, feed)
    return feed


def test_a_misp_feed_fetches_only_new_or_changed_events(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    served = serve_misp_feed(feed_server)
    source = MispFeedSource(feed_server.url("misp/"), tmp_path / "downloads", FAST)

    first = source.fetch(SourceState(), Scope.NEW)
    assert first.outcome is FetchOutcome.NEW
    assert first.download is not None and first.download.name.startswith("events-")
    assert sorted(path.name for path in first.download.iterdir()) == [
        f"{FIRST_EVENT}.json",
        f"{SECOND_EVENT}.json",
        "manifest.json",
    ]
    assert first.manifest == {FIRST_EVENT: 1795340000, SECOND_EVENT: 1795426400}
    # A run reads each event file (the misp_feed parser's unit), not the manifest.
    assert [file.path for file in first.files] == [
        first.download / f"{FIRST_EVENT}.json",
        first.download / f"{SECOND_EVENT}.json",
    ]
    state = after(SourceState(), first)

    assert source.fetch(state, Scope.NEW).outcome is FetchOutcome.NOT_MODIFIED
    assert len(feed_server.asked(f"misp/{FIRST_EVENT}.json")) == 1

    manifest = json.loads((served / "manifest.json").read_text())
    manifest[SECOND_EVENT]["timestamp"] = 1795500000
    (served / "manifest.json").write_text(json.dumps(manifest))
    changed = source.fetch(state, Scope.NEW)
    assert changed.outcome is FetchOutcome.NEW
    assert changed.download is not None
    assert sorted(path.name for path in changed.download.iterdir()) == [
        f"{SECOND_EVENT}.json",
        "manifest.json",
    ]
    assert list(json.loads((changed.download / "manifest.json").read_text())) == [SECOND_EVENT]
    assert changed.manifest == {FIRST_EVENT: 1795340000, SECOND_EVENT: 1795500000}
    assert [file.path for file in changed.files] == [changed.download / f"{SECOND_EVENT}.json"]
    assert len(feed_server.asked(f"misp/{FIRST_EVENT}.json")) == 1
    assert no_partials(tmp_path / "downloads")


def test_a_misp_event_missing_on_the_server_is_asked_for_again(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    served = serve_misp_feed(feed_server)
    (served / f"{SECOND_EVENT}.json").rename(tmp_path / "held-back.json")
    manifest = json.loads((served / "manifest.json").read_text())
    manifest["../../../etc/passwd"] = {"timestamp": 1}
    (served / "manifest.json").write_text(json.dumps(manifest))
    source = MispFeedSource(feed_server.url("misp"), tmp_path / "downloads", FAST)

    first = source.fetch(SourceState(), Scope.NEW)
    assert first.manifest == {FIRST_EVENT: 1795340000}
    assert first.etag == "", "no validators kept while an event is missing"
    assert "1 listed but not on the server" in first.note
    assert "1 manifest key(s) that are not event uuids skipped" in first.note

    (tmp_path / "held-back.json").rename(served / f"{SECOND_EVENT}.json")
    second = source.fetch(after(SourceState(), first), Scope.NEW)
    assert second.download is not None
    assert sorted(path.name for path in second.download.iterdir()) == [
        f"{SECOND_EVENT}.json",
        "manifest.json",
    ]
    assert not (tmp_path / "etc").exists()


def test_a_misp_manifest_that_is_not_an_object_is_a_fetch_error(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    (feed_server.root / "manifest.json").write_text("[1, 2]")
    source = MispFeedSource(feed_server.url(), tmp_path / "downloads", FAST)
    with pytest.raises(FetchError, match="not a MISP feed manifest"):
        source.fetch(SourceState(), Scope.NEW)
    assert no_partials(tmp_path)


# ---- the in-memory source --------------------------------------------------------------


def test_the_in_memory_source_answers_as_scripted(tmp_path: Path) -> None:
    source = InMemorySource(tmp_path, [b"192.0.2.1\n", None, FetchError("down")])
    first = source.fetch(SourceState(), Scope.NEW)
    assert first.outcome is FetchOutcome.NEW
    assert first.download is not None and first.download.read_bytes() == b"192.0.2.1\n"
    assert source.fetch(after(SourceState(), first), Scope.NEW).files == ()
    with pytest.raises(FetchError, match="down"):
        source.fetch(SourceState(), Scope.NEW)
    assert len(source.looks) == 3
