"""``health()`` and ``metrics()`` of the base reader and writer: the views they judge and the figures they report.

A bus keeps one ``ReaderFigures`` or ``WriterFigures``; it hands in what it
knows now (its inbox's ``Progress``, its backend's ``GroupState``, its
counters) and gets the verdict or the metrics back. The little state kept
across calls lives in the ``*Watch`` classes (``health``), each under its own
lock; the rest is computed from the snapshot given, so any thread may call.
"""

from __future__ import annotations

import dataclasses
import time

from .health import Health, Limits, ReaderView, ReaderWatch, WriterView, WriterWatch, judge_reader, judge_writer
from .metrics import Durations, PartitionLag, ReaderMetrics, Timing, WriterMetrics
from .progress import Progress


@dataclasses.dataclass(frozen=True)
class GroupState:
    """A reader's side of its group, as its backend knows it (``ReaderBase._group_state``)."""

    partitions: tuple[PartitionLag, ...] = ()
    rebalancing: bool = False
    #: Messages on the broker past what the reader fetched.
    backlog: int = 0
    since_last_commit: float | None = None
    rebalances: int = 0
    rebalance_seconds: float = 0.0


def _timing(durations: Durations | None) -> Timing:
    return durations.snapshot() if durations is not None else Timing()


class ReaderFigures:
    """One reader's verdicts and metrics (``limits``: its thresholds; ``durations``: its handler timings, if on)."""

    def __init__(self, topic: str, group: str, limits: Limits, durations: Durations | None) -> None:
        self._topic = topic
        self._group = group
        self._limits = limits
        self._durations = durations
        self._watch = ReaderWatch()

    def health(self, progress: Progress, group: GroupState, is_open: bool, reachable: bool | None) -> Health:
        """``reachable``: asked of the broker only while open (None: not known)."""
        now = time.monotonic()
        view = ReaderView(
            open=is_open,
            reachable=reachable,
            rebalancing=group.rebalancing,
            progress=progress,
            backlog=group.backlog,
            waiting_since=self._watch.observe(progress, now, group.backlog),
        )
        return judge_reader(view, self._limits, now)

    def metrics(self, progress: Progress, group: GroupState, counts: dict[str, int]) -> ReaderMetrics:
        """``counts``: the failure policy's (``Failures.counts()``)."""
        held_at = progress.oldest_held_at
        return ReaderMetrics(
            topic=self._topic,
            group=self._group,
            partitions=group.partitions,
            queued=progress.queued,
            held=progress.held,
            oldest_held_age=None if held_at is None else max(0.0, time.monotonic() - held_at),
            since_last_commit=group.since_last_commit,
            rebalances=group.rebalances,
            rebalance_seconds=group.rebalance_seconds,
            handler=_timing(self._durations),
            read=progress.taken,
            retried=counts["retried"],
            dead_lettered=counts["dead_lettered"],
            dropped=counts["dropped"],
        )


class WriterFigures:
    """One writer's verdicts and metrics (``durations``: its Blocking writes' acknowledgement times, if on)."""

    def __init__(self, topic: str, limits: Limits, durations: Durations | None) -> None:
        self._topic = topic
        self._limits = limits
        self._durations = durations
        self._watch = WriterWatch()

    def health(
        self, queued: int, delivered: int, failed: int, is_open: bool, reachable: bool | None, failing: bool
    ) -> Health:
        """``failing``: the latest delivery report was a failure."""
        now = time.monotonic()
        trying = self._watch.observe(queued, delivered, failed, now, self._limits)
        view = WriterView(
            open=is_open,
            reachable=reachable,
            queued=queued,
            trying_since=trying,
            last_delivered_at=self._watch.last_delivered_at,
            failing=failing,
        )
        return judge_writer(view, self._limits, now)

    def metrics(self, written: int, delivered: int, failed: int, queued: int) -> WriterMetrics:
        return WriterMetrics(
            topic=self._topic,
            written=written,
            delivered=delivered,
            failed=failed,
            queued=queued,
            delivery=_timing(self._durations),
        )
