"""msgbus's pytest plugin, registered through the ``pytest11`` entry point.

Installing msgbus gives every pytest suite these fixtures:

- ``msgbus_kafka``: one real Apache Kafka (``LocalKafka``) for the session,
  started on first use and stopped at the end;
- ``msgbus_mock_kafka``: a ``MockKafka`` (librdkafka's in-process mock cluster) per test;
- ``msgbus_memory``: a fresh in-process bus (``MemoryBus``) per test;
- ``msgbus_topic``: a topic name of the test's own.

The plugin defines fixtures and nothing else: no hooks, no options, no settings of pytest or of
other plugins, so a suite that uses none of them runs exactly as it would without msgbus. Loading
it imports no Kafka client; a fixture imports what it needs when a test asks for it.

pytest-asyncio (1.x) warns in every suite that leaves ``asyncio_default_fixture_loop_scope``
unset, with or without msgbus, and a suite run with ``-W error`` fails on that warning. The
fixtures here are synchronous, so any value suits them; the one line that silences the warning,
in the suite's ``pytest.ini`` under ``[pytest]`` (or ``[tool.pytest.ini_options]`` of
``pyproject.toml``), is::

    asyncio_default_fixture_loop_scope = function
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .localkafka import LocalKafka
    from .memorybus import MemoryBus
    from .mockkafka import MockKafka

_UNSAFE = re.compile(r"[^a-zA-Z0-9._-]+")


@pytest.fixture(scope="session")
def msgbus_kafka() -> Iterator[LocalKafka]:
    """A single-node Apache Kafka for the whole session (needs Java; jars come from Maven Central)."""
    from .localkafka import LocalKafka

    broker = LocalKafka()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def msgbus_mock_kafka() -> Iterator[MockKafka]:
    """librdkafka's in-process mock cluster; ``.config(topic, direction)`` makes a single-partition topic."""
    from .mockkafka import MockKafka

    with MockKafka() as mock:
        yield mock


@pytest.fixture
def msgbus_memory() -> Iterator[MemoryBus]:
    """A fresh in-process bus; every bus opened through it is disconnected after the test."""
    from .memorybus import MemoryBus

    with MemoryBus() as memory:
        yield memory


@pytest.fixture
def msgbus_topic(request: pytest.FixtureRequest) -> str:
    """A topic name unique to this test: ``msgbus-<test name>-<8 hex digits>``."""
    safe = _UNSAFE.sub("-", request.node.name).strip("-.")[:80] or "test"
    return f"msgbus-{safe}-{uuid.uuid4().hex[:8]}"
