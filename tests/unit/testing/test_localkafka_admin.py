"""LocalKafka's topic creation on a cluster just started (no broker: a stub admin client)."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException
from stub_admin import StubAdmin

from msgbus.testing._localkafka import admin


def test_a_request_lost_on_the_client_side_is_asked_again() -> None:
    # 3.6.2's fresh 3-node cluster: librdkafka replaced the broker handle while the create was out
    # (_DESTROY_BROKER); the broker had created the topic, so the second ask says it exists.
    stub = StubAdmin(KafkaError._DESTROY_BROKER, KafkaError.TOPIC_ALREADY_EXISTS)
    admin.create_topic(stub, "t", 1, 1, None, timeout=10)
    assert stub.calls == 2


def test_the_brokers_refusal_is_raised_at_once() -> None:
    stub = StubAdmin(KafkaError.TOPIC_ALREADY_EXISTS)
    with pytest.raises(KafkaException):
        admin.create_topic(stub, "t", 1, 1, None, timeout=10)
    assert stub.calls == 1
