"""Choice sets of the pipeline, with labels and badge colours for the UI."""

from __future__ import annotations

from enum import StrEnum


class FeedSourceKind(StrEnum):
    """Where a feed's files come from."""

    FILE = "file"  # one path, read again when it changes
    DIRECTORY = "directory"  # every new file in a watched directory
    URL = "url"  # fetched over HTTP(S) on each run (operators with network)
    TAXII = "taxii"  # a TAXII 2.1 collection: the objects added since the last look
    UPLOAD = "upload"  # files sent through the API or UI

    @property
    def label(self) -> str:
        return self.value.upper() if self in _ACRONYMS else self.value.capitalize()

    @property
    def schedulable(self) -> bool:
        """Whether `feed run --due` can run it: an upload only arrives when someone sends it."""
        return self is not FeedSourceKind.UPLOAD


_ACRONYMS = frozenset({FeedSourceKind.URL, FeedSourceKind.TAXII})


class FetchOutcome(StrEnum):
    """What the last look at a feed's source found."""

    NEW = "new"  # new files (a download, or files not read before)
    NOT_MODIFIED = "not_modified"  # the server answered 304: the same as last time
    NOTHING_NEW = "nothing_new"  # no file the feed has not read already
    FAILED = "failed"  # the source could not be read; `error` says why

    @property
    def label(self) -> str:
        return {
            "new": "New data",
            "not_modified": "Not modified",
            "nothing_new": "Nothing new",
            "failed": "Failed",
        }[self.value]

    @property
    def colour(self) -> str:
        return {"new": "green", "not_modified": "grey", "nothing_new": "grey", "failed": "red"}[
            self.value
        ]


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def colour(self) -> str:
        return {"running": "blue", "succeeded": "green", "failed": "red"}[self.value]
