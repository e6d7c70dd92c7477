"""set_logger, the current logger, and the proxy librdkafka logs through."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
from log_capture import ListHandler

import msgbus
from msgbus import _log
from msgbus._reading.inbox import Inbox
from msgbus._reading.item import Item


@pytest.fixture(autouse=True)
def default_logger_after() -> Iterator[None]:
    yield
    msgbus.set_logger(None)


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The proxy's throttle is process-wide: each test gets a fresh one, on a clock of its own."""
    fake = Clock()
    monkeypatch.setattr(_log.LOG_PROXY, "throttle", _log.Throttle(clock=fake))
    return fake


def custom_logger(name: str) -> tuple[logging.Logger, ListHandler]:
    logger = logging.getLogger(name)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handler = ListHandler()
    logger.handlers = [handler]
    return logger, handler


def test_the_default_is_the_msgbus_logger() -> None:
    assert _log.logger() is logging.getLogger("msgbus")


def test_set_logger_makes_it_current() -> None:
    custom, _ = custom_logger("unit.custom")
    msgbus.set_logger(custom)
    assert _log.logger() is custom


def test_set_logger_none_restores_the_default() -> None:
    custom, _ = custom_logger("unit.custom")
    msgbus.set_logger(custom)
    msgbus.set_logger(None)
    assert _log.logger() is logging.getLogger("msgbus")


def test_the_root_logger_is_accepted() -> None:
    msgbus.set_logger(logging.getLogger())
    assert _log.logger() is logging.root


@pytest.mark.parametrize(
    "not_a_logger",
    [
        "msgbus",
        5,
        print,
        logging.LoggerAdapter(logging.getLogger("unit.adapted"), {}),
        logging.StreamHandler(),
    ],
    ids=["str", "int", "function", "LoggerAdapter", "Handler"],
)
def test_set_logger_rejects_non_loggers(not_a_logger: object) -> None:
    custom, _ = custom_logger("unit.kept")
    msgbus.set_logger(custom)
    with pytest.raises(msgbus.ConfigError, match=r"^set_logger needs a logging\.Logger or None, not "):
        msgbus.set_logger(not_a_logger)  # type: ignore[arg-type]
    assert _log.logger() is custom


def test_log_proxy_forwards_to_the_current_logger() -> None:
    first, first_records = custom_logger("unit.first")
    second, second_records = custom_logger("unit.second")
    msgbus.set_logger(first)
    _log.LOG_PROXY.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#producer-1", "Connection refused")
    # The same proxy object follows a later set_logger: that is what it is for.
    msgbus.set_logger(second)
    _log.LOG_PROXY.log(logging.DEBUG, "plain")
    assert [(r.levelno, r.getMessage()) for r in first_records.records] == [
        (logging.ERROR, "FAIL [rdkafka#producer-1] Connection refused")
    ]
    assert [(r.levelno, r.getMessage(), r.name) for r in second_records.records] == [
        (logging.DEBUG, "plain", "unit.second")
    ]


def test_log_proxy_uses_the_default_after_restore(caplog: pytest.LogCaptureFixture) -> None:
    custom, custom_records = custom_logger("unit.custom")
    msgbus.set_logger(custom)
    msgbus.set_logger(None)
    with caplog.at_level(logging.INFO, logger="msgbus"):
        _log.LOG_PROXY.log(logging.INFO, "to the default %d", 1)
    assert [(r.name, r.getMessage()) for r in caplog.records] == [("msgbus", "to the default 1")]
    assert custom_records.records == []


def test_library_log_lines_go_to_the_custom_logger() -> None:
    custom, records = custom_logger("unit.library")
    msgbus.set_logger(custom)
    called = threading.Event()

    def boom(msg: str) -> None:
        called.set()
        raise ValueError(msg)

    box = Inbox(5, name="logged")
    box.register(boom)
    box.feed.put_items([Item("x", 0, 0, -1)])
    assert called.wait(5.0)
    # close() joins the dispatcher thread, which logs as soon as the callback raised.
    box.close()
    assert [(r.name, r.levelno, r.getMessage()) for r in records.records] == [
        ("unit.library", logging.ERROR, "the callback raised on logged (partition 0, offset 0); going on")
    ]


# -- the throttle: one line per distinct error per window, then the count of repeats --------------

FAIL_FORMAT = "%s [%s] %s"


def fail_line(port: int = 9092, after_ms: int = 0, client: int = 1) -> tuple[str, str, str]:
    return (
        "FAIL",
        f"msgbus-python/0.1.0#producer-{client}",
        f"[thrd:127.0.0.1:{port}/bootstrap]: 127.0.0.1:{port}/bootstrap: Connect to ipv4#127.0.0.1:{port} "
        f"failed: Connection refused (after {after_ms}ms in state CONNECT)",
    )


