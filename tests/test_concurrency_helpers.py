"""The pipelined fetch and the rate limiter of keep_secrets/concurrency.py (no network; the
limiter runs on a fake clock, so nothing here depends on timing)."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keep_secrets.concurrency import (
    Gate,
    RateLimiter,
    listing_in_this_thread,
    max_concurrency,
    pipelined,
    request_going_out,
)


@given(pages=st.lists(st.lists(st.integers(), max_size=23), max_size=6), size=st.integers(1, 10))
def test_pipelined_is_a_flat_map_in_order(pages: list[list[int]], size: int) -> None:
    assert pipelined(pages, size, lambda chunk: [x * 2 for x in chunk], limit=3) == [
        x * 2 for page in pages for x in page
    ]


def test_pipelined_fetches_a_page_before_the_next_page_is_listed() -> None:
    fetched = threading.Event()

    def pages() -> Iterator[list[int]]:
        yield [1, 2, 3]
        assert fetched.wait(timeout=10), "no fetch started before the second page was asked for"
        yield [4]

    def fetch(chunk: list[int]) -> list[int]:
        fetched.set()
        return chunk

    assert pipelined(pages(), 2, fetch) == [1, 2, 3, 4]


def test_pipelined_chunks_never_exceed_size() -> None:
    seen: list[int] = []
    pipelined([list(range(25)), list(range(3))], 10, lambda chunk: seen.append(len(chunk)) or [])
    assert sorted(seen) == [3, 5, 10, 10]


def test_pipelined_reraises_a_fetch_error_and_drops_unstarted_chunks() -> None:
    started: list[int] = []

    def fetch(chunk: list[int]) -> list[int]:
        started.append(chunk[0])
        if chunk[0] == 0:
            raise ValueError("boom")
        return chunk

    with pytest.raises(ValueError, match="boom"):
        pipelined([list(range(100))], 1, fetch, limit=1)
    assert len(started) < 100


def test_pipelined_reraises_a_listing_error() -> None:
    def pages() -> Iterator[list[int]]:
        yield [1]
        raise KeyError("page 2")

    with pytest.raises(KeyError):
        pipelined(pages(), 10, lambda chunk: chunk)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@settings(max_examples=50)
@given(rate=st.integers(1, 50), gaps=st.lists(st.floats(0, 0.2), min_size=1, max_size=200))
def test_rate_limiter_never_starts_more_than_rate_in_any_second(rate: int, gaps: list[float]) -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate, clock=clock, sleep=clock.sleep)
    starts = []
    for gap in gaps:
        clock.now += gap
        limiter.acquire()
        starts.append(clock.now)
    for i, start in enumerate(starts):
        assert sum(1 for s in starts[i:] if s - start < 1.0) <= rate
    # and it never waits when under the rate
    if len(gaps) <= rate:
        assert starts[-1] == pytest.approx(sum(gaps))


def test_watchdog_runs_callbacks_when_due_and_never_cancelled_ones() -> None:
    from keep_secrets.concurrency import Watchdog

    watchdog = Watchdog()
    fired: list[str] = []
    done = threading.Event()
    late = watchdog.schedule(30.0, lambda: fired.append("late"))  # the thread now waits ~30 s
    cancelled = watchdog.schedule(0.01, lambda: fired.append("cancelled"))
    watchdog.cancel(cancelled)
    # an earlier deadline than the one the thread waits for wakes it up
    watchdog.schedule(0.05, lambda: (fired.append("early"), done.set()))
    assert done.wait(timeout=10), "a callback due in 50 ms had not run after 10 s"
    watchdog.cancel(late)
    assert fired == ["early"]


def test_watchdog_schedules_from_many_threads_without_starting_threads() -> None:
    from keep_secrets.concurrency import Watchdog

    watchdog = Watchdog()
    watchdog.cancel(watchdog.schedule(60.0, lambda: None))  # its one thread is running now
    threads_before = threading.active_count()
    tokens: list[int] = []

    def burst() -> None:
        for _ in range(200):
            tokens.append(watchdog.schedule(60.0, lambda: None))

    workers = [threading.Thread(target=burst) for _ in range(4)]
    for worker in workers:
        worker.start()
    assert threading.active_count() <= threads_before + len(workers)
    for worker in workers:
        worker.join()
    assert len(set(tokens)) == 800
    for token in tokens:
        watchdog.cancel(token)


# -- the process's fetch pool (pipelined without `limit`, as the drivers call it) ---------------

@given(pages=st.lists(st.lists(st.integers(), max_size=23), max_size=6), size=st.integers(1, 10))
def test_pipelined_on_the_shared_pool_is_a_flat_map_in_order(pages: list[list[int]], size: int) -> None:
    assert pipelined(pages, size, lambda chunk: [x * 2 for x in chunk]) == [x * 2 for page in pages for x in page]


def test_the_shared_pool_reraises_a_fetch_error_and_drops_unstarted_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEP_MAX_CONCURRENCY", "1")
    started: list[int] = []
    release = threading.Event()

    def fetch(chunk: list[int]) -> list[int]:
        started.append(chunk[0])
        if chunk[0] == 0:
            assert release.wait(timeout=10)
            raise ValueError("boom")
        time.sleep(0.02)  # 2 s for all the others: the error is seen long before
        return chunk

    def pages() -> Iterator[list[int]]:
        yield list(range(100))
        release.set()

    with pytest.raises(ValueError, match="boom"):
        pipelined(pages(), 1, fetch)
    assert started[0] == 0 and len(started) < 100


def test_a_fetch_that_pipelines_again_does_not_wait_on_its_own_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEP_MAX_CONCURRENCY", "1")  # one thread: waiting on it from it would hang
    result: list[list[int]] = []

    def outer() -> None:
        result.append(pipelined([[1, 2], [3]], 1, lambda chunk: pipelined([chunk], 1, lambda inner: inner)))

    thread = threading.Thread(target=outer, daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert result == [[1, 2, 3]]


def test_listings_after_the_first_start_no_thread() -> None:
    from keep_secrets import concurrency

    pipelined([[1, 2, 3]], 1, lambda chunk: chunk)
    assert max_concurrency() in concurrency._pools
    # the pool's threads are started in the background. Every pool this process made so far
    # counts (one per KEEP_MAX_CONCURRENCY an earlier test of this pytest-xdist worker set,
    # e.g. 1 or 3): counting only up to this pool's size ended the wait while its last threads
    # were still starting, and they showed up as "new" threads below
    expected = sum(pool.size for pool in list(concurrency._pools.values()))
    deadline = time.monotonic() + 30
    while sum(t.name.startswith("keep-read_") for t in threading.enumerate()) < expected:
        assert time.monotonic() < deadline, "the pools' threads did not all start"
        time.sleep(0.01)
    before = {t.ident for t in threading.enumerate()}
    for _ in range(5):
        assert pipelined([list(range(40)), [7]], 10, lambda chunk: chunk) == [*range(40), 7]
    assert {t.ident for t in threading.enumerate()} <= before


# -- held value reads (pipelined(hold=True), as the AWS drivers list) and the call gate ---------

@given(pages=st.lists(st.lists(st.integers(), max_size=23), max_size=6), size=st.integers(1, 10),
       limit=st.sampled_from([None, 2]))
def test_held_pipelined_is_a_flat_map_in_order(pages: list[list[int]], size: int, limit: int | None) -> None:
    """Without any request (nothing calls request_going_out), held chunks still all run: each
    page's at the next page, the last page's at the end."""
    assert pipelined(pages, size, lambda chunk: [x * 2 for x in chunk], limit=limit, hold=True) == [
        x * 2 for page in pages for x in page
    ]


def test_held_chunks_start_when_the_listing_sends_its_next_request() -> None:
    started = threading.Event()

    def fetch(chunk: list[int]) -> list[int]:
        started.set()
        return chunk

    def pages() -> Iterator[list[int]]:
        yield [1, 2, 3]
        # the next page's request is being prepared: nothing of page 1 has started
        assert not started.wait(timeout=0.2), "a held chunk started before the next request"
        request_going_out()  # what botocore's before-send does as the request leaves
        assert started.wait(timeout=10), "the held chunks did not start with the next request"
        yield [4]

    assert pipelined(pages(), 2, fetch, hold=True) == [1, 2, 3, 4]
    assert not listing_in_this_thread()


def test_request_going_out_outside_a_held_listing_does_nothing() -> None:
    assert not listing_in_this_thread()
    request_going_out()
    seen: list[bool] = []

    def pages() -> Iterator[list[int]]:
        seen.append(listing_in_this_thread())
        yield [1]

    pipelined(pages(), 1, lambda chunk: chunk)
    pipelined(pages(), 1, lambda chunk: chunk, hold=True)
    assert seen == [False, True]


def test_a_listing_error_drops_the_held_chunks() -> None:
    fetched: list[list[int]] = []

    def pages() -> Iterator[list[int]]:
        yield [1, 2]
        raise KeyError("page 2")

    with pytest.raises(KeyError):
        pipelined(pages(), 1, lambda chunk: fetched.append(chunk) or chunk, hold=True)
    assert fetched == [] and not listing_in_this_thread()


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_first_waiter_passes_the_gate_before_earlier_waiters() -> None:
    gate = Gate(1)
    gate.acquire()
    order: list[str] = []

    def enter(name: str, first: bool) -> None:
        with gate.held(first):
            order.append(name)

    threads: list[threading.Thread] = []
    for name, first in (("read 1", False), ("read 2", False), ("next page", True)):
        thread = threading.Thread(target=enter, args=(name, first))
        thread.start()
        threads.append(thread)
        _wait_for(functools.partial(lambda n: gate.waiting == n, len(threads)))
    gate.release()
    for thread in threads:
        thread.join(timeout=10)
    assert order[0] == "next page" and sorted(order[1:]) == ["read 1", "read 2"]


@pytest.mark.parametrize("size", [1, 3])
def test_the_gate_never_holds_more_than_its_size(size: int) -> None:
    gate = Gate(size)
    lock = threading.Lock()
    inside = peak = 0

    def work(i: int) -> None:
        nonlocal inside, peak
        with gate.held(first=i % 3 == 0):
            with lock:
                inside += 1
                peak = max(peak, inside)
            time.sleep(0.002)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert 1 <= peak <= size and inside == 0 and gate.waiting == 0
    with pytest.raises(ValueError):
        gate.release()
