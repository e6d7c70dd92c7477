"""connect(): validation before any network, bounded retries against a dead
broker, and the logger the library writes to (set_logger)."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import pytest
from log_capture import ListHandler

import msgbus
from msgbus.testing import LocalKafka

from .helpers import BusFactory, closed_port, run_bounded

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("topic", "bad topic!"),
        ("topic", ""),
        ("direction", 7),
        ("blocking", 0),
        ("bus_tech", 9),
        ("port", 0),
        ("connect_retries", -1),
    ],
)
def test_bad_config_raises_config_error_before_any_network(field: str, value: Any) -> None:
    port = closed_port()
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "topic": "fine-topic",
        "direction": msgbus.BusWriter,
        "blocking": msgbus.Blocking,
        "connect_retries": 3,
        "connect_timeout": 5,
        field: value,
    }
    cfg = msgbus.MsgBusConfig(**settings)
    started = time.monotonic()
    with pytest.raises(msgbus.ConfigError) as info:
        run_bounded(lambda: msgbus.connect(cfg), 10)
    elapsed = time.monotonic() - started
    # A connect attempt against the closed port would take connect_timeout (5 s) per try.
    assert elapsed < 1.0, f"connect took {elapsed:.2f} s to reject a bad config"
    assert field in str(info.value)
    # The caller's config object is not touched by connect.
    assert getattr(cfg, field) == value


def test_bad_config_error_is_a_value_error() -> None:
    cfg = msgbus.MsgBusConfig(topic="bad topic!", direction=msgbus.BusReader, port=closed_port())
    with pytest.raises(ValueError, match="topic"):
        msgbus.connect(cfg)


def test_connect_needs_a_config_object() -> None:
    bad: Any = {"topic": "x", "direction": 1}
    with pytest.raises(msgbus.ConfigError):
        msgbus.connect(bad)


@pytest.mark.parametrize("direction", [msgbus.BusWriter, msgbus.BusReader])
def test_dead_port_raises_connect_error_after_the_attempts(direction: msgbus.BusDir) -> None:
    port = closed_port()
    cfg = msgbus.MsgBusConfig(
        host="127.0.0.1",
        port=port,
        topic="nobody-home",
        direction=direction,
        connect_retries=3,
        connect_timeout=1,
    )
    started = time.monotonic()
    with pytest.raises(msgbus.ConnectError) as info:
        # 3 attempts of at most 1 s plus back-off: far below this bound.
        run_bounded(lambda: msgbus.connect(cfg), 30)
    elapsed = time.monotonic() - started
    text = str(info.value)
    assert f"127.0.0.1:{port}" in text
    assert "3 attempt" in text
    # ... and a cause after the address and count.
    cause = text.split("attempt(s):", 1)[1].strip()
    assert any(word in cause for word in ("_TRANSPORT", "Connection refused", "_TIMED_OUT")), text
    assert elapsed < 15, f"connect took {elapsed:.1f} s"
    assert isinstance(info.value, ConnectionError)


def test_connect_retries_one_means_one_attempt() -> None:
    port = closed_port()
    cfg = msgbus.MsgBusConfig(
        host="127.0.0.1",
        port=port,
        topic="nobody-home",
        direction=msgbus.BusWriter,
        connect_retries=1,
        connect_timeout=1,
    )
    with pytest.raises(msgbus.ConnectError, match=r"after 1 attempt\(s\)"):
        run_bounded(lambda: msgbus.connect(cfg), 20)


def test_status_open_after_connect(buses: BusFactory, topic: str) -> None:
    writer = buses.writer(topic)
    reader = buses.reader(topic)
    assert writer.status() == msgbus.StatusOpen
    assert reader.status() == msgbus.StatusOpen


# -- set_logger ----------------------------------------------------------------


@pytest.fixture
def custom_logger() -> Any:
    logger = logging.getLogger(f"test.custom.{uuid.uuid4().hex}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handler = ListHandler()
    logger.addHandler(handler)
    try:
        yield logger, handler
    finally:
        msgbus.set_logger(None)
        logger.removeHandler(handler)


def _failing_connect(retries: int) -> None:
    cfg = msgbus.MsgBusConfig(
        host="127.0.0.1",
        port=closed_port(),
        topic="nobody-home",
        direction=msgbus.BusWriter,
        connect_retries=retries,
        connect_timeout=1,
    )
    with pytest.raises(msgbus.ConnectError):
        run_bounded(lambda: msgbus.connect(cfg), 20)


def test_set_logger_routes_msgbus_and_librdkafka_lines(
    custom_logger: tuple[logging.Logger, ListHandler], caplog: pytest.LogCaptureFixture
) -> None:
    logger, handler = custom_logger
    caplog.set_level(logging.DEBUG, logger="msgbus")
    msgbus.set_logger(logger)
    _failing_connect(retries=2)
    messages = handler.messages()
    # msgbus's own line about the failed attempt ...
    assert any("connect attempt 1" in m for m in messages), messages
    # ... and librdkafka's lines (they name the client instance, e.g. "msgbus-python/0.1.0#producer-3").
    assert any("#producer-" in m for m in messages), messages
    # Nothing went to the default logger meanwhile.
    assert [r for r in caplog.records if r.name == "msgbus"] == []


def test_set_logger_none_restores_the_default(
    custom_logger: tuple[logging.Logger, ListHandler], caplog: pytest.LogCaptureFixture
) -> None:
    logger, handler = custom_logger
    caplog.set_level(logging.DEBUG, logger="msgbus")
    msgbus.set_logger(logger)
    msgbus.set_logger(None)
    _failing_connect(retries=2)
    assert handler.records == []
    assert any("connect attempt 1" in r.getMessage() for r in caplog.records if r.name == "msgbus")


def test_set_logger_takes_effect_for_a_running_bus(
    custom_logger: tuple[logging.Logger, ListHandler], kafka: LocalKafka, topic: str
) -> None:
    logger, handler = custom_logger
    with BusFactory(kafka) as local:
        writer = local.writer(topic)
        msgbus.set_logger(logger)
        writer.message_write("hello")
        writer.disconnect()
    assert any("disconnected" in m and topic in m for m in handler.messages()), handler.messages()


@pytest.mark.parametrize("bad", ["x", 5, logging.StreamHandler()])
def test_set_logger_rejects_non_loggers(bad: Any, custom_logger: tuple[logging.Logger, ListHandler]) -> None:
    logger, handler = custom_logger
    msgbus.set_logger(logger)
    with pytest.raises(msgbus.ConfigError):
        msgbus.set_logger(bad)
    # The logger in use did not change.
    _failing_connect(retries=1)
    assert any("#producer-" in m for m in handler.messages()), handler.messages()
