"""How the ``msgbus`` command connects, and what it says meanwhile on stderr."""

from __future__ import annotations

import logging
import sys
import threading
from typing import TextIO

from .. import _config
from .._backends import connect as _connect
from .._backends.base import MsgBusIO
from .._log import RETRY_RECORD_ATTR, set_logger

# A connect still under way after this many seconds says on stderr what it waits for
# (a broker that does not answer; a refused one is reported at its first attempt).
# Not sooner: a reader's healthy group join alone can take a few seconds.
_WAITING_AFTER = 5.0


class _Waiting(logging.Handler):
    """Says once, on stderr, what a connect waits for: without it the command looks hung."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(logging.WARNING)
        self._stream = stream
        self._said = False
        self._say_lock = threading.Lock()

    def say(self, where: str, detail: str) -> None:
        with self._say_lock:
            if self._said:
                return
            self._said = True
        self._stream.write(f"msgbus: waiting for Kafka at {where} ({detail}); Ctrl-C stops\n")
        self._stream.flush()

    def emit(self, record: logging.LogRecord) -> None:
        retry = getattr(record, RETRY_RECORD_ATTR, None)
        if isinstance(retry, dict):
            of = retry["retries"] or "unlimited"
            self.say(retry["where"], f"attempt {retry['attempt']} of {of} failed: {retry['reason']}")


_waiting: _Waiting | None = None


def connect(cfg: _config.MsgBusConfig) -> MsgBusIO:
    """connect(); if that takes a while (a broker that does not answer), stderr says what it waits for."""
    from .._backends.kafka._settings import bootstrap_servers

    timer = None
    if _waiting is not None:
        timer = threading.Timer(_WAITING_AFTER, _waiting.say, (bootstrap_servers(cfg), "no answer yet"))
        timer.daemon = True
        timer.start()
    try:
        return _connect.connect(cfg)
    finally:
        if timer is not None:
            timer.cancel()


def quiet_logs(verbose: bool) -> None:
    """By default only the final error line, and once what a connect waits for.

    With --verbose, the library's warnings (retries, broker errors) too.
    """
    global _waiting
    logger = logging.getLogger("msgbus.cli")
    logger.propagate = False
    for old in logger.handlers[:]:
        logger.removeHandler(old)
    _waiting = _Waiting(sys.stderr)
    logger.addHandler(_waiting)
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("msgbus: %(levelname)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    set_logger(logger)
