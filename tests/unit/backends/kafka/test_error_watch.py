"""ErrorWatch (error_cb): the last client error, fatal ones, and one log line per window for repeats."""

from __future__ import annotations

import logging

import pytest
from confluent_kafka import KafkaError

from msgbus._backends.kafka._errors import ErrorWatch


def test_error_watch_keeps_the_last_error_and_logs_it(caplog: pytest.LogCaptureFixture) -> None:
    errors = ErrorWatch("writer on t")
    assert (errors.last, errors.fatal) == (None, None)
    with caplog.at_level(logging.WARNING, logger="msgbus"):
        errors(KafkaError(KafkaError._TRANSPORT, "Connection refused"))
        errors(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    assert errors.last == "1/1 brokers are down (_ALL_BROKERS_DOWN)"
    assert errors.fatal is None
    assert [r.getMessage() for r in caplog.records] == [
        "writer on t: Connection refused (_TRANSPORT)",
        "writer on t: 1/1 brokers are down (_ALL_BROKERS_DOWN)",
    ]


def test_error_watch_logs_a_repeated_error_once_per_window(caplog: pytest.LogCaptureFixture) -> None:
    errors = ErrorWatch("reader on t")
    with caplog.at_level(logging.DEBUG, logger="msgbus"):
        for ms in range(200):
            errors(KafkaError(KafkaError._TRANSPORT, f"Connect to ipv4#127.0.0.1:9092 failed (after {ms}ms)"))
    # Every one is remembered (connect failures quote it); one is logged, at no level a repeat.
    assert errors.last == "Connect to ipv4#127.0.0.1:9092 failed (after 199ms) (_TRANSPORT)"
    assert errors.unreachable == 200
    assert [r.getMessage() for r in caplog.records] == [
        "reader on t: Connect to ipv4#127.0.0.1:9092 failed (after 0ms) (_TRANSPORT)"
    ]


def test_error_watch_reports_the_repeats_after_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    from msgbus import _log

    now = [1000.0]
    throttle = _log.Throttle
    monkeypatch.setattr(_log, "Throttle", lambda: throttle(clock=lambda: now[0]))
    errors = ErrorWatch("writer on t")
    messages: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("msgbus")
    logger.addHandler(handler)
    try:
        for _ in range(10):
            errors(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
            now[0] += 1.0
        now[0] += 25.0
        errors(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    finally:
        logger.removeHandler(handler)
    assert messages == [
        "writer on t: 1/1 brokers are down (_ALL_BROKERS_DOWN)",
        "writer on t: 1/1 brokers are down (_ALL_BROKERS_DOWN) [9 more like this in the last 35 s, not logged]",
    ]
