"""Bounded thread pools, shared by the services (cells of a diff, vaults of a template) and the
AWS drivers (batch pages, version values), a rate limiter for quotas counted per second, and a
watchdog that runs a callback when a call takes too long. A leaf module: anyone may import it.

`KEEP_MAX_CONCURRENCY` (default 8, 1-64) bounds every pool so real accounts are not throttled.
"""

from __future__ import annotations

import _thread
import collections
import contextlib
import itertools
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (SPEC §12: `keep get` start-up)
if TYPE_CHECKING:  # concurrent.futures (and logging with it), threading and typing load on first
    # use: a driver module imported only to validate a vault's settings stays cheap (SPEC §12)
    import threading
    from concurrent.futures import Future, ThreadPoolExecutor
    from types import FrameType
    from typing import Any, TypeVar

    T = TypeVar("T")
    R = TypeVar("R")

DEFAULT_CONCURRENCY = 8


def max_concurrency() -> int:
    raw = os.environ.get("KEEP_MAX_CONCURRENCY", "")
    try:
        value = int(raw)
    except ValueError:
        return DEFAULT_CONCURRENCY
    return max(1, min(value, 64))


def concurrent_map(
    func: Callable[[T], R], items: Sequence[T], limit: int | None = None, name: str = "keep"
) -> list[R]:
    """`[func(x) for x in items]` in parallel (bounded), results in input order. The first
    exception is re-raised after the calls already started finish."""
    if len(items) <= 1:
        return [func(item) for item in items]
    workers = min(limit or max_concurrency(), len(items))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        return list(pool.map(func, items))


def pipelined(
    pages: Iterable[Sequence[T]],
    size: int,
    fetch: Callable[[list[T]], list[R]],
    limit: int | None = None,
    name: str = "keep",
    hold: bool = False,
) -> list[R]:
    """Cut each page of `pages` into chunks of `size` and run `fetch` on every chunk in a
    bounded pool as soon as its page arrives, while the next page is still being read (a
    listing whose pages must come one after another, and value reads that need not). Results
    in page and chunk order, flattened. An error of the listing or of a fetch is re-raised once
    the calls already started have finished; chunks not started yet are dropped.

    Without `limit`, the chunks run on the process's fetch pool (`KEEP_MAX_CONCURRENCY`
    threads, started once, off the listing thread): a pool per listing started its threads
    from the listing thread, which waited for the OS to run each new thread (a few ms each on
    a busy machine) before it could ask for the next page. `fetch` must not wait on the pool
    it runs in; one that calls `pipelined` again gets a pool of its own.

    With `hold`, a page's chunks are held until the listing sends its next request (the AWS
    clients call :func:`request_going_out` from botocore's `before-send`), or until the next
    page or the end of the listing, whichever comes first: the next page's request leaves
    before the value reads it would otherwise queue behind (for the GIL in this process, for
    the call gate, for the server), and the reads still overlap its round trip. Only for
    pages read through such a client: a page that waits on its own fetches would wait forever."""
    pool = None if limit is not None else _fetch_pool()
    if pool is None:
        return _pipelined_private(pages, size, fetch, limit, name, hold)
    futures: list[Future[list[R]]] = []
    try:
        return _gather(pool, pages, size, fetch, futures, hold)
    finally:
        for future in futures:
            future.cancel()
        from concurrent.futures import wait

        wait(futures)


def _pipelined_private(
    pages: Iterable[Sequence[T]], size: int, fetch: Callable[[list[T]], list[R]], limit: int | None, name: str,
    hold: bool,
) -> list[R]:
    workers = max(1, limit or max_concurrency())
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
    try:
        return _gather(pool, pages, size, fetch, [], hold)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _Listing(_thread._local):  # threading.local
    #: the current thread's listing's held chunks: started by `request_going_out`
    release: Callable[[], None] | None = None


_listing = _Listing()


def request_going_out(**_: Any) -> None:
    """A request is about to leave this thread (botocore's `before-send`, registered by the AWS
    drivers on their clients): if this thread is listing with `pipelined(hold=True)`, the
    previous page's held value reads start now. Returns None, as `before-send` must."""
    release = _listing.release
    if release is not None:
        release()


