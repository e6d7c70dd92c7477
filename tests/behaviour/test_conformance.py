"""msgbus's conformance kit against each of its backends (the kit is msgbus.testing.conformance)."""

from __future__ import annotations

import pytest

from msgbus.testing import LocalKafka, MemoryBus, MockKafka
from msgbus.testing.conformance import BusBackend, BusConformance


class TestInProcessBus(BusConformance):
    @pytest.fixture
    def bus_backend(self, msgbus_memory: MemoryBus) -> BusBackend:
        return BusBackend.memory(msgbus_memory)


class TestMockKafka(BusConformance):
    """librdkafka's mock cluster: msgbus's real Kafka code path, without Java."""

    @pytest.fixture
    def bus_backend(self, msgbus_mock_kafka: MockKafka) -> BusBackend:
        return BusBackend.mock_kafka(msgbus_mock_kafka)


@pytest.mark.integration
class TestKafka(BusConformance):
    @pytest.fixture
    def bus_backend(self, msgbus_kafka: LocalKafka) -> BusBackend:
        return BusBackend.kafka(msgbus_kafka.bootstrap_servers)
