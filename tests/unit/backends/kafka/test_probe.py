"""Connect attempts: the back-off, the attempt limit, and the probe loop."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

import msgbus
from msgbus import MsgBusConfig
from msgbus._backends.kafka._errors import ErrorWatch
from msgbus._backends.kafka._probe import WAIT_SLICE, Attempts, backoff, probe


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
        "connect attempt 1 to kafka.example:19092 failed (metadata timed out); retrying in 0.25 s",
        "connect attempt 2 to kafka.example:19092 failed (metadata timed out); retrying in 0.50 s",
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
    # A failure that comes at once ends the attempt; each call waits one slice at most.
    assert client.calls == [("hb_events", WAIT_SLICE)] * 3
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


# -- probe: an attempt ends early when no broker is reachable -----------------------------------


class Clock:
    """A monotonic clock the fake clients move on by the time their calls would have waited."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def all_brokers_down() -> KafkaError:
    return KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down")


class DeadBroker:
    """list_topics() waits its whole timeout and fails; librdkafka meanwhile reports errors.

    ``refusing``: the broker refuses connections (so error_cb hears _TRANSPORT, and once
    _ALL_BROKERS_DOWN); otherwise it accepts them and never answers (no error at all).
    """

    def __init__(self, clock: Clock, errors: ErrorWatch, refusing: bool) -> None:
        self.clock = clock
        self.errors = errors
        self.refusing = refusing
        self.timeouts: list[float] = []
        self._pending: list[KafkaError] = []
        self._told_all_down = False

    def list_topics(self, *, topic: str, timeout: float) -> object:
        self.timeouts.append(timeout)
        self.clock.now += timeout
        if self.refusing:
            self._pending.append(refused())
            if not self._told_all_down:
                # librdkafka says it once, until a broker comes up.
                self._pending.append(all_brokers_down())
                self._told_all_down = True
        raise KafkaException(
            KafkaError(KafkaError._TRANSPORT, "Failed to get metadata: Local: Broker transport failure")
        )

    def poll(self, timeout: float) -> None:
        # error_cb runs from poll(), as with librdkafka.
        pending, self._pending = self._pending, []
        for err in pending:
            self.errors(err)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(time, "monotonic", fake)
    return fake


def test_a_refusing_broker_ends_each_attempt_after_one_slice(sleeps: list[float], clock: Clock) -> None:
    cfg = make(connect_retries=3, connect_timeout=10)
    errors = ErrorWatch("unit")
    client = DeadBroker(clock, errors, refusing=True)
    with pytest.raises(msgbus.ConnectError) as info:
        probe(client, cfg, Attempts(cfg, errors))
    # Not 3 x 10 s: each attempt ends once librdkafka said every broker refused.
    assert client.timeouts == [WAIT_SLICE] * 3
    assert sleeps == [0.25, 0.5]
    assert "after 3 attempt(s): no broker reachable: Connection refused (_TRANSPORT)" in str(info.value)


def test_a_silent_broker_still_gets_the_whole_connect_timeout(sleeps: list[float], clock: Clock) -> None:
    cfg = make(connect_retries=2, connect_timeout=2)
    errors = ErrorWatch("unit")
    client = DeadBroker(clock, errors, refusing=False)
    with pytest.raises(msgbus.ConnectError, match="after 2 attempt"):
        probe(client, cfg, Attempts(cfg, errors))
    # Waited out in calls that start short (a Ctrl-C lands between them) and grow
    # (a slow answer is still heard), 2 s per attempt in all.
    assert client.timeouts[0] == WAIT_SLICE
    assert client.timeouts[:4] == [0.25, 0.5, 1.0, 0.25]  # the last one is what remained of the 2 s
    assert max(client.timeouts) <= 2.0
    assert sum(client.timeouts) == pytest.approx(2 * 2.0, abs=0.01)


class SlowBroker(DeadBroker):
    """Answers, but only a request that waits at least ``answer_after`` seconds hears it."""

    def __init__(self, clock: Clock, errors: ErrorWatch, answer_after: float) -> None:
        super().__init__(clock, errors, refusing=False)
        self.answer_after = answer_after

    def list_topics(self, *, topic: str, timeout: float) -> object:
        if timeout >= self.answer_after:
            self.timeouts.append(timeout)
            self.clock.now += self.answer_after
            return "metadata"
        return super().list_topics(topic=topic, timeout=timeout)


def test_a_broker_slower_than_a_slice_is_still_heard(sleeps: list[float], clock: Clock) -> None:
    # Each request waits for its own answer: with fixed short slices a 0.6 s round trip never connects.
    cfg = make(connect_retries=1, connect_timeout=10)
    errors = ErrorWatch("unit")
    client = SlowBroker(clock, errors, answer_after=0.6)
    assert probe(client, cfg, Attempts(cfg, errors)) == "metadata"
    assert client.timeouts == [0.25, 0.5, 1.0]
    assert sleeps == []


def test_an_old_all_brokers_down_alone_does_not_end_an_attempt(sleeps: list[float], clock: Clock) -> None:
    """_ALL_BROKERS_DOWN stays set; only a new refusal within the attempt ends it early."""
    cfg = make(connect_retries=2, connect_timeout=2)
    errors = ErrorWatch("unit")
    errors(refused())
    errors(all_brokers_down())
    client = DeadBroker(clock, errors, refusing=False)
    with pytest.raises(msgbus.ConnectError, match="after 2 attempt"):
        probe(client, cfg, Attempts(cfg, errors))
    assert sum(client.timeouts) == pytest.approx(2 * 2.0, abs=0.01)


def test_the_first_retry_is_logged_within_a_slice(
    monkeypatch: pytest.MonkeyPatch, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = make(connect_retries=0, connect_timeout=10)
    errors = ErrorWatch("unit")
    client = DeadBroker(clock, errors, refusing=True)
    started = clock.now
    logged_at: list[float] = []

    class Stop(Exception):
        pass

    def sleep(delay: float) -> None:
        logged_at.append(clock.now - started)
        raise Stop

    monkeypatch.setattr(time, "sleep", sleep)
    with caplog.at_level(logging.WARNING, logger="msgbus"), pytest.raises(Stop):
        probe(client, cfg, Attempts(cfg, errors))
    assert logged_at == [WAIT_SLICE]
    assert any("connect attempt 1 to kafka.example:19092 failed" in r.getMessage() for r in caplog.records)
