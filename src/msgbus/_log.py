"""The library's logger, swappable with :func:`set_logger`."""

from __future__ import annotations

import logging

from ._errors import ConfigError

_DEFAULT = logging.getLogger("msgbus")
_current: logging.Logger = _DEFAULT


def set_logger(logger: logging.Logger | None) -> None:
    """Send msgbus's log lines (librdkafka's included) to ``logger``.

    ``None`` restores the default, ``logging.getLogger("msgbus")``.
    """
    global _current
    if logger is None:
        _current = _DEFAULT
        return
    if not isinstance(logger, logging.Logger):
        raise ConfigError(f"set_logger needs a logging.Logger or None, not {type(logger).__name__}")
    _current = logger


def logger() -> logging.Logger:
    """The logger in use now."""
    return _current


class LogProxy:
    """Forwards librdkafka's log lines to whichever logger is current.

    librdkafka clients keep the logger object they were created with; this
    proxy lets a later ``set_logger`` take effect for clients already running.
    """

    def log(self, level: int, msg: str, *args: object) -> None:
        # librdkafka warns about transient, self-healing states ("retrying",
        # "coordinator load in progress"); what really fails reaches msgbus as an
        # error or a delivery report, logged at WARNING or ERROR. So its warnings
        # are passed on as INFO, and everything else as it comes.
        if level == logging.WARNING:
            level = logging.INFO
        _current.log(level, msg, *args)


LOG_PROXY = LogProxy()
