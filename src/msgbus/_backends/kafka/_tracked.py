"""Pipelined writes with a result per message (KafkaWriter.message_write_tracked, for ``msgbus write``).

Every message is queued at once, with a delivery callback that knows its index;
only at the end does the caller wait, for all of them. The set of messages still
waiting for a report is bounded by the producer's own queue.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..._errors import BusClosedError, DeliveryError
from ._errors import describe

#: How often the final wait looks whether every report came.
_WAIT_SLICE = 0.005


class Tracker:
    """The delivery reports of one tracked batch: which indices are still waiting, which failed."""

    __slots__ = ("_lock", "failed", "pending")

    def __init__(self) -> None:
        self.pending: set[int] = set()
        self.failed: list[tuple[int, str]] = []
        # Reports come from the poller thread and from a writer waiting for room.
        self._lock = threading.Lock()

    def callback(self, index: int) -> Callable[[Any, Any], None]:
        """The on_delivery for message ``index``; mark it pending just before producing it."""
        self.pending.add(index)
        return functools.partial(self._report, index)

    def forget(self, index: int) -> None:
        """Message ``index`` was not queued after all (produce() raised)."""
        self.pending.discard(index)

    def _report(self, index: int, err: Any, _msg: Any) -> None:
        with self._lock:
            self.pending.discard(index)
            if err is not None:
                self.failed.append((index, describe(err)))

    def wait(self, timeout: float) -> bool:
        """Until every queued message has its report; False if some still had none after ``timeout``."""
        deadline = time.monotonic() + timeout
        while self.pending:
            if time.monotonic() >= deadline:
                return False
            time.sleep(_WAIT_SLICE)
        return True

    def outcome(self, extra: list[tuple[int, str]]) -> list[tuple[int, str]]:
        """Every message not delivered, by index: the failed reports, ``extra`` and those with no report."""
        with self._lock:
            missing = [(index, "no acknowledgement in time (_MSG_TIMED_OUT)") for index in self.pending]
            return sorted(self.failed + extra + missing)


def write_tracked(
    msgs: Iterable[str],
    encode: Callable[[object, int], bytes],
    produce: Callable[[bytes, Callable[[Any, Any], None]], object],
    timeout: float,
) -> tuple[int, list[tuple[int, str]]]:
    """KafkaWriter.message_write_tracked: ``produce`` queues one payload (waiting for room) or raises."""
    tracker = Tracker()
    extra: list[tuple[int, str]] = []
    count = 0
    try:
        for msg in msgs:
            payload = encode(msg, count)
            try:
                produce(payload, tracker.callback(count))
            except DeliveryError as exc:
                tracker.forget(count)
                extra.append((count, str(exc)))
                if exc.code == "_QUEUE_FULL":
                    count += 1
                    break
                # Refused on its own (too large, say): go on with the next.
            except BusClosedError:
                tracker.forget(count)
                extra.append((count, "the bus is disconnected"))
                count += 1
                break
            count += 1
    finally:
        # Whatever happened, wait for what was queued, so that the outcome is true.
        tracker.wait(timeout)
    return count, tracker.outcome(extra)
