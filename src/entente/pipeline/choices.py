"""Choice sets of the pipeline, with labels and badge colours for the UI."""

from __future__ import annotations

from enum import StrEnum


class FeedSourceKind(StrEnum):
    """Where a feed's files come from."""

    FILE = "file"  # one path, read on each run
    DIRECTORY = "directory"  # every new file in a watched directory
    URL = "url"  # fetched over HTTP(S) on each run (operators with network)
    UPLOAD = "upload"  # files sent through the API or UI

    @property
    def label(self) -> str:
        return self.value.capitalize()


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
