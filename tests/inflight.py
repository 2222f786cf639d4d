"""Proving concurrency by counting, not by timing.

`InFlight(expected)` is entered by every call under test (`with gauge:` or as a proxy hook). It
records the most calls in flight at once (`peak`), and holds each call until `expected` calls are
in flight together (`reached` is then set and no later call waits). So when the code under test
really runs `expected` calls at once, they meet and the test goes on at once, however slow the
machine; when it runs fewer, the calls wait `timeout` seconds, `reached` stays unset and the test
fails (never a hang). Whether a bound is kept is `peak <= limit`: a correct program passes
however slow the machine is; `hold` (each call also stays in flight that long) only gives a
program that breaks its bound more chances to show it.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType


class InFlight:
    def __init__(self, expected: int, timeout: float = 15.0, hold: float = 0.0) -> None:
        if expected < 1:
            raise ValueError("expected must be >= 1")
        self.expected = expected
        self.timeout = timeout
        self.hold = hold
        self.current = 0
        self.peak = 0
        self.calls = 0
        self.reached = threading.Event()
        self._lock = threading.Lock()

    def __enter__(self) -> InFlight:
        with self._lock:
            self.current += 1
            self.calls += 1
            self.peak = max(self.peak, self.current)
            if self.current >= self.expected:
                self.reached.set()
        self.reached.wait(self.timeout)
        if self.hold:
            time.sleep(self.hold)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with self._lock:
            self.current -= 1

    def __call__(self, request: object) -> None:
        """As a tests/aws/proxy.py hook: hold the request in flight, let it through unchanged."""
        with self:
            pass
