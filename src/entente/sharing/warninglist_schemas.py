"""Pydantic shapes of warning lists."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from entente.members.schemas import Strict
from entente.sharing.indicators import IndicatorType
from entente.sharing.warninglists import ListKind, WarningList

CheckedValue = Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class WarningListPublic(BaseModel):
    name: str
    description: str
    kind: ListKind
    enabled: bool
    sample: bool = Field(description="A small sample an operator should replace with the full list")
    version: int
    entry_count: int


def warning_list_public(item: WarningList) -> WarningListPublic:
    return WarningListPublic(
        name=item.name,
        description=item.description,
        kind=item.kind,
        enabled=item.enabled,
        sample=item.sample,
        version=item.version,
        entry_count=len(item.entries),
    )


class WarningListSwitch(Strict):
    enabled: bool


class WarningListCheck(Strict):
    type: IndicatorType
    values: list[CheckedValue] = Field(min_length=1, max_length=10_000)


class WarningListCheckResult(BaseModel):
    hits: dict[str, list[str]] = Field(description="Canonical value -> names of the lists it hits")
