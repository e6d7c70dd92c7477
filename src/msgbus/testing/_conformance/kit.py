"""The backend under test and its feature flags, for ``msgbus.testing.conformance``."""

from __future__ import annotations

import contextlib
import dataclasses
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import pytest

import msgbus

if TYPE_CHECKING:
    from ..memorybus import MemoryBus
    from ..mockkafka import MockKafka

__all__ = [
    "IN_PROCESS",
    "KAFKA",
    "WAIT",
    "BusBackend",
    "ConfigFactory",
    "FeatureTests",
    "Features",
    "read_n",
    "wait_until",
]

#: Bound, in seconds, on every single wait in the suite (generous: CI machines are noisy).
WAIT = 20.0

# Generous client timeouts, so that a slow machine fails a test by its assertion, not a ConnectError.
_TIMEOUTS: dict[str, Any] = {"connect_retries": 3, "connect_timeout": 10, "write_timeout": 20, "flush_timeout": 20}


class ConfigFactory(Protocol):
    """Makes a ``MsgBusConfig`` for ``topic`` and ``direction``, other fields as given."""

    def __call__(self, topic: str, direction: msgbus.BusDir, **fields: Any) -> msgbus.MsgBusConfig: ...


@dataclasses.dataclass(frozen=True)
class Features:
    """What a backend promises beyond the semantics every backend shares.

    Each flag names one documented difference between the in-process bus and Kafka (the README's
    "How the in-process bus differs from Kafka"). A flag that is true runs the tests that check the
    stronger promise; false skips them, with the reason in the skip message. The defaults promise
    nothing extra, so a new backend starts with the shared semantics only.
    """

    #: Every topic has exactly one partition, partition 0 (Kafka: topics may have many).
    one_partition_per_topic: bool = False
    #: A group shares message by message between its members, so every member gets work
    #: (Kafka shares whole partitions: a one-partition topic goes to one member).
    shares_messages_in_group: bool = False
    #: A write is delivered when ``message_write`` returns, Blocking or NonBlocking; nothing but the
    #: size check can fail it, and ``disconnect`` has nothing to flush (Kafka: delivery reports come later).
    delivers_on_write: bool = False
    #: A member that disconnects gives its unread messages back to its group at once, with no
    #: rebalance (Kafka: from the last commit, after a rebalance).
    returns_unread_at_once: bool = False


#: The in-process bus (``BusTechMemory``, ``MemoryBus``).
IN_PROCESS = Features(
    one_partition_per_topic=True, shares_messages_in_group=True, delivers_on_write=True, returns_unread_at_once=True
)
#: Kafka, real or librdkafka's mock cluster: only the shared semantics.
KAFKA = Features()


class BusBackend:
    """The backend under test: opens buses from ``config`` and disconnects every one at ``close``.

    ``config`` is called as ``config(topic, direction, **fields)`` (``MemoryBus.config`` and
    ``MockKafka.config`` fit as they are). ``defaults`` are fields every config gets unless a test
    sets them; by default, generous connect and write timeouts.
    """

    def __init__(
        self,
        config: ConfigFactory,
        features: Features = KAFKA,
        *,
        name: str = "",
        defaults: dict[str, Any] | None = None,
    ) -> None:
        self.features = features
        self.name = name
        self._make = config
        self._defaults = dict(_TIMEOUTS if defaults is None else defaults)
        self._opened: list[msgbus.MsgBusIO] = []

    @classmethod
    def memory(cls, memory: MemoryBus) -> BusBackend:
        """The in-process bus behind ``memory`` (for example the ``msgbus_memory`` fixture)."""
        return cls(memory.config, IN_PROCESS, name="memory")

    @classmethod
    def mock_kafka(cls, mock: MockKafka) -> BusBackend:
        """librdkafka's mock cluster ``mock`` (its configs create one-partition topics, so order holds)."""
        return cls(mock.config, KAFKA, name="mock-kafka")

    @classmethod
    def kafka(cls, bootstrap_servers: str, **fields: Any) -> BusBackend:
        """A Kafka cluster at ``bootstrap_servers`` whose auto-created topics have one partition."""

        def config(topic: str, direction: msgbus.BusDir, **more: Any) -> msgbus.MsgBusConfig:
            settings: dict[str, Any] = {"bus_tech": msgbus.BusTechKafka, "bootstrap_servers": bootstrap_servers}
            settings.update(fields)
            settings.update(more)
            return msgbus.MsgBusConfig(topic=topic, direction=direction, **settings)

        return cls(config, KAFKA, name="kafka")

    def config(self, topic: str, direction: msgbus.BusDir, **fields: Any) -> msgbus.MsgBusConfig:
        """A config for this backend: the defaults, then ``fields``."""
        return self._make(topic, direction, **{**self._defaults, **fields})

    def connect(self, topic: str, direction: msgbus.BusDir, **fields: Any) -> msgbus.MsgBusIO:
        """Open a bus; ``close`` disconnects it."""
        bus = msgbus.connect(self.config(topic, direction, **fields))
        self._opened.append(bus)
        return bus

    def writer(self, topic: str, **fields: Any) -> msgbus.MsgBusIO:
        """A writer on ``topic``."""
        return self.connect(topic, msgbus.BusWriter, **fields)

    def reader(self, topic: str, **fields: Any) -> msgbus.MsgBusIO:
        """A reader on ``topic``."""
        return self.connect(topic, msgbus.BusReader, **fields)

    def close(self) -> None:
        """Disconnect every bus opened here (errors from already-broken buses are ignored)."""
        while self._opened:
            with contextlib.suppress(msgbus.MsgBusError):
                self._opened.pop().disconnect()

    def __repr__(self) -> str:
        return f"BusBackend({self.name or self._make!r}, {self.features})"


