"""A stand-in for confluent-kafka's AdminClient where no broker is wanted: topic creation answers as told."""

from __future__ import annotations

from concurrent.futures import Future
from types import SimpleNamespace
from typing import Any

from confluent_kafka import KafkaError, KafkaException


class StubAdmin:
    """create_topics() answers each call with the next of ``errors`` (None: created); list_topics() shows
    the topic with a leader; describe_configs() gets no answer."""

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

    def describe_configs(self, resources: list[Any], **_: Any) -> Any:
        raise KafkaException(KafkaError(KafkaError._TIMED_OUT))
