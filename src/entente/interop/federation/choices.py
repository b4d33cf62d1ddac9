"""Vocabularies of federation, each value with its label."""

from __future__ import annotations

from enum import StrEnum


class Direction(StrEnum):
    """Which way events travel under an agreement, seen from this hub."""

    PULL = "pull"
    PUSH = "push"
    BOTH = "both"

    @property
    def pulls(self) -> bool:
        return self in (Direction.PULL, Direction.BOTH)

    @property
    def pushes(self) -> bool:
        return self in (Direction.PUSH, Direction.BOTH)


class SyncOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return self.value.capitalize()
