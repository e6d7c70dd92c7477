"""The behavioural suite runs every test against each bus technology.

``env`` is parametrised over ``"memory"`` (the in-process bus, no broker) and
``"mock"`` (librdkafka's in-process mock cluster, the real Kafka code path
without Java) and ``"kafka"`` (the session broker from tests/conftest.py,
marked integration).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import msgbus
from msgbus.testing import MockKafka

#: Bound on every single wait for a message in this suite.
WAIT = 20.0


class Env:
    """Opens buses of one technology; every one is disconnected at teardown."""

    def __init__(self, tech: str, base: dict[str, Any], mock: MockKafka | None = None) -> None:
        self.tech = tech
        self.base = base
        self.mock = mock
        self.opened: list[msgbus.MsgBusIO] = []

    def config(self, topic: str, direction: msgbus.BusDir, **fields: Any) -> msgbus.MsgBusConfig:
        settings = dict(self.base, topic=topic, direction=direction)
        settings.update(fields)
        return msgbus.MsgBusConfig(**settings)

    def connect(self, topic: str, direction: msgbus.BusDir, **fields: Any) -> msgbus.MsgBusIO:
        if self.mock is not None:
            # The mock's auto-created topics have several partitions; order needs one.
            self.mock.create_topic(topic, exist_ok=True)
        bus = msgbus.connect(self.config(topic, direction, **fields))
        self.opened.append(bus)
        return bus

    def writer(self, topic: str, **fields: Any) -> msgbus.MsgBusIO:
        return self.connect(topic, msgbus.BusWriter, **fields)

    def reader(self, topic: str, **fields: Any) -> msgbus.MsgBusIO:
        return self.connect(topic, msgbus.BusReader, **fields)

    def close_all(self) -> None:
        while self.opened:
            with contextlib.suppress(msgbus.MsgBusError):
                self.opened.pop().disconnect()


@pytest.fixture(params=["memory", "mock", pytest.param("kafka", marks=pytest.mark.integration)])
def env(request: pytest.FixtureRequest) -> Iterator[Env]:
    """Buses on the in-process bus or on the session Kafka broker."""
    timeouts = {"connect_retries": 3, "connect_timeout": 10, "write_timeout": 20, "flush_timeout": 20}
    mock: MockKafka | None = None
    if request.param == "kafka":
        kafka = request.getfixturevalue("kafka")
        base = dict(timeouts, bus_tech=msgbus.BusTechKafka, host=kafka.host, port=kafka.port)
    elif request.param == "mock":
        mock = MockKafka().start()
        base = dict(timeouts, bus_tech=msgbus.BusTechKafka, bootstrap_servers=mock.bootstrap_servers)
    else:
        base = dict(timeouts, bus_tech=msgbus.BusTechMemory, host=f"memory-{uuid.uuid4().hex[:12]}")
    factory = Env(request.param, base, mock)
    try:
        yield factory
    finally:
        factory.close_all()
        if mock is not None:
            mock.stop()
