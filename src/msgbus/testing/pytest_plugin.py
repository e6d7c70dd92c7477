"""msgbus's pytest plugin, registered through the ``pytest11`` entry point.

Installing msgbus gives every pytest suite these fixtures:

- ``msgbus_kafka``: one real Apache Kafka (``LocalKafka``) for the session,
  started on first use and stopped at the end;
- ``msgbus_mock_kafka``: a ``MockKafka`` (librdkafka's in-process mock cluster) per test;
- ``msgbus_memory``: a fresh in-process bus (``MemoryBus``) per test;
- ``msgbus_topic``: a topic name of the test's own.

With pytest-asyncio installed and ``asyncio_default_fixture_loop_scope`` left unset, pytest-asyncio
warns in every suite, msgbus's fixtures or not. The plugin then sets that option to
``"fixture-scope"``, the value that pytest-asyncio names for keeping its current behaviour, so a
suite run with ``-W error`` passes and nothing about the user's async fixtures changes. A value
the user set (in a config file or with ``-o``) is left alone.
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
_LOOP_SCOPE = "asyncio_default_fixture_loop_scope"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Before pytest-asyncio checks its options: give an unset fixture loop scope its current meaning."""
    asyncio_plugin = config.pluginmanager.get_plugin("asyncio")
    if asyncio_plugin is None or config.getini(_LOOP_SCOPE):
        return
    # pytest-asyncio versions that define "fixture-scope" accept it; older ones reject it as a scope.
    keep_current = getattr(asyncio_plugin, "_MATCH_FIXTURE_SCOPE", None)
    if isinstance(keep_current, str):
        # pytest has no public setter for a configuration value; getini reads this cache first.
        config._inicache[_LOOP_SCOPE] = keep_current


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
