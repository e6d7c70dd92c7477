"""set_logger, the current logger, and the proxy librdkafka logs through."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

import msgbus
from msgbus import _log
from msgbus._inbox import Inbox


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def default_logger_after() -> Iterator[None]:
    yield
    msgbus.set_logger(None)


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
    box.put_many([("x", 0, 0, -1)])
    assert called.wait(5.0)
    # close() joins the dispatcher thread, which logs as soon as the callback raised.
    box.close()
    assert [(r.name, r.levelno, r.getMessage()) for r in records.records] == [
        ("unit.library", logging.ERROR, "msgbus: the callback raised on logged (partition 0, offset 0); going on")
    ]