def read_n(bus: msgbus.MsgBusIO, count: int) -> list[str]:
    """``count`` messages from ``bus``, each within ``WAIT`` seconds."""
    out: list[str] = []
    for _ in range(count):
        msg = bus.message_read(timeout=WAIT)
        assert msg is not None, f"only {len(out)} of {count} messages arrived"
        out.append(msg)
    return out


def wait_until(predicate: Callable[[], bool], what: str) -> None:
    """Poll ``predicate`` until it holds; fail after ``WAIT`` seconds."""
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _require(backend: BusBackend, flag: str, otherwise: str) -> None:
    """Skip unless ``backend`` promises ``flag``; ``otherwise`` says what happens instead."""
    if not getattr(backend.features, flag):
        pytest.skip(f"{backend.name or 'this backend'} does not promise {flag}: {otherwise}")


class FeatureTests:
    """The promises only some backends make, one test per ``Features`` flag (``BusConformance`` has them)."""

    def test_a_group_shares_message_by_message(self, backend: BusBackend, topic: str) -> None:
        _require(backend, "shares_messages_in_group", "a group shares whole partitions")
        group = f"g-{uuid.uuid4().hex}"
        # Room for one message each: with four waiting, both members must hold one.
        members = [backend.reader(topic, group_id=group, read_queue_size=1) for _ in range(2)]
        writer = backend.writer(topic)
        for i in range(4):
            writer.message_write(str(i))
        wait_until(lambda: all(m.message_available() == 1 for m in members), "one queued message per member")
        got = read_n(members[0], 3) + read_n(members[1], 1)
        assert sorted(got, key=int) == ["0", "1", "2", "3"]

    def test_a_write_is_delivered_when_message_write_returns(self, backend: BusBackend, topic: str) -> None:
        _require(backend, "delivers_on_write", "a write is delivered when its delivery report arrives")
        reader = backend.reader(topic)
        writer = backend.writer(topic, blocking=msgbus.NonBlocking)
        for i in range(3):
            writer.message_write(str(i))
            # No waiting: the write is already delivered and readable.
            stats = writer.stats()
            assert (stats.written, stats.delivered, stats.failed, stats.queued) == (i + 1, i + 1, 0, 0)
        assert read_n(reader, 3) == ["0", "1", "2"]

    def test_a_leaving_member_returns_its_unread_messages_at_once(self, backend: BusBackend, topic: str) -> None:
        _require(backend, "returns_unread_at_once", "they come back from the last commit, after a rebalance")
        group = f"g-{uuid.uuid4().hex}"
        first = backend.reader(topic, group_id=group)
        writer = backend.writer(topic)
        for i in range(5):
            writer.message_write(str(i))
        wait_until(lambda: first.message_available() == 5, "five messages queued to the first member")
        # It joins with nothing left to share, and stays connected throughout: no new member, no rebalance.
        second = backend.reader(topic, group_id=group)
        assert first.message_read(timeout=WAIT) == "0"
        assert second.message_available() == 0
        first.disconnect()
        assert read_n(second, 4) == ["1", "2", "3", "4"]

    def test_every_topic_has_the_one_partition_0(self, backend: BusBackend, topic: str) -> None:
        _require(backend, "one_partition_per_topic", "a topic may have several partitions")
        readers = [backend.reader(topic), backend.reader(topic + "-other")]
        for name in (topic, topic + "-other"):
            writer = backend.writer(name)
            writer.message_write("a")
            writer.message_write("b")
        for reader in readers:
            records = [reader.read_record(WAIT) for _ in range(2)]
            assert [(r.partition, r.offset) for r in records if r is not None] == [(0, 0), (0, 1)]
