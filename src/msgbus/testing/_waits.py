"""Bounded waits for tests: the one polling loop, and reading a number of messages."""

from __future__ import annotations

import time
from collections.abc import Callable

from .._backends.base import MsgBusIO


def waited(predicate: Callable[[], bool], timeout: float, poll: float = 0.01) -> bool:
    """Poll ``predicate`` every ``poll`` seconds until it holds (True) or ``timeout`` seconds passed (False)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` until it holds; ``AssertionError`` naming ``what`` after ``timeout`` seconds."""
    if not waited(predicate, timeout):
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def read_n(bus: MsgBusIO, count: int, timeout: float) -> list[str]:
    """``count`` messages from a Blocking reader, each within ``timeout`` seconds (else ``AssertionError``)."""
    out: list[str] = []
    for _ in range(count):
        msg = bus.message_read(timeout=timeout)
        if msg is None:
            raise AssertionError(f"only {len(out)} of {count} messages arrived within {timeout:g} s each")
        out.append(msg)
    return out
