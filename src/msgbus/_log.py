"""The library's logger, swappable with ``set_logger``, and the throttle that keeps it quiet."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

from ._errors import ConfigError

_DEFAULT = logging.getLogger("msgbus")
_current: logging.Logger = _DEFAULT

#: A failing broker makes librdkafka repeat the same line many times a second:
#: each distinct line is logged at most once in this many seconds.
REPEAT_WINDOW = 30.0
#: The attribute a connect retry's log record carries (a dict: where, attempt,
#: retries, reason), for the CLI's "waiting for Kafka" line.
RETRY_RECORD_ATTR = "msgbus_connect_retry"
# How often lines whose window ended are checked for a count of repeats to report.
_SWEEP_INTERVAL = 1.0


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


# host:port (an IPv6 literal in brackets): kept as they are, since a failure
# on another broker is another failure.
_ADDRESS = re.compile(r"(\[[0-9A-Fa-f:.]*\]:\d+|[\w.-]+:\d+)")
# Digits glued to a name (ipv4, lz4, sha256) are part of it.
_NUMBER = re.compile(r"(?<![A-Za-z\d])\d+")


def normalize(text: str) -> str:
    """``text`` with its numbers (durations, counts, client ids) but not its addresses replaced by N.

    "Connect to 127.0.0.1:9092 failed (after 3ms ...)" repeats as "(after 0ms ...)":
    it is the same failure and must be recognised as one.
    """
    parts = _ADDRESS.split(text)
    # split() with a group: the addresses are at the odd indices.
    return "".join(part if i % 2 else _NUMBER.sub("N", part) for i, part in enumerate(parts))


def _render(msg: str, args: tuple[object, ...]) -> str:
    if not args:
        return msg
    try:
        return msg % args
    except (TypeError, ValueError):
        return f"{msg} {args!r}"


class _Seen:
    __slots__ = ("level", "repeats", "since", "text")

    def __init__(self, since: float, level: int, text: str) -> None:
        self.since = since
        self.level = level
        self.text = text
        self.repeats = 0


class Throttle:
    """Logs each distinct line (by key) once per window and counts the repeats.

    The count is reported with the line's next occurrence after the window, or,
    when it does not come back, by a summary line at the next throttled call
    after the window ended. No timer thread: nothing outlives the clients.
    """

    def __init__(self, window: float = REPEAT_WINDOW, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, _Seen] = {}
        self._sweep_at = 0.0

    def log(self, level: int, key: str, msg: str, *args: object) -> bool:
        """Log ``msg % args`` unless ``key`` was logged within the window; returns whether it was."""
        now = self._clock()
        repeats = 0
        span = 0.0
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen.since < self._window:
                seen.repeats += 1
                emit = False
            else:
                emit = True
                if seen is not None:
                    repeats, span = seen.repeats, now - seen.since
                self._seen[key] = _Seen(now, level, _render(msg, args))
            due = self._expired(now) if now >= self._sweep_at else []
        target = _current
        for old in due:
            target.log(
                old.level,
                "%d more like this in the last %.0f s, not logged: %s",
                old.repeats,
                self._window,
                old.text,
            )
        if emit:
            if repeats:
                target.log(
                    level, "%s [%d more like this in the last %.0f s, not logged]", _render(msg, args), repeats, span
                )
            else:
                target.log(level, msg, *args)
        return emit

    def _expired(self, now: float) -> list[_Seen]:
        """Forget the lines whose window ended; those repeated meanwhile get a summary."""
        self._sweep_at = now + _SWEEP_INTERVAL
        ended = [key for key, seen in self._seen.items() if now - seen.since >= self._window]
        return [seen for seen in (self._seen.pop(key) for key in ended) if seen.repeats]


class LogProxy:
    """Forwards librdkafka's log lines to whichever logger is current, throttled.

    librdkafka clients keep the logger object they were created with; this
    proxy lets a later ``set_logger`` take effect for clients already running.
    """

    def __init__(self) -> None:
        self.throttle = Throttle()

    def log(self, level: int, msg: str, *args: object) -> None:
        # librdkafka warns about transient, self-healing states ("retrying",
        # "coordinator load in progress"); what really fails reaches msgbus as an
        # error or a delivery report, logged at WARNING or ERROR. So its warnings
        # are passed on as INFO, and everything else as it comes.
        original = level
        if level == logging.WARNING:
            level = logging.INFO
        if original < logging.WARNING:
            # Informational and debug lines (librdkafka's `debug` setting): all of them.
            _current.log(level, msg, *args)
            return
        # Warnings and errors repeat for as long as a broker is down (FAIL lines,
        # about 20 a second): one per window, whatever the logging configuration.
        self.throttle.log(level, f"{level}:{normalize(_render(msg, args))}", msg, *args)


LOG_PROXY = LogProxy()
