"""Where a reader starts each partition it is assigned, fixed before connect() returns.

Runs on the consumer thread, inside a rebalance callback (so inside consume()):
only the consumer calls that release the GIL without confluent-kafka's call
state are used here (committed, watermarks, offsets_for_times); list_topics()
would lose that state and abort the process.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from confluent_kafka import OFFSET_INVALID, KafkaError, KafkaException, TopicPartition

from ... import _log
from ..._config import MsgBusConfig
from ._errors import describe

# A partition that existed at connect() but reaches the reader later, uncommitted,
# starts at the first message this much older than connect(): writers' clocks differ.
_CLOCK_SLACK_MS = 1000


class StartPositions:
    """Start offsets for one reader's assignments.

    ``next_offsets`` is the reader's own map (partition -> offset after the
    last message it took in, or where it was started), shared, not copied.
    """

    def __init__(self, cfg: MsgBusConfig, commits: bool, next_offsets: dict[int, int], stop: threading.Event) -> None:
        self._cfg = cfg
        self._topic = cfg.topic
        self._commits = commits
        self._next_offsets = next_offsets
        self._stop = stop
        # The topic's partitions when connect() probed it, and when connect() returned
        # (ms since the epoch); None until then. See _start_of.
        self.probed_partitions: set[int] = set()
        self.connected_ms: int | None = None
        # Partitions a named group starts without a commit, to be committed (see commit_fresh_starts).
        self._fresh: list[TopicPartition] = []

    def connected(self) -> None:
        """connect() is returning: from now on, partitions are judged against this moment."""
        self.connected_ms = int(time.time() * 1000)

    def position(self, consumer: Any, partitions: list[Any]) -> list[Any]:
        """Start offsets for ``partitions``, tried again while the brokers cannot answer (a leader moving, say).

        Leaving it to the reset policy instead would start at the end of the
        partition whenever the fetch begins, after connect() returned, and skip
        what was written meanwhile. Only disconnect() ends the tries that way.
        """
        attempt = 0
        while True:
            self._fresh = []
            try:
                return self._position(consumer, partitions)
            except Exception as exc:
                attempt += 1
                if self._stop.is_set():
                    _log.logger().warning("could not position the reader on %s (%s); disconnecting", self._topic, exc)
                    self._fresh = []
                    return partitions
                if attempt == 1 or attempt % 10 == 0:
                    _log.logger().warning(
                        "could not position the reader on %s yet (%s); trying again (attempt %d)",
                        self._topic,
                        exc,
                        attempt,
                    )
                self._stop.wait(min(0.25 * attempt, 2.0))

    def commit_fresh_starts(self, consumer: Any) -> None:
        """Commit where a named group starts a partition it never committed.

        Without it, a partition that moves to another member (or comes back to
        this one) in a later rebalance would start again at the end of the
        topic *then*, skipping what was written after connect() returned.
        """
        fresh, self._fresh = self._fresh, []
        if not fresh:
            return
        try:
            consumer.commit(offsets=fresh, asynchronous=False)
        except KafkaException as exc:
            _log.logger().warning("committing the start of %s: %s", self._topic, describe(exc.args[0]))

    def _position(self, consumer: Any, partitions: list[Any]) -> list[Any]:
        # A named group starts a partition at its commit. A private group, which
        # never commits, goes on past what it already took in. Anything else is
        # new to the group: see _start_of.
        timeout = self._cfg.connect_timeout
        if self._commits:
            committed = consumer.committed(partitions, timeout=timeout)
        else:
            committed = [TopicPartition(tp.topic, tp.partition, OFFSET_INVALID) for tp in partitions]
        positioned = []
        established: bool | None = None
        for tp in committed:
            start = tp.offset if tp.offset >= 0 else None
            if start is None and not self._commits:
                start = self._next_offsets.get(tp.partition)
            if start is None:
                if established is None:
                    established = self._commits and self._group_established(consumer, committed, timeout)
                start = self._start_of(consumer, tp, timeout, established)
                if self._commits:
                    self._fresh.append(TopicPartition(tp.topic, tp.partition, start))
            positioned.append(TopicPartition(tp.topic, tp.partition, start))
        return positioned

    def _group_established(self, consumer: Any, committed: list[Any], timeout: float) -> bool:
        """Has this named group committed anything on the topic (so it was reading before this member came)?"""
        if any(tp.offset >= 0 for tp in committed):
            return True
        # The partitions connect() saw (list_topics() is not allowed here).
        mine = {tp.partition for tp in committed}
        others = [TopicPartition(self._topic, p) for p in sorted(self.probed_partitions) if p not in mine]
        return bool(others) and any(tp.offset >= 0 for tp in consumer.committed(others, timeout=timeout))

    def _start_of(self, consumer: Any, tp: Any, timeout: float, established: bool) -> int:
        """Where a partition with no commit starts.

        The beginning with offset_reset="earliest". Otherwise, before connect()
        returns, the end, unless the group was already reading the topic: its
        members commit where they start each partition they get, so one without
        a commit is new to the group, and started after they connected.

        After connect() returned: at or before where the partition stood then,
        never at its end now (issue 9, defect 5). That is the beginning of a
        partition that did not exist when connect() probed the topic (a topic
        created late, partitions added), else the first message written since
        connect() returned (a second's slack for clocks).
        """
        watermarks = consumer.get_watermark_offsets(tp, timeout=timeout, cached=False)
        if watermarks is None:
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT, f"no watermarks for partition {tp.partition}"))
        low, high = watermarks
        if self._cfg.offset_reset == "earliest":
            return int(low)
        connected_ms = self.connected_ms
        if connected_ms is None:
            return int(low) if established else int(high)
        if tp.partition not in self.probed_partitions:
            return int(low)
        found = consumer.offsets_for_times(
            [TopicPartition(tp.topic, tp.partition, connected_ms - _CLOCK_SLACK_MS)], timeout=timeout
        )
        if not found or found[0].error is not None:
            raise KafkaException(found[0].error if found else KafkaError(KafkaError._TIMED_OUT))
        offset = found[0].offset
        # -1: nothing written since then.
        return int(offset) if offset >= 0 else int(high)
