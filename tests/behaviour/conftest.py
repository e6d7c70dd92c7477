"""The conformance suite's Kafka is the session's one broker.

msgbus's pytest plugin starts its own ``msgbus_kafka``; tests/conftest.py's ``kafka`` is the
broker the other suites share. Aliasing one to the other keeps a run at one JVM.
"""

from __future__ import annotations

import pytest

from msgbus.testing import LocalKafka


@pytest.fixture(scope="session")
def msgbus_kafka(kafka: LocalKafka) -> LocalKafka:
    """The session broker of tests/conftest.py, under the plugin's name."""
    return kafka
