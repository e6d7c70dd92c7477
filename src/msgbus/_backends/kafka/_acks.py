"""What a Kafka write waits on: a message's bytes on the wire, and the delivery reports of one write or a batch."""

from __future__ import annotations

import threading
from typing import Any

from ..._errors import InvalidMessageError


def encode(msg: object) -> bytes:
    """A message as it goes on the wire: UTF-8, as the Go package writes it."""
    if not isinstance(msg, str):
        raise InvalidMessageError(f"a message must be a str, not {type(msg).__name__}")
    try:
        # surrogateescape: a str read from the bus with invalid UTF-8 goes back byte for byte.
        return msg.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as exc:
        raise InvalidMessageError(f"the message cannot be encoded as UTF-8: {exc}") from None


class Acknowledgement:
    """Waits for one message's delivery report."""

    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: Any = None

    def __call__(self, err: Any, _msg: Any) -> None:
        self.error = err
        self.done.set()


def encode_fast(msg: object, index: int) -> bytes:
    if type(msg) is str:
        try:
            return msg.encode("utf-8")
        except UnicodeEncodeError:
            pass
    try:
        return encode(msg)
    except InvalidMessageError as exc:
        raise InvalidMessageError(f"message {index} of the batch: {exc} ({index} before it were written)") from None


class Acknowledgements:
    """Counts the delivery reports of a batch; ``expect`` waits for all of them."""

    __slots__ = ("_expected", "_lock", "delivered", "done", "failed", "first_error")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._expected = -1
        self.delivered = 0
        self.failed = 0
        self.first_error: Any = None
        self.done = threading.Event()

    def __call__(self, err: Any, _msg: Any) -> None:
        # Reports may come from two threads (the poller, and a writer waiting for room).
        with self._lock:
            if err is None:
                self.delivered += 1
            else:
                self.failed += 1
                if self.first_error is None:
                    self.first_error = err
            if self.delivered + self.failed == self._expected:
                self.done.set()

    def expect(self, count: int, timeout: float) -> bool:
        with self._lock:
            self._expected = count
            if self.delivered + self.failed >= count:
                return True
        return self.done.wait(timeout)
