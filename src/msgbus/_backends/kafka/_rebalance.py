"""KafkaReader's rebalance callbacks: called on the consumer thread, inside consume().

Eager ("classic"): every rebalance revokes the whole assignment, then assigns the
whole new one. Incremental: the callbacks get only the partitions that move; the
rest stay assigned, and go on fetching (or stay paused) meanwhile. In both,
``_partitions`` is what is assigned now, and ``_paused`` is True only while every
assigned partition is paused. Only the consumer thread touches these fields.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaError, KafkaException

from ... import _log
from ..._reading.inbox import Inbox
from ._errors import describe
from ._standing import Standing
from ._start import StartPositions


class Rebalances:
    """The callbacks; KafkaReader sets the fields below in its ``__init__`` and defines ``_store_done``."""

    _starts_at: StartPositions
    _incremental: bool
    _paused: bool
    _partitions: list[int]
    _standing: Standing
    _assigned_at: dict[int, int]
    _next_offsets: dict[int, int]
    _assigned: threading.Event
    _topic: str
    _commits: bool
    _inbox: Inbox

    if TYPE_CHECKING:
        # Defined by the class this one is mixed into (or its bases); declared here for the type checker.
        def _store_done(self) -> None: ...

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        positioned = self._starts_at.position(consumer, partitions)
        if self._incremental:
            consumer.incremental_assign(positioned)
        else:
            consumer.assign(positioned)
        if positioned:
            # librdkafka keeps a partition's pause across a revoke and a new assign: one
            # paused while the inbox was full would never fetch again (issue 9, defect 1).
            # The loop pauses again if the inbox is still full.
            consumer.resume(positioned)
            if self._incremental and self._paused:
                # The partitions kept are paused (the inbox is full): the new ones wait with
                # them, and the loop resumes all of them together.
                consumer.pause(positioned)
        self._starts_at.commit_fresh_starts(consumer)
        gained = {tp.partition for tp in positioned}
        self._partitions = sorted(gained.union(self._partitions) if self._incremental else gained)
        self._standing.assigned(self._partitions, positioned)
        for tp in positioned:
            if tp.offset >= 0:
                self._assigned_at[tp.partition] = tp.offset
                self._next_offsets.setdefault(tp.partition, tp.offset)
        if not self._incremental:
            self._paused = False
        # Incremental: a member joining a group whose partitions are all owned gets
        # nothing at first (they are revoked from their owners, then assigned in a
        # second round); it is in the group, and connect() may return.
        self._assigned.set()
        _log.logger().info(
            "reader on %s assigned %s%s",
            self._topic,
            {tp.partition: tp.offset for tp in positioned},
            f", now owns {self._partitions}" if self._incremental else "",
        )

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        revoked = self._unassigned(partitions)
        if self._commits:
            self._forget(revoked)
        # Commit what the application finished, so the next owner starts there.
        self._store_done()
        if self._commits:
            try:
                consumer.commit(asynchronous=False)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError._NO_OFFSET:
                    _log.logger().warning("commit on revoke for %s: %s", self._topic, describe(exc.args[0]))
        for partition in revoked:
            self._assigned_at.pop(partition, None)

    def _on_lost(self, consumer: Any, partitions: list[Any]) -> None:
        """The group went on without this member (its session ran out): the partitions are another's already.

        Their queued messages are left to the new owner, as on a revoke; a commit
        would be refused (this member is no longer of the group's generation), so
        none is tried. What was finished and not yet committed is read again.
        """
        lost = self._unassigned(partitions)
        _log.logger().warning(
            "reader on %s lost partitions %s: the group reassigned them without this member", self._topic, lost
        )
        if self._commits:
            self._forget(lost)
        for partition in lost:
            self._assigned_at.pop(partition, None)

    def _unassigned(self, partitions: list[Any]) -> list[int]:
        """Take ``partitions`` out of ``_partitions``; their numbers (the librdkafka fallback unassigns them)."""
        gone = sorted({tp.partition for tp in partitions})
        self._partitions = [p for p in self._partitions if p not in gone]
        self._standing.unassigned(self._partitions, gone)
        return gone

    def _forget(self, partitions: Collection[int]) -> None:
        """A named group's revoked partitions: their queued, unread messages are left to the new owner.

        They are not committed, so the new owner reads them from the commit;
        handing them out here as well would only make duplicates (issue 9, defect 8).
        """
        dropped = self._inbox.feed.forget(partitions)
        for partition in partitions:
            self._next_offsets.pop(partition, None)
        if dropped:
            _log.logger().info(
                "reader on %s left %d queued message(s) of revoked partitions %s to their new owner",
                self._topic,
                dropped,
                sorted(partitions),
            )
