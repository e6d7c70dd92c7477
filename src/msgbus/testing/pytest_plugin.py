"""msgbus's pytest plugin, registered through the ``pytest11`` entry point.

Installing msgbus gives every pytest suite these fixtures:

- ``msgbus_kafka``: one real Apache Kafka (:class:`LocalKafka`) for the session,
  started on first use and stopped at the end;
- ``msgbus_mock_kafka``: a :class:`MockKafka` (librdkafka's in-process mock cluster) per test;
- ``msgbus_memory``: a fresh in-process bus (:class:`MemoryBus`) per test;
- ``msgbus_topic``: a topic name of the test's own.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from .localkafka import LocalKafka
from .memorybus import MemoryBus
from .mockkafka import MockKafka

_UNSAFE = re.compile(r"[^a-zA-Z0-9._-]+")


@pytest.fixture(scope="session")
def msgbus_kafka() -> Iterator[LocalKafka]:
    """A single-node Apache Kafka for the whole session (needs Java; jars come from Maven Central)."""
    broker = LocalKafka()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def msgbus_mock_kafka() -> Iterator[MockKafka]:
    """librdkafka's in-process mock cluster; ``.config(topic, direction)`` makes a single-partition topic."""
    with MockKafka() as mock:
        yield mock


@pytest.fixture
def msgbus_memory() -> Iterator[MemoryBus]:
    """A fresh in-process bus; every bus opened through it is disconnected after the test."""
    with MemoryBus() as memory:
        yield memory


@pytest.fixture
def msgbus_topic(request: pytest.FixtureRequest) -> str:
    """A topic name unique to this test: ``msgbus-<test name>-<8 hex digits>``."""
    safe = _UNSAFE.sub("-", request.node.name).strip("-.")[:80] or "test"
    return f"msgbus-{safe}-{uuid.uuid4().hex[:8]}"
