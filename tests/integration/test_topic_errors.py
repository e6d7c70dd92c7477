"""Topics the broker will not create on use (issue 21): auto-creation off, and colliding names.

With ``auto.create.topics.enable=false`` a writer to a missing topic fails at connect,
naming the topic; a reader waits for it and reads it from its first message once it is
created. A name the broker refuses (one differing from an existing topic's only in '.'
versus '_') fails at connect with the broker's own reason, for readers, writers,
``msgbus write`` and ``msgbus replay --to``. Both run on each broker setting.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from cli_run import run_msgbus

import msgbus
from msgbus.testing import LocalKafka

from .helpers import READ_TIMEOUT, BusFactory

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def kafka_no_autocreate() -> Iterator[LocalKafka]:
    """A broker of this module's own, with ``auto.create.topics.enable=false``."""
    with LocalKafka(heap_mb=384, auto_create_topics=False) as broker:
        yield broker


@pytest.fixture(params=["auto-create on", "auto-create off"])
def broker(request: pytest.FixtureRequest, kafka: LocalKafka) -> LocalKafka:
    if request.param == "auto-create on":
        return kafka
    broker: LocalKafka = request.getfixturevalue("kafka_no_autocreate")
    return broker


def fresh(stem: str) -> str:
    return f"{stem}{uuid.uuid4().hex[:8]}"


def test_a_writer_to_a_missing_topic_fails_at_connect_naming_it(kafka_no_autocreate: LocalKafka) -> None:
    topic = fresh("missing-")
    with BusFactory(kafka_no_autocreate) as buses, pytest.raises(msgbus.ConnectError) as raised:
        buses.writer(topic, connect_retries=0)  # no limit on attempts: the error is not an attempt failing
    text = str(raised.value)
    assert topic in text and "does not exist" in text and "auto.create.topics.enable=false" in text


def test_msgbus_write_to_a_missing_topic_says_so(kafka_no_autocreate: LocalKafka) -> None:
    topic = fresh("missing-")
    done = run_msgbus(["write", "--bootstrap", kafka_no_autocreate.bootstrap_servers, "--topic", topic, "hi"])
    assert done.returncode != 0
    assert f"topic {topic} does not exist" in done.stderr, done.stderr
    assert "timed out" not in done.stderr.lower()


def test_a_reader_waits_for_a_missing_topic_and_reads_it_from_its_first_message(broker: LocalKafka) -> None:
    topic = fresh("late-")
    sent = [f"m{i}" for i in range(20)]
    with BusFactory(broker) as buses:
        # One attempt of 5 s: before issue 21, with auto-creation off, connect() failed here.
        reader = buses.reader(topic, group_id=fresh("g-"), connect_retries=1, connect_timeout=5)
        if not broker.auto_create_topics:
            broker.create_topic(topic)
        writer = buses.writer(topic)
        for text in sent:
            writer.message_write(text)
        got = [reader.message_read(timeout=READ_TIMEOUT * 2) for _ in sent]
    assert got == sent


@pytest.mark.parametrize("direction", [msgbus.BusWriter, msgbus.BusReader])
def test_a_colliding_topic_name_fails_at_connect_with_the_brokers_reason(
    broker: LocalKafka, direction: msgbus.BusDir
) -> None:
    stem = fresh("c")
    broker.create_topic(f"{stem}.a_b")
    with BusFactory(broker) as buses, pytest.raises(msgbus.ConnectError) as raised:
        buses.connect(buses.config(f"{stem}_a.b", direction, connect_retries=1))
    assert f"collides with existing topic: {stem}.a_b" in str(raised.value)


def test_msgbus_write_and_replay_to_a_colliding_name_say_why(broker: LocalKafka) -> None:
    stem = fresh("c")
    broker.create_topic(f"{stem}.a_b")
    source = fresh("src-")
    broker.create_topic(source)
    where = ["--bootstrap", broker.bootstrap_servers]
    wrote = run_msgbus(["write", *where, "--topic", f"{stem}_a.b", "hi"])
    replayed = run_msgbus(["replay", *where, "--from", source, "--to", f"{stem}_a.b", "--idle", "1"])
    for done in (wrote, replayed):
        assert done.returncode != 0
        assert f"collides with existing topic: {stem}.a_b" in done.stderr, done.stderr


def test_the_broker_says_whether_it_creates_topics_on_first_use(
    broker: LocalKafka, request: pytest.FixtureRequest
) -> None:
    # What decides how long a missing topic is waited for (a slow broker creating it, or none coming).
    from confluent_kafka.admin import AdminClient

    from msgbus._backends.kafka._errors import ErrorWatch
    from msgbus._backends.kafka._topic import ask_broker

    cfg = msgbus.MsgBusConfig(
        bootstrap_servers=broker.bootstrap_servers,
        topic=fresh("asked-"),
        direction=msgbus.BusWriter,
        connect_timeout=10,
    )
    metadata = AdminClient({"bootstrap.servers": broker.bootstrap_servers}).list_topics(timeout=10)
    answer = ask_broker(cfg, ErrorWatch("test"), metadata)
    assert answer.refusal is None
    assert answer.creates_on_first_use is (request.node.callspec.params["broker"] == "auto-create on")
