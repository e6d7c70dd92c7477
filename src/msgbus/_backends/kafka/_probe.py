"""Connect attempts: prove the broker answers, with bounded back-off between tries."""

from __future__ import annotations

import itertools
import time
from typing import Any

from ... import _cancel, _log
from ..._config import MsgBusConfig
from ..._errors import ConnectError
from ._errors import ErrorWatch, describe
from ._settings import bootstrap_servers

_BACKOFF_FIRST = 0.25
_BACKOFF_MAX = 5.0
# Far past any sensible cap, and far from a float's range.
_BACKOFF_MAX_DOUBLINGS = 32

#: First (and usual) blocking call while connecting. A signal (Ctrl-C) is handled
#: only between C calls, and a dead broker is noticed only between them: an
#: attempt waits out connect_timeout in slices this long.
WAIT_SLICE = 0.25
# Each metadata request waits for its own answer only, so a broker that answers
# slower than a slice (a long round trip, a loaded broker) would never be heard:
# a slice that timed out with no broker refusing is followed by one twice as long,
# up to this.
_MAX_SLICE = 2.0


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

    @property
    def errors(self) -> ErrorWatch:
        return self._errors

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
        retry = {"where": where, "attempt": self.count, "retries": limit, "reason": cause}
        _log.logger().warning(
            "connect attempt %d to %s failed (%s); retrying in %.2f s",
            self.count,
            where,
            cause,
            delay,
            extra={_log.RETRY_RECORD_ATTR: retry},
        )
        _cancel.sleep(delay)


def probe(client: Any, cfg: MsgBusConfig, attempts: Attempts) -> Any:
    """Fetch the topic's metadata, retrying until it answers; returns the metadata.

    An attempt lasts up to ``connect_timeout``, but ends as soon as librdkafka
    reports that every broker refused the connection or could not be resolved.
    """
    errors = attempts.errors
    while True:
        metadata, cause = _attempt(client, cfg, errors)
        if cause is None:
            return metadata
        attempts.failed(cause)
        # Errors from the back-off are old news: serve them before the next attempt judges.
        client.poll(0)


def _attempt(client: Any, cfg: MsgBusConfig, errors: ErrorWatch) -> tuple[Any, str | None]:
    """One attempt: (the metadata, None), or (None, why it failed)."""
    from confluent_kafka import KafkaException

    mark = errors.unreachable
    deadline = time.monotonic() + cfg.connect_timeout
    slice_ = WAIT_SLICE
    while True:
        _cancel.check()
        wait = max(min(slice_, deadline - time.monotonic()), 0.001)
        started = time.monotonic()
        try:
            return client.list_topics(topic=cfg.topic, timeout=wait), None
        except KafkaException as exc:
            # librdkafka hands its client errors (a refused connection, a failed SASL
            # handshake, an untrusted certificate) to error_cb only from poll():
            # serve them now, so that the attempt sees why it failed. Before a reader
            # subscribes, poll() returns no message; a writer has no delivery reports yet.
            client.poll(0)
            cause = describe(exc.args[0])
        if time.monotonic() - started < wait / 2:
            # It failed without waiting: the client knows why, and waiting won't change it.
            return None, cause
        if errors.auth_failure or errors.fatal:
            return None, cause
        if errors.unreachable_since(mark):
            return None, f"no broker reachable: {errors.last_unreachable}" if errors.last_unreachable else cause
        if time.monotonic() >= deadline:
            return None, cause
        slice_ = min(slice_ * 2, _MAX_SLICE)
