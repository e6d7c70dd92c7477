"""A reader's failure policy at work: attempts per message, back-off, dead letters, counters.

One ``Failures`` per reader (``Inbox.failures``); its own lock guards its
attempts and counters, never held while it calls out (logs, dead-letter writes). The callback thread and the
reading loops (``for msg in reader``, aio's ``async for``) report each failed
attempt with ``failed``; it says what comes next: a retry after a back-off, or
the policy's outcome. Attempts are counted per (partition, offset), so a message
handed back by one loop and read again by the next keeps its count.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from .. import _log
from .._config import BlockingMode, BusDir, BusStatus, MsgBusConfig
from .._failure import (
    HEADER_ATTEMPTS,
    HEADER_ERROR_MESSAGE,
    HEADER_ERROR_TYPE,
    HEADER_FIRST_FAILURE,
    HEADER_OFFSET,
    HEADER_PARTITION,
    HEADER_TIMESTAMP,
    HEADER_TOPIC,
    DeadLetter,
    Drop,
    HandlerError,
    Policy,
    Stop,
    attempts_of,
    backoff,
    outcome_of,
    truncate_utf8,
)
from .._headers import HeadersArg
from .item import Item

# At most this many messages' attempts are remembered (the oldest go first): a message
# that failed and was then taken by a plain message_read is never reported again.
_MAX_TRACKED = 10_000
# What the error headers say for a loop that was left while it held a message.
_LOOP_LEFT_TYPE = "msgbus.LoopLeft"
_LOOP_LEFT_TEXT = "the loop over the reader was left while it held this message (an exception in its body, or break)"


class Next(enum.Enum):
    """What comes after a failed attempt."""

    RETRY = "retry"
    DROP = "drop"
    DEAD_LETTER = "dead_letter"
    STOP = "stop"


class DeadLetterWriter(Protocol):
    """A Blocking writer (its ``message_write`` returns once acknowledged): KafkaWriter, MemoryWriter."""

    def message_write(self, msg: str, headers: HeadersArg | None = None) -> None: ...

    def status(self) -> BusStatus: ...

    def disconnect(self) -> None: ...


#: Opens the dead-letter writer from its config (the reader's backend does it: ``ReaderBase._dead_letter_writer``).
Opener = Callable[[MsgBusConfig], DeadLetterWriter]


@dataclasses.dataclass
class _Attempts:
    failures: int
    first_ms: int
    error_type: str
    error_text: str
    not_before: float
    exhausted: bool = False


def _describe(exc: BaseException | None) -> tuple[str, str]:
    if exc is None:
        return _LOOP_LEFT_TYPE, _LOOP_LEFT_TEXT
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    return name, str(exc)


class Failures:
    def __init__(self, name: str) -> None:
        self._name = name
        self.policy: Policy = Drop()
        self._cfg: MsgBusConfig | None = None
        self._opener: Opener | None = None
        self._writer: DeadLetterWriter | None = None
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._attempts: dict[tuple[int, int], _Attempts] = {}
        # Retry warnings and dead-letter write errors repeat: one line per kind per window.
        self._throttle = _log.Throttle()
        self.retried = 0
        self.dead_lettered = 0
        self.dropped = 0

    def configure(self, cfg: MsgBusConfig, opener: Opener) -> None:
        """Take the policy from ``cfg``; ``opener`` opens the dead-letter writer on first use."""
        self.policy = cfg.on_handler_error
        self._cfg = cfg
        self._opener = opener

    @property
    def name(self) -> str:
        """Whose messages these are (the topic), for log lines."""
        return self._name

    @property
    def active(self) -> bool:
        """False for ``Drop()``: msgbus does what it always did (nothing retried, held or handed back)."""
        return not isinstance(self.policy, Drop)

    @property
    def tracking(self) -> bool:
        """True while some message's failed attempts are remembered (``succeeded`` has one to forget)."""
        return bool(self._attempts)

    def counts(self) -> dict[str, int]:
        """For ``stats()``."""
        return {"retried": self.retried, "dead_lettered": self.dead_lettered, "dropped": self.dropped}

    # -- one failed attempt ------------------------------------------------------

    def failed(self, item: Item, exc: BaseException | None) -> tuple[Next, float]:
        """Count a failed attempt on ``item``: retry after the returned seconds, or the policy's outcome."""
        key = (item.partition, item.offset)
        error_type, error_text = _describe(exc)
        with self._lock:
            entry = self._attempts.get(key)
            if entry is None:
                if len(self._attempts) >= _MAX_TRACKED:
                    del self._attempts[next(iter(self._attempts))]
                entry = self._attempts[key] = _Attempts(0, time.time_ns() // 1_000_000, "", "", 0.0)
            entry.failures += 1
            entry.error_type, entry.error_text = error_type, error_text
            if entry.failures < attempts_of(self.policy):
                delay = backoff(self.policy, entry.failures)
                entry.not_before = time.monotonic() + delay
                self.retried += 1
                return Next.RETRY, delay
            entry.exhausted = True
        outcome = outcome_of(self.policy)
        if isinstance(outcome, DeadLetter):
            return Next.DEAD_LETTER, 0.0
        return (Next.STOP, 0.0) if isinstance(outcome, Stop) else (Next.DROP, 0.0)

    def pending(self, item: Item) -> tuple[Next | None, float]:
        """For a loop that just took ``item``: None (a fresh message), a retry's remaining back-off, or its outcome."""
        if not self._attempts:
            return None, 0.0
        with self._lock:
            entry = self._attempts.get((item.partition, item.offset))
            if entry is None:
                return None, 0.0
            if not entry.exhausted:
                return Next.RETRY, max(0.0, entry.not_before - time.monotonic())
        return (Next.DEAD_LETTER, 0.0) if isinstance(outcome_of(self.policy), DeadLetter) else (Next.DROP, 0.0)

    def succeeded(self, item: Item) -> None:
        """``item`` was handled: forget its attempts."""
        if self._attempts:
            with self._lock:
                self._attempts.pop((item.partition, item.offset), None)

    def _entry(self, item: Item) -> _Attempts:
        with self._lock:
            entry = self._attempts.get((item.partition, item.offset))
        return entry if entry is not None else _Attempts(1, time.time_ns() // 1_000_000, *_describe(None), 0.0)

    # -- the outcomes --------------------------------------------------------------

    def drop(self, item: Item, exc: BaseException | None) -> None:
        entry = self._entry(item)
        _log.logger().warning(
            "handler failed %d time(s) on %s (partition %d, offset %d): %s: %s; dropped (counted as finished)",
            entry.failures,
            self._name,
            item.partition,
            item.offset,
            entry.error_type,
            entry.error_text,
            exc_info=exc is not None and not isinstance(exc, GeneratorExit),
        )
        with self._lock:
            self.dropped += 1
            self._attempts.pop((item.partition, item.offset), None)

    def count_dropped(self) -> None:
        """The default policy (Drop) dropped a message: the callback logged it as it always did."""
        with self._lock:
            self.dropped += 1

    def stop(self, item: Item, exc: BaseException | None) -> HandlerError:
        """The error every read raises from now on (the caller stops the inbox with it)."""
        entry = self._entry(item)
        error = HandlerError(
            f"the handler failed {entry.failures} time(s) on {self._name} "
            f"partition {item.partition} offset {item.offset} "
            f"({entry.error_type}: {entry.error_text}); the policy is Stop, so the reader stopped and the message "
            "is not committed: disconnect, fix the cause and connect again",
            topic=self._name,
            partition=item.partition,
            offset=item.offset,
            attempts=entry.failures,
        )
        error.__cause__ = exc
        _log.logger().error("%s", error)
        return error

    def log_retry(self, who: str, item: Item, exc: BaseException | None, delay: float) -> None:
        """A failed attempt that will be retried: a warning, throttled per reader and error type."""
        error_type, _ = _describe(exc)
        self._throttle.log(
            logging.WARNING,
            f"retry {self._name} {error_type}",
            "%s raised on %s (partition %d, offset %d): %r; trying again in %.2f s",
            who,
            self._name,
            item.partition,
            item.offset,
            exc,
            delay,
        )

    def headers(self, item: Item) -> list[tuple[str, bytes]]:
        """The headers a dead letter of ``item`` carries."""
        entry = self._entry(item)
        return [
            (HEADER_TOPIC, self._name.encode()),
            (HEADER_PARTITION, str(item.partition).encode()),
            (HEADER_OFFSET, str(item.offset).encode()),
            (HEADER_TIMESTAMP, str(item.timestamp).encode()),
            (HEADER_ERROR_TYPE, entry.error_type.encode("utf-8", "replace")),
            (HEADER_ERROR_MESSAGE, truncate_utf8(entry.error_text)),
            (HEADER_ATTEMPTS, str(entry.failures).encode()),
            (HEADER_FIRST_FAILURE, str(entry.first_ms).encode()),
        ]

    def dead_letter(self, item: Item, wait: Callable[[float], bool] | None = None) -> bool:
        """Write ``item`` to the dead-letter topic and wait for the acknowledgement; retried until it is.

        False (nothing finished) only when ``wait`` says to give up (the bus is closing).
        """
        wait = wait or self.sleep
        outcome = outcome_of(self.policy)
        assert isinstance(outcome, DeadLetter)
        # The original bytes go out: a text read with invalid UTF-8 holds them as surrogates,
        # which message_write encodes back (surrogateescape).
        headers = self.headers(item)
        tries = 0
        while True:
            try:
                writer = self._open_writer(outcome.topic)
                writer.message_write(item.text, headers=headers)
            except Exception as exc:
                tries += 1
                delay = backoff(self.policy, tries)
                self._throttle.log(
                    logging.ERROR,
                    f"dead letter {self._name} {type(exc).__name__}",
                    "writing the dead letter of %s (partition %d, offset %d) to %s failed: %s; "
                    "not committed, trying again in %.1f s",
                    self._name,
                    item.partition,
                    item.offset,
                    outcome.topic,
                    exc,
                    delay,
                )
                self._discard_broken_writer()
                if not wait(delay):
                    return False
                continue
            break
        _log.logger().warning(
            "handler failed on %s (partition %d, offset %d): written to the dead-letter topic %s",
            self._name,
            item.partition,
            item.offset,
            outcome.topic,
        )
        with self._lock:
            self.dead_lettered += 1
            self._attempts.pop((item.partition, item.offset), None)
        return True

    def _open_writer(self, topic: str) -> DeadLetterWriter:
        if self._writer is not None:
            return self._writer
        if self._closing.is_set():
            raise RuntimeError("the reader is disconnecting")
        assert self._cfg is not None and self._opener is not None
        cfg = dataclasses.replace(
            self._cfg,
            topic=topic,
            direction=BusDir.WRITER,
            blocking=BlockingMode.BLOCKING,
            group_id="",
            on_handler_error=Drop(),
            # Each open is one bounded attempt: the retry loop here waits between them and sees disconnect.
            connect_retries=1,
        )
        writer = self._opener(cfg)
        with self._lock:
            closing = self._closing.is_set()
            if not closing:
                self._writer = writer
        if closing:
            # close() ran while this one was opening: nobody else would disconnect it.
            self._disconnect(writer)
            raise RuntimeError("the reader is disconnecting")
        return writer

    def _discard_broken_writer(self) -> None:
        writer = self._writer
        if writer is not None and writer.status() is not BusStatus.OPEN:
            self._writer = None
            self._disconnect(writer)

    # -- waiting and closing ---------------------------------------------------------

    def sleep(self, seconds: float) -> bool:
        """Wait ``seconds``; False at once when the reader is disconnecting."""
        return not self._closing.wait(seconds)

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    def close(self) -> None:
        """Wake every back-off wait, and disconnect the dead-letter writer (the reader is disconnecting)."""
        self._closing.set()
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            self._disconnect(writer)

    def _disconnect(self, writer: DeadLetterWriter) -> None:
        try:
            writer.disconnect()
        except Exception:
            _log.logger().warning("disconnecting the dead-letter writer of %s failed", self._name, exc_info=True)