def test_normalize_replaces_numbers_but_keeps_addresses() -> None:
    text = (
        "127.0.0.1:9092/bootstrap: Connect to ipv4#127.0.0.1:9092 failed (after 12ms, 3 identical error(s) suppressed)"
    )
    assert _log.normalize(text) == (
        "127.0.0.1:9092/bootstrap: Connect to ipv4#127.0.0.1:9092 failed (after Nms, N identical error(s) suppressed)"
    )
    assert _log.normalize("ipv6#[::1]:9093 down, 1/3 brokers, lz4") == "ipv6#[::1]:9093 down, N/N brokers, lz4"
    assert _log.normalize("Failed to resolve 'kafka-0.example:9092'") == "Failed to resolve 'kafka-0.example:9092'"


def test_a_flood_of_librdkafka_lines_is_logged_once_per_window(clock: Clock) -> None:
    custom, records = custom_logger("unit.flood")
    msgbus.set_logger(custom)
    # 20 a second for 29 s, as librdkafka does against a dead broker: the numbers differ.
    for i in range(580):
        _log.LOG_PROXY.log(logging.ERROR, FAIL_FORMAT, *fail_line(after_ms=i % 7, client=1 + i % 3))
        clock.now += 0.05
    assert [r.getMessage() for r in records.records] == [FAIL_FORMAT % fail_line()]
    # The window ends: the next one is logged, with the count of those left out.
    clock.now += 1.5
    _log.LOG_PROXY.log(logging.ERROR, FAIL_FORMAT, *fail_line(after_ms=1))
    assert len(records.records) == 2
    last = records.records[-1]
    assert last.levelno == logging.ERROR
    assert (
        last.getMessage() == FAIL_FORMAT % fail_line(after_ms=1) + " [579 more like this in the last 30 s, not logged]"
    )


def test_the_repeats_of_a_line_that_stopped_are_counted_at_the_next_line(clock: Clock) -> None:
    custom, records = custom_logger("unit.stopped")
    msgbus.set_logger(custom)
    for _ in range(5):
        _log.LOG_PROXY.log(logging.ERROR, FAIL_FORMAT, *fail_line())
    clock.now += 31.0
    _log.LOG_PROXY.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#producer-1", "something else")
    messages = [(r.levelno, r.getMessage()) for r in records.records]
    assert messages == [
        (logging.ERROR, FAIL_FORMAT % fail_line()),
        (logging.ERROR, "4 more like this in the last 30 s, not logged: " + FAIL_FORMAT % fail_line()),
        (logging.ERROR, "FAIL [rdkafka#producer-1] something else"),
    ]


def test_another_broker_or_another_level_is_another_line(clock: Clock) -> None:
    custom, records = custom_logger("unit.distinct")
    msgbus.set_logger(custom)
    for _ in range(3):
        _log.LOG_PROXY.log(logging.ERROR, FAIL_FORMAT, *fail_line(port=9092))
        _log.LOG_PROXY.log(logging.ERROR, FAIL_FORMAT, *fail_line(port=9093))
        _log.LOG_PROXY.log(logging.CRITICAL, FAIL_FORMAT, *fail_line(port=9092))
    assert len(records.records) == 3


def test_librdkafka_warnings_are_throttled_too_and_still_passed_on_as_info(clock: Clock) -> None:
    custom, records = custom_logger("unit.warnings")
    msgbus.set_logger(custom)
    for i in range(50):
        _log.LOG_PROXY.log(logging.WARNING, "%s [%s] %s", "REQTMOUT", "rdkafka#consumer-1", f"Timed out {i} requests")
    assert [(r.levelno, r.getMessage()) for r in records.records] == [
        (logging.INFO, "REQTMOUT [rdkafka#consumer-1] Timed out 0 requests")
    ]


def test_debug_lines_are_not_throttled(clock: Clock) -> None:
    custom, records = custom_logger("unit.debug")
    msgbus.set_logger(custom)
    for _ in range(10):
        _log.LOG_PROXY.log(logging.DEBUG, "%s [%s] %s", "BROKER", "rdkafka#consumer-1", "same line")
    assert len(records.records) == 10


def test_the_throttle_applies_whatever_the_logging_configuration(
    clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    """No handler anywhere: lines reach stderr through logging's last resort, once."""
    msgbus.set_logger(None)
    default = logging.getLogger("msgbus")
    saved = (default.handlers[:], default.level, default.propagate, logging.root.handlers[:])
    default.handlers, default.propagate = [], True
    default.setLevel(logging.NOTSET)
    logging.root.handlers = []
    try:
        for i in range(100):
            _log.LOG_PROXY.log(logging.ERROR, FAIL_FORMAT, *fail_line(after_ms=i))
    finally:
        default.handlers, default.level, default.propagate, logging.root.handlers = saved
    assert capsys.readouterr().err.count("Connection refused") == 1
