"""LocalKafka's topic creation on a cluster just started (no broker: a stub admin client)."""

from __future__ import annotations

from concurrent.futures import Future
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from msgbus.testing._localkafka import admin


class StubAdmin:
    """create_topics() answers each call with the next of ``errors`` (None: created); the topic then has a leader."""

    def __init__(self, *errors: int | None) -> None:
        self.errors = list(errors)
        self.calls = 0

    def create_topics(self, topics: list[Any], **_: Any) -> dict[str, Future[None]]:
        self.calls += 1
        future: Future[None] = Future()
        code = self.errors.pop(0)
        if code is None:
            future.set_result(None)
        else:
            future.set_exception(KafkaException(KafkaError(code)))
        return {topics[0].topic: future}

    def list_topics(self, topic: str, timeout: float) -> Any:
        partition = SimpleNamespace(leader=1)
        return SimpleNamespace(topics={topic: SimpleNamespace(error=None, partitions={0: partition})})


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
