"""Where a Kafka reader's partitions stand, for ``metrics()`` and ``health()``: lag, commits, rebalances.

``Standing`` is written on the consumer thread (the watermarks it measures, the
offsets stored for commit, the broker's answers to commits, rebalances) and read
by ``metrics()`` and ``health()`` in any thread. One lock guards every field;
nothing here does network I/O except ``measure`` on the consumer thread, when
the reader is paused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaException, TopicPartition

from ..._ops.figures import GroupState
from ..._ops.metrics import PartitionLag

# A paused reader asks the broker for its partitions' ends this often, waiting at most _ENDS_TIMEOUT.
_ENDS_INTERVAL = 1.0
_ENDS_TIMEOUT = 1.0


class Standing:
    def __init__(self, topic: str) -> None:
        self._topic = topic
        self._lock = threading.Lock()
        #: partition -> high watermark, as of the last measure.
        self._ends: dict[int, int] = {}
        #: partition -> the next offset stored for commit (what the application finished).
        self._stored: dict[int, int] = {}
        #: partition -> the offset the broker last confirmed committed.
        self._committed: dict[int, int] = {}
        self._last_commit_at: float | None = None
        self._revoked_at: float | None = None
        self._rebalances = 0
        self._rebalance_seconds = 0.0
        #: The partitions assigned now, and where the assignment started each (if known).
        self._partitions: list[int] = []
        self._starts: dict[int, int] = {}
        #: Messages on the broker past the reader's fetch position.
        self._backlog = 0
        # Consumer thread only.
        self._ends_asked_at = 0.0

    @property
    def backlog(self) -> int:
        with self._lock:
            return self._backlog

    # -- the consumer thread ------------------------------------------------------

    def measure(self, consumer: Any, partitions: list[int], paused: bool) -> None:
        """The backlog past the fetch position, from the watermarks of the last fetch (no I/O).

        A paused reader fetches nothing, so its cached watermarks stand still: then the
        ends are asked of the broker, at most every ``_ENDS_INTERVAL`` (metrics() shows the lag grow).
        """
        backlog = 0
        ends: dict[int, int] = {}
        positions = consumer.position([TopicPartition(self._topic, p) for p in partitions])
        ask = paused and time.monotonic() - self._ends_asked_at >= _ENDS_INTERVAL
        if ask:
            self._ends_asked_at = time.monotonic()
        for tp in positions:
            high = -1
            if ask:
                try:
                    _, high = consumer.get_watermark_offsets(tp, timeout=_ENDS_TIMEOUT, cached=False)
                except KafkaException:
                    ask = False  # no answer: the cached ends, as when fetching
            if not ask:
                _, high = consumer.get_watermark_offsets(tp, cached=True)
            if high >= 0:
                ends[tp.partition] = high
                if tp.offset >= 0:
                    backlog += max(0, high - tp.offset)
        with self._lock:
            self._backlog = backlog
            self._ends.update(ends)

    def stored(self, offsets: Iterable[TopicPartition]) -> None:
        """Offsets were stored for the next commit."""
        with self._lock:
            self._stored.update((tp.partition, tp.offset) for tp in offsets)

    def on_commit(self, err: Any, partitions: list[Any]) -> None:
        """librdkafka's ``on_commit``: the broker's answer to a commit (consumer thread, inside consume())."""
        if err is not None:
            return
        with self._lock:
            self._last_commit_at = time.monotonic()
            for tp in partitions:
                if tp.error is None and tp.offset >= 0:
                    self._committed[tp.partition] = tp.offset

    def assigned(self, owned: list[int], positioned: Iterable[TopicPartition]) -> None:
        """A rebalance ended: the reader owns ``owned`` now; ``positioned`` (new) start at their offsets (if known)."""
        with self._lock:
            self._partitions = list(owned)
            self._starts.update((tp.partition, tp.offset) for tp in positioned if tp.offset >= 0)
            if self._revoked_at is not None:
                self._rebalances += 1
                self._rebalance_seconds += time.monotonic() - self._revoked_at
                self._revoked_at = None

    def unassigned(self, owned: list[int], gone: Iterable[int]) -> None:
        """A rebalance started: ``gone`` were revoked or lost; the reader still owns ``owned``."""
        with self._lock:
            if self._revoked_at is None:
                self._revoked_at = time.monotonic()
            self._partitions = list(owned)
            for partition in gone:
                self._starts.pop(partition, None)
                self._stored.pop(partition, None)
                self._committed.pop(partition, None)

    # -- any thread ------------------------------------------------------------------

    def state(self) -> GroupState:
        """The reader's ``GroupState`` now."""
        now = time.monotonic()
        with self._lock:
            lags = []
            for partition in self._partitions:
                done = self._stored.get(partition, self._committed.get(partition, self._starts.get(partition)))
                end = self._ends.get(partition)
                lag = None if done is None or end is None else max(0, end - done)
                lags.append(PartitionLag(partition, done, end, lag))
            rebalance_seconds = self._rebalance_seconds
            if self._revoked_at is not None:
                rebalance_seconds += now - self._revoked_at
            return GroupState(
                partitions=tuple(lags),
                rebalancing=self._revoked_at is not None,
                backlog=self._backlog,
                since_last_commit=None if self._last_commit_at is None else now - self._last_commit_at,
                rebalances=self._rebalances,
                rebalance_seconds=rebalance_seconds,
            )
