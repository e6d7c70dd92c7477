"""What the failure-policy tests share: a bound on each test, a wait, and the headers of a topic."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import msgbus
from msgbus._backends import memory
from msgbus.testing import MemoryBus

WAIT = 10.0
F = TypeVar("F", bound=Callable[..., None])


def bounded(test: F) -> F:
    """Run the test in a thread and fail it after 2 * WAIT: a broken policy must fail a test, not hang it."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        error: list[BaseException] = []

        def target() -> None:
            try:
                test(*args, **kwargs)
            except BaseException as exc:
                error.append(exc)

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        thread.join(2 * WAIT)
        assert not thread.is_alive(), f"{test.__name__} did not finish within {2 * WAIT:g} s"
        if error:
            raise error[0]

    return run  # type: ignore[return-value]


FAST = msgbus.Retry(attempts=3, backoff=0.01, max_backoff=0.02)


def wait_for(predicate: Any, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def headers_of(mem: MemoryBus, topic: str) -> list[dict[str, bytes]]:
    return [dict(h) for h in memory.message_headers(memory.address(mem.config(topic, msgbus.BusWriter)), topic)]
