"""Indicator (observable) values: their types, canonical forms, refanging and extraction from text.

Pure logic with no database or HTTP, shared by the sharing service, the pipeline's matcher
and the importers. See docs/indicator-types.md for what each type accepts.
"""

from entente.sharing.indicators.canonical import canonicalise
from entente.sharing.indicators.extraction import (
    MAX_TEXT_CHARACTERS,
    MAX_TEXT_LINES,
    ExtractedIndicator,
    ExtractionFailure,
    ExtractionResult,
    extract,
)
from entente.sharing.indicators.refang import defang, refang
from entente.sharing.indicators.types import Category, IndicatorType, parse_indicator_type

__all__ = [
    "MAX_TEXT_CHARACTERS",
    "MAX_TEXT_LINES",
    "Category",
    "ExtractedIndicator",
    "ExtractionFailure",
    "ExtractionResult",
    "IndicatorType",
    "canonicalise",
    "defang",
    "extract",
    "parse_indicator_type",
    "refang",
]
