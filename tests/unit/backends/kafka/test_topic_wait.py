"""How long a missing topic is waited for at connect, by what the broker says of it (no broker:
a stub client whose metadata shows the topic when the test says so)."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError
from stub_admin import StubAdmin

import msgbus
from msgbus._backends.kafka import _topic
from msgbus._backends.kafka._errors import ErrorWatch
from msgbus._backends.kafka._topic import BrokerAnswer, TopicState, check_topic

TOPIC = "hb_events"


class Metadata:
    """list_topics()'s answer: the topic unknown until ``appears_at`` (monotonic), then present."""

    def __init__(self, appears_at: float) -> None:
        self.appears_at = appears_at
        self.calls = 0

    def list_topics(self, topic: str, timeout: float) -> Any:
        self.calls += 1
        if time.monotonic() >= self.appears_at:
            return SimpleNamespace(topics={topic: SimpleNamespace(error=None, partitions={0: None})}, brokers={1: None})
        return SimpleNamespace(topics={}, brokers={1: None})


@pytest.fixture(autouse=True)
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_topic, "_SETTLE", 0.05)
    monkeypatch.setattr(_topic, "_LOOK_EVERY", 0.01)
    monkeypatch.setattr(_topic, "_CREATION_WAIT", 0.2)


def check(monkeypatch: pytest.MonkeyPatch, answer: BrokerAnswer, appears_after: float) -> tuple[TopicState, Metadata]:
    monkeypatch.setattr(_topic, "ask_broker", lambda cfg, errors, metadata: answer)
    client = Metadata(time.monotonic() + appears_after)
    cfg = msgbus.MsgBusConfig(topic=TOPIC, direction=msgbus.BusWriter, connect_timeout=1.0)
    state, _ = check_topic(client, client.list_topics(TOPIC, 1.0), cfg, ErrorWatch("test"))
    return state, client


def test_a_broker_creating_on_first_use_is_waited_for_past_the_short_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    # A loaded broker took longer than the short bound to create it: it is there, not "missing".
    state, _ = check(monkeypatch, BrokerAnswer(None, True), appears_after=0.5)
    assert state is TopicState.PRESENT


def test_a_broker_creating_on_first_use_but_slower_than_connect_timeout_is_creating(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state, _ = check(monkeypatch, BrokerAnswer(None, True), appears_after=60)
    assert state is TopicState.CREATING


def test_a_broker_that_does_not_create_topics_makes_it_missing_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    state, client = check(monkeypatch, BrokerAnswer(None, False), appears_after=60)
    assert state is TopicState.MISSING
    # Asked once the topic was missing for _SETTLE: no looking again after the broker's answer.
    looks_in_settle = _topic._SETTLE / _topic._LOOK_EVERY
    assert client.calls <= looks_in_settle + 2, client.calls


def test_a_broker_that_would_not_say_gets_the_short_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    state, _ = check(monkeypatch, BrokerAnswer(None, None), appears_after=0.5)
    assert state is TopicState.MISSING


def test_a_broker_that_would_not_say_is_missing_even_when_connect_timeout_is_the_shorter_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # connect_timeout below the short bound makes both waits equal: what decides is the broker's answer.
    monkeypatch.setattr(_topic, "ask_broker", lambda cfg, errors, metadata: BrokerAnswer(None, None))
    client = Metadata(time.monotonic() + 60)
    cfg = msgbus.MsgBusConfig(topic=TOPIC, direction=msgbus.BusWriter, connect_timeout=0.1)
    state, _ = check_topic(client, client.list_topics(TOPIC, 1.0), cfg, ErrorWatch("test"))
    assert state is TopicState.MISSING


def test_the_brokers_refusal_is_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(msgbus.ConnectError, match="the broker says collides"):
        check(monkeypatch, BrokerAnswer("collides (INVALID_TOPIC_EXCEPTION)", None), appears_after=60)


def test_a_local_error_of_the_validating_create_is_no_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    # librdkafka replaced the broker handle while the request was out: that says nothing of the name.
    monkeypatch.setattr(_topic, "create_client", lambda cls, settings: StubAdmin(KafkaError._DESTROY_BROKER))
    cfg = msgbus.MsgBusConfig(topic=TOPIC, direction=msgbus.BusWriter, connect_timeout=1.0)
    metadata = SimpleNamespace(topics={}, brokers={1: None})
    assert _topic.ask_broker(cfg, ErrorWatch("test"), metadata) == BrokerAnswer(None, None)
    monkeypatch.setattr(_topic, "create_client", lambda cls, settings: StubAdmin(KafkaError.TOPIC_EXCEPTION))
    assert _topic.ask_broker(cfg, ErrorWatch("test"), metadata).refusal is not None
