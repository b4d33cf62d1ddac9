"""Overlapping the work of an ingest: reading ahead, and preparing batches on a few threads
while keeping their order.

Why threads and not processes: the heavy work of every stage is in pyarrow, polars and
numpy calls that release the GIL, and batches are large (about 100,000 rows), so threads
share them without copying; the Python between those calls is a small part of the time.
Both helpers bound what is in flight, so memory stays a few batches whatever the file.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def read_ahead(batches: Iterator[T], depth: int = 2) -> Iterator[T]:
    """The same items, produced by a thread that keeps up to `depth` ready.

    Parsing (pyarrow's CSV reader) and the later stages (polars, numpy, SQL) both release
    the GIL for their heavy work, so reading the next batch while this one is processed puts
    the second core to work; `depth` bounds the memory that costs. An error of the reader
    is raised here, in the consumer, where the run records it.
    """
    ready: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(message: tuple[str, Any]) -> bool:
        """Queue a message unless the consumer has gone; False once it has."""
        while not stop.is_set():
            try:
                ready.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in batches:
                if not offer(("item", item)):
                    return
            offer(("end", None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            offer(("error", exc))

    worker = threading.Thread(target=produce, name="entente-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = ready.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        worker.join(timeout=5)


def in_order_map(function: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """`function` of each item, run on up to `workers` threads at once, yielded in the
    items' order. An error of `function` is raised here when its item's turn comes; the
    items after it are not started once the consumer stops."""
    pending: deque[Future[R]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="entente-prepare") as pool:
        try:
            for item in items:
                pending.append(pool.submit(function, item))
                if len(pending) >= workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
            close = getattr(items, "close", None)
            if close is not None:  # a generator (a reading thread) stops now, not at collection
                close()
