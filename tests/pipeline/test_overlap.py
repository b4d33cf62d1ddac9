"""Reading ahead and preparing batches on threads: order, errors, and stopping early."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from entente.pipeline.overlap import in_order_map, read_ahead


def slow_square(number: int) -> int:
    # Early items take longest, so a pool that yielded as results came would reorder them.
    time.sleep(0.002 * (10 - number % 10))
    return number * number


def test_results_come_in_the_order_of_the_items() -> None:
    assert list(in_order_map(slow_square, range(30), workers=3)) == [n * n for n in range(30)]


def test_work_runs_on_several_threads_at_once() -> None:
    running, peak, lock = 0, 0, threading.Lock()

    def tracked(number: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.01)
        with lock:
            running -= 1
        return number

    assert list(in_order_map(tracked, range(8), workers=2)) == list(range(8))
    assert peak == 2


def test_an_error_is_raised_at_its_items_turn_and_later_items_stop() -> None:
    started: list[int] = []

    def fails_on_three(number: int) -> int:
        started.append(number)
        if number == 3:
            raise ValueError("bad batch")
        return number

    results = []
    with pytest.raises(ValueError, match="bad batch"):
        for result in in_order_map(fails_on_three, range(100), workers=2):
            results.append(result)
    assert results == [0, 1, 2]
    assert max(started) < 10  # bounded: the pool never ran far ahead


def test_stopping_early_closes_the_reading_thread() -> None:
    produced: list[int] = []

    def numbers() -> Iterator[int]:
        for number in range(1_000):
            produced.append(number)
            yield number

    mapped = in_order_map(lambda n: n, read_ahead(numbers(), depth=1), workers=2)
    assert next(mapped) == 0
    mapped.close()
    settled = len(produced)
    time.sleep(0.05)
    assert len(produced) == settled < 10
    assert not any(t.name == "entente-read-ahead" for t in threading.enumerate())


def test_a_reading_error_reaches_the_consumer() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        list(in_order_map(lambda n: n, read_ahead(broken()), workers=2))
