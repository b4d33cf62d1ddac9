"""Asking a remote source again: which failures are worth it, and how often and how long apart.

URL feeds (httpx) and TAXII feeds (requests, through taxii2-client) translate their clients'
errors each their own way, but retry alike: `SourceOptions.retries` more attempts, waiting
`retry_backoff_seconds` doubled each time, then one `FetchError` naming the URL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from entente.core.errors import FetchError
from entente.pipeline.sources import SourceOptions

T = TypeVar("T")
Sleep = Callable[[float], None]


class Retryable(Exception):
    """An answer worth asking again for: 5xx, 429, a dropped or timed-out connection."""


def with_retries(url: str, call: Callable[[], T], options: SourceOptions, sleep: Sleep) -> T:
    """`call()`, again after each `Retryable`, until it answers or the attempts run out."""
    attempts = options.retries + 1
    for attempt in range(attempts):
        try:
            return call()
        except Retryable as exc:
            if attempt + 1 == attempts:
                tries = f"{attempts} attempts" if attempts > 1 else "1 attempt"
                raise FetchError(
                    f"could not fetch {url}: {exc} (gave up after {tries})",
                    field="source",
                    value=url,
                ) from exc
            sleep(options.retry_backoff_seconds * 2**attempt)
    raise AssertionError("unreachable: the last attempt returns or raises")
