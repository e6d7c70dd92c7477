"""Noticing that the cluster behind a writer's address was replaced (another cluster id on the same port).

A cluster replaced under a running producer (stopped with its data deleted,
a new one started in its place) leaves librdkafka stuck on the old one's
state: the topic's old leaders and ids, and an idempotent producer id the new
cluster never issued (and may issue again, to another writer, which then
fails with OUT_OF_ORDER_SEQUENCE_NUMBER). Only a new producer is clean.

``ClusterWatch`` keeps the cluster id the writer connected to and, once there
is a reason to doubt it (a broker became unreachable, a write failed), asks
the cluster for its id again, at most every ``_LOOK_INTERVAL``, until an
answer comes. Used by the writer's report thread only, except ``suspect()``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ._errors import ErrorWatch
from ._gate import ProduceGate

# How often a doubted cluster id is asked again, and how long one answer may take.
_LOOK_INTERVAL = 0.5
_LOOK_TIMEOUT = 1.0


class ClusterWatch:
    """Invariant: ``_doubt`` is set (under ``_lock``) from a failure until an answer that came after it."""

    def __init__(self, cluster_id: str | None, errors: ErrorWatch, topic: str) -> None:
        self.cluster_id = cluster_id
        self._errors = errors
        self._topic = topic
        self._lock = threading.Lock()
        self._doubt = False
        self._unreachable_seen = errors.unreachable
        self._next_look = 0.0

    def suspect(self) -> None:
        """A write failed: look at the cluster id again (any thread)."""
        with self._lock:
            self._doubt = True

    def replaced(self, producer: Any) -> str | None:
        """The new cluster id, if a look is due and finds another one; else None (the report thread)."""
        with self._lock:
            unreachable = self._errors.unreachable
            if unreachable != self._unreachable_seen:
                self._unreachable_seen = unreachable
                self._doubt = True
            if not self._doubt or time.monotonic() < self._next_look:
                return None
            self._next_look = time.monotonic() + _LOOK_INTERVAL
        try:
            found = producer.list_topics(topic=self._topic, timeout=_LOOK_TIMEOUT).cluster_id
        except Exception:
            return None  # no answer yet: still in doubt
        with self._lock:
            # An unreachable broker reported meanwhile keeps the doubt for the next look.
            self._doubt = self._errors.unreachable != self._unreachable_seen
        if not found or found == self.cluster_id:
            return None
        return str(found)


def replace_producer(
    gate: ProduceGate, watch: ClusterWatch, cluster_id: str, new: Callable[[], Any], announce: Callable[[str], None]
) -> None:
    """Put a ``new()`` producer behind ``gate`` for the cluster ``cluster_id`` (nothing if the gate closed first).

    The gate waits for produce() calls still in the old producer; ``announce(why)``
    runs; then the old one's messages, which the old cluster never acknowledged and
    no cluster will now, are purged: their reports fail them, and it is closed.
    """
    producer = new()
    old = gate.swap(producer)
    if old is None:  # disconnect() came first: it flushes the producer it has
        producer.close()
        return
    why = (
        f"the Kafka cluster behind this address was replaced (cluster id {watch.cluster_id}, now {cluster_id}); "
        "the writer moved to the new one"
    )
    watch.cluster_id = cluster_id
    announce(why)
    old.purge()
    old.flush(0)
    old.close()
