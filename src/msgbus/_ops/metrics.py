"""What ``MsgBusIO.metrics()`` returns, and ``Durations``, the recorder of handler and delivery times.

Plain data, no dependency: the Prometheus collector (``msgbus.prometheus``)
turns these into metric families; an application may log or export them as it likes.
"""

from __future__ import annotations

import bisect
import dataclasses
import threading

#: Upper bounds (seconds) of the duration buckets, as Prometheus histograms count them.
BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclasses.dataclass(frozen=True)
class Timing:
    """A distribution of durations in seconds: how many, their sum and maximum, and per bucket."""

    count: int = 0
    total: float = 0.0
    max: float = 0.0
    #: (upper bound, how many took at most that long), cumulative, for each of ``BUCKETS``.
    buckets: tuple[tuple[float, int], ...] = ()

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None


@dataclasses.dataclass(frozen=True)
class PartitionLag:
    """Where a partition stands for a reader or a group."""

    partition: int
    #: The next offset the group would read: what was finished (or committed); None if nothing yet.
    committed: int | None
    #: The partition's end (high watermark); None if not known yet.
    end: int | None
    #: ``end - committed`` (messages not finished yet); None if either is not known.
    lag: int | None


@dataclasses.dataclass(frozen=True)
class ReaderMetrics:
    """A reader's figures, as ``metrics()`` returns them (ages in seconds)."""

    topic: str
    #: The consumer group ("" for a private one).
    group: str
    partitions: tuple[PartitionLag, ...]
    #: Messages waiting in the reader, not taken.
    queued: int
    #: Messages taken by the application and not finished.
    held: int
    oldest_held_age: float | None
    #: Seconds since the broker last confirmed a commit (None: none yet, or a private group).
    since_last_commit: float | None
    #: Rebalances the reader went through after it joined, and the seconds it spent in them.
    rebalances: int
    rebalance_seconds: float
    #: The handler's (or callback's) durations; empty unless ``MsgBusConfig.timings`` is on.
    handler: Timing
    read: int
    retried: int
    dead_lettered: int
    dropped: int

    @property
    def lag(self) -> int:
        """The sum of the partitions' known lags."""
        return sum(p.lag for p in self.partitions if p.lag is not None)


@dataclasses.dataclass(frozen=True)
class WriterMetrics:
    """A writer's figures, as ``metrics()`` returns them."""

    topic: str
    written: int
    delivered: int
    failed: int
    queued: int
    #: How long Blocking writes waited for their acknowledgement; empty unless ``MsgBusConfig.timings`` is on.
    delivery: Timing


class Durations:
    """Records durations; ``observe`` and ``snapshot`` may be called from any thread (one lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = [0] * len(BUCKETS)
        self._count = 0
        self._total = 0.0
        self._max = 0.0

    def observe(self, seconds: float) -> None:
        # The first bucket whose bound is >= seconds (none past the last: counted in count only).
        index = bisect.bisect_left(BUCKETS, seconds)
        with self._lock:
            self._count += 1
            self._total += seconds
            if seconds > self._max:
                self._max = seconds
            if index < len(BUCKETS):
                self._counts[index] += 1

    def snapshot(self) -> Timing:
        with self._lock:
            cumulative = []
            running = 0
            for bound, count in zip(BUCKETS, self._counts, strict=True):
                running += count
                cumulative.append((bound, running))
            return Timing(self._count, self._total, self._max, tuple(cumulative))