def listing_in_this_thread() -> bool:
    """Whether this thread is listing pages with held value reads (its calls go first)."""
    return _listing.release is not None


def _gather(
    pool: ThreadPoolExecutor | _FetchPool,
    pages: Iterable[Sequence[T]],
    size: int,
    fetch: Callable[[list[T]], list[R]],
    futures: list[Future[list[R]]],
    hold: bool = False,
) -> list[R]:
    """Submit each page's chunks of `size` to `pool` as the page arrives (into `futures`, which
    the caller cancels or shuts down on the way out), then the results in order. With `hold`,
    each page's chunks wait for the listing's next request (see :func:`pipelined`)."""
    held: list[list[T]] = []

    def release() -> None:
        for chunk in held:
            futures.append(pool.submit(fetch, chunk))
        held.clear()

    outer = _listing.release
    if hold:
        _listing.release = release
    try:
        for page in pages:
            release()  # the page came without a request through a releasing client
            items = list(page)
            for start in range(0, len(items), size):
                held.append(items[start : start + size])
            if not hold:
                release()
        release()
    finally:
        _listing.release = outer
    return [result for future in futures for result in future.result()]


class _FetchPool:
    """`size` daemon threads taking (future, function, argument) from one queue; started by a
    helper thread, so whoever makes the pool does not wait for them."""

    def __init__(self, size: int) -> None:
        self.size = size
        import queue  # on first use (SPEC §12: start-up)

        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[Any], Any], Any]] = queue.SimpleQueue()
        import threading  # on first use, as every thread of keep's (SPEC §12: start-up)

        threading.Thread(target=self._start_workers, name="keep-read-start", daemon=True).start()

    def _start_workers(self) -> None:
        import threading

        for number in range(self.size):
            threading.Thread(target=self._work, name=f"keep-read_{number}", daemon=True).start()

    def submit(self, func: Callable[[T], R], arg: T) -> Future[R]:
        from concurrent.futures import Future

        future: Future[R] = Future()
        self._queue.put((future, func, arg))
        return future

    def _work(self) -> None:
        _in_fetch_pool.active = True
        while True:
            future, func, arg = self._queue.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(func(arg))
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)


class _InFetchPool(_thread._local):  # threading.local
    active = False


_in_fetch_pool = _InFetchPool()
_pool_lock = _thread.allocate_lock()  # threading.Lock()
#: one pool per KEEP_MAX_CONCURRENCY value seen (in a real process, one): never stopped, since
#: a listing of another thread may still be using it; idle daemon threads cost nothing
_pools: dict[int, _FetchPool] = {}
# a forked child has none of its parent's threads: it makes pools of its own
os.register_at_fork(after_in_child=_pools.clear)


def _fetch_pool() -> _FetchPool | None:
    """The process's fetch pool for the current `KEEP_MAX_CONCURRENCY`; None in one of the
    pools' own threads."""
    if _in_fetch_pool.active:
        return None
    size = max_concurrency()
    with _pool_lock:
        pool = _pools.get(size)
        if pool is None:
            pool = _pools[size] = _FetchPool(size)
        return pool


class Gate:
    """A semaphore of `size` (as many holders at once) where an acquirer marked `first` (a
    listing's next page, on the critical path of a pipelined listing) goes before every other
    waiter. Thread-safe; `with gate.held(first):`."""

    def __init__(self, size: int) -> None:
        import threading

        self.size = max(1, size)
        self._cond = threading.Condition()
        self._holders = 0
        self._first_waiting = 0
        self._waiting = 0

    @property
    def waiting(self) -> int:
        """How many acquirers are waiting now."""
        with self._cond:
            return self._waiting

    def acquire(self, first: bool = False) -> None:
        with self._cond:
            self._waiting += 1
            self._first_waiting += first
            try:  # a `first` acquirer waits for a free place only; the others also for every `first` one
                while self._holders >= self.size or (not first and self._first_waiting):
                    self._cond.wait()
            finally:
                self._waiting -= 1
                self._first_waiting -= first
            self._holders += 1

    def release(self) -> None:
        with self._cond:
            if self._holders <= 0:
                raise ValueError("Gate released more often than acquired")
            self._holders -= 1
            self._cond.notify_all()

    @contextlib.contextmanager
    def held(self, first: bool = False) -> Iterator[None]:
        self.acquire(first)
        try:
            yield
        finally:
            self.release()


