"""``healthy()``: a cached metadata round-trip that proves the broker answers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ..._config import MsgBusConfig

# An answer is reused this long, so that a busy /health endpoint does not flood the broker.
_CACHE_SECONDS = 1.0
# Bound on one probe: a dead broker makes healthy() this slow at worst.
_PROBE_TIMEOUT = 2.0


class HealthProbe:
    """Asks ``client()`` for the topic's metadata; the client must be safe to use from any thread.

    (A consumer is not: its thread sits in consume(), and a second call into it
    from another thread can deadlock. Readers pass an AdminClient.)
    """

    def __init__(self, cfg: MsgBusConfig, client: Callable[[], Any]) -> None:
        self._topic = cfg.topic
        self._timeout = min(_PROBE_TIMEOUT, cfg.connect_timeout)
        self._client = client
        self._lock = threading.Lock()
        self._checked_at = -_CACHE_SECONDS
        self._answer = False

    def check(self, is_open: bool) -> bool:
        if not is_open:
            return False
        with self._lock:
            now = time.monotonic()
            if now - self._checked_at >= _CACHE_SECONDS:
                self._answer = self._probe()
                self._checked_at = time.monotonic()
            return self._answer

    def _probe(self) -> bool:
        try:
            metadata = self._client().list_topics(topic=self._topic, timeout=self._timeout)
        except Exception:
            return False
        return bool(metadata.brokers)
