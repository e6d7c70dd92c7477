"""Fixtures shared by every test directory.

``kafka`` is one real Apache Kafka broker (LocalKafka) for the whole session;
it is started on first use only, so suites that never ask for it never pay
for a JVM, and it is stopped at session end whatever happened.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from msgbus.testing import LocalKafka

# tests/unit/plugin tests msgbus's pytest plugin with pytester (only a top-level conftest may enable it).
pytest_plugins = ["pytester"]

_TOPIC_UNSAFE = re.compile(r"[^a-zA-Z0-9._-]+")


@pytest.fixture(scope="session")
def kafka() -> Iterator[LocalKafka]:
    """One single-node Kafka broker for the whole test session."""
    broker = LocalKafka()
    broker.start()  # start() stops what it launched if it fails
    try:
        yield broker
    finally:
        broker.stop()


def unique_topic(name: str) -> str:
    """A fresh, legal Kafka topic name derived from ``name``."""
    safe = _TOPIC_UNSAFE.sub("-", name).strip("-.")[:80] or "test"
    return f"t-{safe}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def topic(request: pytest.FixtureRequest) -> str:
    """A topic name of this test's own: ``t-<test name>-<8 hex digits>``."""
    return unique_topic(request.node.name)