class RateLimiter:
    """At most `rate` starts in any rolling second (a sliding window, so no burst beyond the
    quota either). `acquire()` blocks until a start is allowed. Thread-safe."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = max(1, int(rate))
        self._clock = clock
        self._sleep = sleep
        self._starts: collections.deque[float] = collections.deque()
        self._lock = _thread.allocate_lock()  # threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                while self._starts and now - self._starts[0] >= 1.0:
                    self._starts.popleft()
                if len(self._starts) < self.rate:
                    self._starts.append(now)
                    return
                wait = 1.0 - (now - self._starts[0])
            self._sleep(max(wait, 0.001))


class Watchdog:
    """Callbacks run `after` seconds unless cancelled first, all from one daemon thread started
    on first use. A `threading.Timer` per call would start a thread per call: ~0.3 ms of CPU
    each, and the caller blocks in `Timer.start()` until the OS has run the new thread (2-6 ms
    on a busy machine), in front of every request of a listing's critical path. Here
    `schedule` and `cancel` only take a lock, and the thread wakes when the earliest deadline
    passes (or when an earlier one is scheduled). Callbacks run outside the lock, one after
    another. Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        import threading

        self._clock = clock
        self._cond = threading.Condition()
        self._due: dict[int, tuple[float, Callable[[], None]]] = {}
        self._tokens = itertools.count()
        self._waiting_until = float("inf")
        self._thread: threading.Thread | None = None

    def schedule(self, after: float, callback: Callable[[], None]) -> int:
        """Run `callback` in `after` seconds; returns the token that cancels it."""
        with self._cond:
            token = next(self._tokens)
            deadline = self._clock() + after
            self._due[token] = (deadline, callback)
            if self._thread is None:
                import threading

                self._thread = threading.Thread(target=self._run, name="keep-watchdog", daemon=True)
                self._thread.start()
            elif deadline < self._waiting_until:
                self._cond.notify()
            return token

    def cancel(self, token: int) -> None:
        with self._cond:
            self._due.pop(token, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                now = self._clock()
                ready = [token for token, (deadline, _) in self._due.items() if deadline <= now]
                callbacks = [self._due.pop(token)[1] for token in ready]
                if not callbacks:
                    self._waiting_until = min((deadline for deadline, _ in self._due.values()), default=float("inf"))
                    self._cond.wait(None if self._waiting_until == float("inf") else self._waiting_until - now)
                    continue
            for callback in callbacks:
                # a callback's bug must not stop the others
                with contextlib.suppress(Exception):
                    callback()


@contextlib.contextmanager
def on_ctrl_c(callback: Callable[[], None], *, then_previous: bool = True) -> Iterator[bool]:
    """While inside, Ctrl+C (SIGINT) first calls `callback`, then, with `then_previous`, the
    handler that was in place (Python's raises KeyboardInterrupt); the old handler is put back
    on the way out. The callback sees every Ctrl+C, also one whose KeyboardInterrupt Python
    drops: raised inside a finalizer or an import's lock callback ("Exception ignored in ...").
    Yields whether it is in force: not off the main thread (only it gets signals, and may set
    their handlers) nor where SIGINT is ignored (a background job), which stay as they were."""
    import signal
    import threading

    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield False
        return
    chained = previous

    def handle(signum: int, frame: FrameType | None) -> None:
        callback()
        if then_previous:
            chained(signum, frame)

    signal.signal(signal.SIGINT, handle)
    try:
        yield True
    finally:
        signal.signal(signal.SIGINT, previous)
