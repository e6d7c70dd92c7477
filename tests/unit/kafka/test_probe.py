"""Connect attempts: the back-off, the attempt limit, and the probe loop."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

import msgbus
from msgbus import MsgBusConfig
from msgbus._kafka._errors import ErrorWatch
from msgbus._kafka._probe import Attempts, backoff, probe


def make(**overrides: Any) -> MsgBusConfig:
    fields: dict[str, Any] = {
        "topic": "hb_events",
        "direction": msgbus.BusWriter,
        "host": "kafka.example",
        "port": 19092,
    }
    fields.update(overrides)
    cfg = MsgBusConfig(**fields)
    cfg.validate()
    return cfg


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the back-off delays instead of sleeping them."""
    delays: list[float] = []
    monkeypatch.setattr(time, "sleep", delays.append)
    return delays


def refused() -> KafkaError:
    return KafkaError(KafkaError._TRANSPORT, "Connection refused")


# -- backoff -----------------------------------------------------------------------------


def test_backoff_doubles_from_a_quarter_second_up_to_five() -> None:
    assert [backoff(n) for n in range(1, 9)] == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


@pytest.mark.parametrize("attempt", [6, 33, 100, 1024, 1025, 1100, 10**6])
def test_backoff_stays_capped_for_ever(attempt: int) -> None:
    # connect_retries=0 never stops counting: no OverflowError at attempt 1025.
    assert backoff(attempt) == 5.0


def test_backoff_is_a_float() -> None:
    assert all(type(backoff(n)) is float for n in (1, 6, 2000))


# -- Attempts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retries", "delays"),
    [
        (1, []),
        (2, [0.25]),
        (4, [0.25, 0.5, 1.0]),
        (8, [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]),
    ],
)
def test_connect_error_after_exactly_connect_retries_attempts(
    sleeps: list[float], retries: int, delays: list[float]
) -> None:
    attempts = Attempts(make(connect_retries=retries), ErrorWatch("unit"))
    for n in range(1, retries):
        attempts.failed("metadata timed out")
        assert attempts.count == n
    with pytest.raises(msgbus.ConnectError) as info:
        attempts.failed("metadata timed out")
    assert attempts.count == retries
    assert sleeps == delays
    assert str(info.value) == (
        f"could not connect to Kafka at kafka.example:19092 after {retries} attempt(s): metadata timed out"
    )


def test_connect_error_is_a_msgbus_error_and_a_connection_error(sleeps: list[float]) -> None:
    attempts = Attempts(make(connect_retries=1), ErrorWatch("unit"))
    with pytest.raises(ConnectionError) as info:
        attempts.failed("x")
    assert isinstance(info.value, msgbus.MsgBusError)


def test_connect_error_quotes_the_last_client_error(sleeps: list[float]) -> None:
    errors = ErrorWatch("unit")
    attempts = Attempts(make(connect_retries=2), errors)
    attempts.failed("metadata timed out")
    errors(refused())
    with pytest.raises(msgbus.ConnectError) as info:
        attempts.failed("metadata timed out")
    assert str(info.value) == (
        "could not connect to Kafka at kafka.example:19092 after 2 attempt(s): "
        "metadata timed out; last client error: Connection refused (_TRANSPORT)"
    )


def test_the_last_client_error_is_not_repeated_when_it_is_the_cause(sleeps: list[float]) -> None:
    errors = ErrorWatch("unit")
    errors(refused())
    attempts = Attempts(make(connect_retries=1), errors)
    with pytest.raises(msgbus.ConnectError) as info:
        attempts.failed("Connection refused (_TRANSPORT)")
    assert str(info.value).count("Connection refused") == 1


def test_zero_retries_keeps_going(sleeps: list[float]) -> None:
    errors = ErrorWatch("unit")
    errors(refused())
    attempts = Attempts(make(connect_retries=0), errors)
    for _ in range(20):
        attempts.failed("metadata timed out")
    assert attempts.count == 20
    assert sleeps == [0.25, 0.5, 1.0, 2.0, 4.0] + [5.0] * 15


def test_zero_retries_survives_very_many_attempts(sleeps: list[float]) -> None:
    attempts = Attempts(make(connect_retries=0), ErrorWatch("unit"))
    for _ in range(1100):
        attempts.failed("metadata timed out")
    assert attempts.count == 1100
    assert sleeps[-1] == 5.0


