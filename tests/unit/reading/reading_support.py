"""What the tests of the reader's core share: a bound on waits, Items, a recording callback, reads on a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Message

from msgbus._backends.base import ReaderBase
from msgbus._config import BusReader, BusStatus, MsgBusConfig
from msgbus._reading.inbox import Inbox
from msgbus._reading.item import Item

Key = tuple[int, int]  # (partition, offset)
# Upper bound on any wait for another thread: only reached when the behaviour is broken.
WAIT = 5.0


def items(*specs: tuple[str, int, int]) -> list[Item]:
    """Items from (text, partition, offset), without a timestamp."""
    return [Item(text, partition, offset, -1) for text, partition, offset in specs]


def run_of(partition: int, start: int, count: int) -> list[Item]:
    """``count`` Items of ``partition`` from offset ``start``, each's text ``"<partition>:<offset>"``."""
    return [Item(f"{partition}:{offset}", partition, offset, -1) for offset in range(start, start + count)]


def kafka_batch(*values: bytes | None, partition: int = 0, first: int = 0) -> list[Message]:
    """confluent-kafka Messages, as a consumer's batch (what ``KafkaReader`` feeds with ``MessageCodec``)."""
    return [Message(value=v, partition=partition, offset=first + i) for i, v in enumerate(values)]


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def gather_done(box: Inbox, expected: dict[int, int]) -> dict[int, int]:
    """``take_done()`` until what it reported adds up to ``expected`` (or the wait runs out)."""
    done: dict[int, int] = {}

    def check() -> bool:
        done.update(box.feed.take_done())
        return done == expected

    wait_until(check)
    return done


class Collector:
    """A callback that records what it gets and lets the test wait for a count."""

    def __init__(self) -> None:
        self.got: list[str] = []
        self._cond = threading.Condition()

    def __call__(self, msg: str) -> None:
        with self._cond:
            self.got.append(msg)
            self._cond.notify_all()

    def wait_for(self, count: int) -> list[str]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.got) >= count, WAIT)
            return list(self.got)


class Gate:
    """A callback that blocks on the messages named in ``stop_at`` until the test opens the gate."""

    def __init__(self, *stop_at: str) -> None:
        self.stop_at = set(stop_at)
        self.got: list[str] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.returned: list[str] = []

    def __call__(self, msg: str) -> None:
        self.got.append(msg)
        if msg in self.stop_at:
            self.entered.set()
            self.release.wait(WAIT)
        self.returned.append(msg)


class InThread:
    """``call()`` on another thread, so a broken wake-up fails the test instead of hanging it."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.started = threading.Event()

        def run() -> None:
            self.started.set()
            try:
                self.result = call()
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        self.started.wait(WAIT)

    def join(self) -> Any:
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "the call did not return"
        return self.result


class StubReader(ReaderBase):
    def __init__(self) -> None:
        self._cfg = MsgBusConfig(topic="model", direction=BusReader)
        self._inbox = Inbox(1000, name="model")
        self._blocking = True
        self._closed = False

    def status(self) -> BusStatus:
        return BusStatus.CLOSED if self._closed else BusStatus.OPEN

    def disconnect(self) -> None:
        self._closed = True
        self._inbox.close()


def key_of(text: str) -> Key:
    partition, offset = text.split(":")
    return int(partition), int(offset)
