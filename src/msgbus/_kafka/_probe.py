"""Connect attempts: prove the broker answers, with bounded back-off between tries."""

from __future__ import annotations

import itertools
import time
from typing import Any

from .. import _log
from .._config import MsgBusConfig
from .._errors import ConnectError
from ._errors import ErrorWatch, describe
from ._settings import bootstrap_servers

_BACKOFF_FIRST = 0.25
_BACKOFF_MAX = 5.0
# Far past any sensible cap, and far from a float's range.
_BACKOFF_MAX_DOUBLINGS = 32


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    # Cap the exponent: with connect_retries=0 the attempts never end, and
    # 2**1024 no longer converts to a float (OverflowError).
    return float(min(_BACKOFF_FIRST * 2 ** min(attempt - 1, _BACKOFF_MAX_DOUBLINGS), _BACKOFF_MAX))


class Attempts:
    """Counts connect attempts against ``connect_retries`` (0: no limit)."""

    def __init__(self, cfg: MsgBusConfig, errors: ErrorWatch) -> None:
        self._cfg = cfg
        self._errors = errors
        self._counter = itertools.count(1)
        self.count = 0

    def failed(self, cause: str) -> None:
        """Record a failed attempt: wait the back-off, or raise once attempts are spent."""
        self.count = next(self._counter)
        limit = self._cfg.connect_retries
        where = bootstrap_servers(self._cfg)
        if self._errors.auth_failure:
            # Wrong credentials or an untrusted certificate: retrying cannot help.
            raise ConnectError(
                f"could not connect to Kafka at {where}: authentication or TLS failed "
                f"(not retried): {self._errors.auth_failure}"
            )
        if self._errors.last and self._errors.last not in cause:
            cause = f"{cause}; last client error: {self._errors.last}"
        if self._errors.fatal or (limit and self.count >= limit):
            raise ConnectError(f"could not connect to Kafka at {where} after {self.count} attempt(s): {cause}")
        delay = backoff(self.count)
        _log.logger().warning(
            "msgbus: connect attempt %d to %s failed (%s); retrying in %.2f s", self.count, where, cause, delay
        )
        time.sleep(delay)


def probe(client: Any, cfg: MsgBusConfig, attempts: Attempts) -> Any:
    """Fetch the topic's metadata, retrying until it answers; returns the metadata."""
    from confluent_kafka import KafkaException

    while True:
        try:
            return client.list_topics(topic=cfg.topic, timeout=cfg.connect_timeout)
        except KafkaException as exc:
            # librdkafka hands its client errors (a failed SASL handshake, an
            # untrusted certificate) to error_cb only from poll(): serve them now,
            # so that the attempt sees why it failed. Before a reader subscribes,
            # poll() returns no message; a writer has no delivery reports yet.
            client.poll(0)
            attempts.failed(describe(exc.args[0]))