def test_a_fatal_client_error_stops_at_once(sleeps: list[float]) -> None:
    errors = ErrorWatch("unit")
    errors(KafkaError(KafkaError._FATAL, "producer fenced", fatal=True))
    attempts = Attempts(make(connect_retries=0), errors)
    with pytest.raises(msgbus.ConnectError) as info:
        attempts.failed("metadata timed out")
    assert attempts.count == 1
    assert sleeps == []
    assert "after 1 attempt(s)" in str(info.value)
    assert "producer fenced (_FATAL)" in str(info.value)


def test_a_fatal_error_after_some_attempts_stops_the_next_one(sleeps: list[float]) -> None:
    errors = ErrorWatch("unit")
    attempts = Attempts(make(connect_retries=10), errors)
    attempts.failed("a")
    attempts.failed("b")
    errors(KafkaError(KafkaError._FATAL, "broken", fatal=True))
    with pytest.raises(msgbus.ConnectError, match="after 3 attempt"):
        attempts.failed("c")
    assert sleeps == [0.25, 0.5]


def test_each_retry_is_logged(sleeps: list[float], caplog: pytest.LogCaptureFixture) -> None:
    attempts = Attempts(make(connect_retries=3), ErrorWatch("unit"))
    with caplog.at_level(logging.WARNING, logger="msgbus"):
        attempts.failed("metadata timed out")
        attempts.failed("metadata timed out")
    assert [r.getMessage() for r in caplog.records if r.name == "msgbus"] == [
        "msgbus: connect attempt 1 to kafka.example:19092 failed (metadata timed out); retrying in 0.25 s",
        "msgbus: connect attempt 2 to kafka.example:19092 failed (metadata timed out); retrying in 0.50 s",
    ]


def test_error_watch_keeps_the_last_error_and_logs_it(caplog: pytest.LogCaptureFixture) -> None:
    errors = ErrorWatch("writer on t")
    assert (errors.last, errors.fatal) == (None, None)
    with caplog.at_level(logging.WARNING, logger="msgbus"):
        errors(refused())
        errors(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    assert errors.last == "1/1 brokers are down (_ALL_BROKERS_DOWN)"
    assert errors.fatal is None
    assert [r.getMessage() for r in caplog.records] == [
        "msgbus: writer on t: Connection refused (_TRANSPORT)",
        "msgbus: writer on t: 1/1 brokers are down (_ALL_BROKERS_DOWN)",
    ]


# -- probe -------------------------------------------------------------------------------------


class FakeClient:
    """list_topics() fails ``failures`` times, then answers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[tuple[str, float]] = []
        self.metadata = object()

    def list_topics(self, *, topic: str, timeout: float) -> object:
        self.calls.append((topic, timeout))
        if len(self.calls) <= self.failures:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT, "Connection refused"))
        return self.metadata

    def poll(self, timeout: float) -> None:
        """probe() serves error callbacks after a failed attempt."""
        self.polls = getattr(self, "polls", 0) + 1


def test_probe_returns_the_metadata_once_the_broker_answers(sleeps: list[float]) -> None:
    cfg = make(connect_retries=5, connect_timeout=2.5)
    client = FakeClient(failures=2)
    attempts = Attempts(cfg, ErrorWatch("unit"))
    assert probe(client, cfg, attempts) is client.metadata
    assert client.calls == [("hb_events", 2.5)] * 3
    assert attempts.count == 2
    assert sleeps == [0.25, 0.5]


def test_probe_gives_up_after_connect_retries(sleeps: list[float]) -> None:
    cfg = make(connect_retries=3)
    client = FakeClient(failures=100)
    with pytest.raises(msgbus.ConnectError) as info:
        probe(client, cfg, Attempts(cfg, ErrorWatch("unit")))
    assert len(client.calls) == 3
    assert sleeps == [0.25, 0.5]
    assert str(info.value) == (
        "could not connect to Kafka at kafka.example:19092 after 3 attempt(s): Connection refused (_TRANSPORT)"
    )


def test_probe_lets_other_errors_through(sleeps: list[float]) -> None:
    class Broken:
        def list_topics(self, *, topic: str, timeout: float) -> object:
            raise RuntimeError("closed")

    cfg = make(connect_retries=3)
    with pytest.raises(RuntimeError, match="closed"):
        probe(Broken(), cfg, Attempts(cfg, ErrorWatch("unit")))
    assert sleeps == []
