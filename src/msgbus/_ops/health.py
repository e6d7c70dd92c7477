"""The health verdict of a reader or a writer: ``Health``, and the pure functions that judge it.

``judge_reader`` and ``judge_writer`` are pure: the same view and clock give
the same verdict (they are property-tested). The views are made by the buses
from their counters; the ``*Watch`` classes keep the little state a verdict
needs across calls (since when messages have waited, when a delivery was
last seen), each under its own lock.
"""

from __future__ import annotations

import dataclasses
import enum
import threading
from collections.abc import Mapping

from .progress import Progress


class HealthStatus(str, enum.Enum):
    """What ``MsgBusIO.health()`` found."""

    #: Working: messages move.
    OK = "ok"
    #: Working, with nothing to do: assigned (or connected) and nothing behind.
    IDLE = "idle"
    #: A reader whose group is moving partitions between its members: it reads nothing meanwhile.
    REBALANCING = "rebalancing"
    #: Messages wait and none moves: a handler hangs, or writes are queued and none is delivered.
    STUCK = "stuck"
    #: No broker answers, or a writer's deliveries fail now (the brokers do not take its messages).
    UNREACHABLE = "unreachable"
    #: Disconnected, or failed for good.
    CLOSED = "closed"


#: Kubernetes liveness: a restart can help only a stuck or broken process.
_LIVE = frozenset({HealthStatus.OK, HealthStatus.IDLE, HealthStatus.REBALANCING, HealthStatus.UNREACHABLE})
#: Kubernetes readiness: able to do its work now.
_READY = frozenset({HealthStatus.OK, HealthStatus.IDLE})
#: ``healthy()``: working, or about to (a rebalance ends by itself).
_HEALTHY = frozenset({HealthStatus.OK, HealthStatus.IDLE, HealthStatus.REBALANCING})


@dataclasses.dataclass(frozen=True)
class Health:
    """A bus's health verdict: its status, why, and the figures it was judged by."""

    status: HealthStatus
    #: Why, in a sentence.
    reason: str
    #: What the verdict looked at (counts, and ages in seconds).
    figures: Mapping[str, float | int | None] = dataclasses.field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        """What ``healthy()`` says: ok, idle or rebalancing."""
        return self.status in _HEALTHY

    @property
    def live(self) -> bool:
        """Kubernetes liveness: not stuck and not closed (a restart would not bring a broker back)."""
        return self.status in _LIVE

    @property
    def ready(self) -> bool:
        """Kubernetes readiness: ok or idle."""
        return self.status in _READY


@dataclasses.dataclass(frozen=True)
class Limits:
    """The thresholds of a verdict (``MsgBusConfig.stuck_after`` and ``max_hold``), in seconds."""

    stuck_after: float
    max_hold: float


@dataclasses.dataclass(frozen=True)
class ReaderView:
    """What a reader's verdict looks at."""

    open: bool
    #: None: not known (a backend without a broker).
    reachable: bool | None
    rebalancing: bool
    progress: Progress
    #: Messages on the broker past what the reader fetched (0 if not known).
    backlog: int
    #: ``time.monotonic()`` since when messages have waited (queued, or on the broker) with none
    #: finished (``ReaderWatch``).
    waiting_since: float | None


@dataclasses.dataclass(frozen=True)
class WriterView:
    """What a writer's verdict looks at."""

    open: bool
    reachable: bool | None
    #: Writes waiting for the broker's acknowledgement.
    queued: int
    #: ``time.monotonic()`` since when writes have been queued or failing with none delivered (``WriterWatch``).
    trying_since: float | None
    last_delivered_at: float | None
    #: The latest delivery report was a failure (the backend knows; False if it does not).
    failing: bool = False


def _age(now: float, since: float | None) -> float | None:
    return None if since is None else max(0.0, now - since)


def judge_reader(view: ReaderView, limits: Limits, now: float) -> Health:
    """The verdict on a reader at ``now`` (``time.monotonic()``)."""
    progress = view.progress
    held_age = _age(now, progress.oldest_held_at)
    # Waiting: since the later of "messages started waiting" and "the last finish".
    since = view.waiting_since
    if since is not None and progress.last_finished_at is not None:
        since = max(since, progress.last_finished_at)
    waiting = progress.queued + view.backlog
    waiting_age = _age(now, since) if waiting else None
    figures: dict[str, float | int | None] = {
        "queued": progress.queued,
        "held": progress.held,
        "finished": progress.finished,
        "backlog": view.backlog,
        "oldest_held_age": held_age,
        "waiting_age": waiting_age,
        "since_last_finish": _age(now, progress.last_finished_at),
    }
    if not view.open:
        return Health(HealthStatus.CLOSED, "the reader is disconnected or failed for good", figures)
    if view.reachable is False:
        return Health(HealthStatus.UNREACHABLE, "no broker answers", figures)
    if held_age is not None and held_age >= limits.max_hold:
        return Health(
            HealthStatus.STUCK,
            f"one message has been held by the application for {held_age:.1f} s (max_hold {limits.max_hold:g} s)",
            figures,
        )
    if view.rebalancing:
        return Health(HealthStatus.REBALANCING, "the group is reassigning partitions", figures)
    if waiting_age is not None and waiting_age >= limits.stuck_after:
        return Health(
            HealthStatus.STUCK,
            f"{waiting} message(s) waiting (queued or on the broker) and none finished for {waiting_age:.1f} s "
            f"(stuck_after {limits.stuck_after:g} s)",
            figures,
        )
    if progress.queued == 0 and progress.held == 0 and view.backlog == 0:
        return Health(HealthStatus.IDLE, "nothing behind", figures)
    return Health(HealthStatus.OK, "messages are moving", figures)


def judge_writer(view: WriterView, limits: Limits, now: float) -> Health:
    """The verdict on a writer at ``now`` (``time.monotonic()``)."""
    trying_age = _age(now, view.trying_since)
    figures: dict[str, float | int | None] = {
        "queued": view.queued,
        "trying_age": trying_age,
        "since_last_delivery": _age(now, view.last_delivered_at),
    }
    if not view.open:
        return Health(HealthStatus.CLOSED, "the writer is disconnected or failed for good", figures)
    if view.reachable is False:
        return Health(HealthStatus.UNREACHABLE, "no broker answers", figures)
    if trying_age is not None and trying_age >= limits.stuck_after:
        return Health(
            HealthStatus.STUCK,
            f"writes queued or failing and none delivered for {trying_age:.1f} s "
            f"(stuck_after {limits.stuck_after:g} s)",
            figures,
        )
    if view.failing:
        return Health(HealthStatus.UNREACHABLE, "deliveries fail: the latest write was not delivered", figures)
    if view.queued == 0 and view.trying_since is None:
        return Health(HealthStatus.IDLE, "nothing waiting", figures)
    return Health(HealthStatus.OK, "writes are being delivered", figures)


class ReaderWatch:
    """Since when a reader's messages have waited with none finished; ``observe`` is thread-safe (one lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting_since: float | None = None
        self._finished = -1

    def observe(self, progress: Progress, now: float, backlog: int = 0) -> float | None:
        """Take in a new ``progress`` (and the broker's ``backlog`` past it); returns ``waiting_since``.

        Messages wait when the reader has some queued, or the broker has some it has not
        fetched: a reader that stopped fetching is as stuck as one that stopped reading.
        """
        waiting = progress.queued or backlog
        with self._lock:
            if not waiting or progress.finished != self._finished:
                # Nothing waits, or something finished since the last look: the wait starts again.
                self._waiting_since = now if waiting else None
            elif self._waiting_since is None:
                self._waiting_since = now
            self._finished = progress.finished
            return self._waiting_since


class WriterWatch:
    """Since when a writer's writes have been queued or failing with none delivered (one lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._delivered = 0
        self._failed = 0
        self._trying_since: float | None = None
        self._last_failed_at: float | None = None
        self._last_delivered_at: float | None = None

    @property
    def last_delivered_at(self) -> float | None:
        """When a delivery was last seen (None: none yet)."""
        with self._lock:
            return self._last_delivered_at

    def observe(self, queued: int, delivered: int, failed: int, now: float, limits: Limits) -> float | None:
        """Take in the writer's counters; returns ``trying_since`` for the view."""
        with self._lock:
            if delivered > self._delivered:
                self._last_delivered_at = now
                self._trying_since = None
            if failed > self._failed:
                self._last_failed_at = now
            self._delivered, self._failed = delivered, failed
            failing = self._last_failed_at is not None and (
                self._last_delivered_at is None or self._last_failed_at > self._last_delivered_at
            )
            # A failure long ago, with nothing queued since, is not trying any more.
            if failing and self._last_failed_at is not None and now - self._last_failed_at > limits.stuck_after:
                failing = queued > 0
            if queued or failing:
                if self._trying_since is None:
                    self._trying_since = now
            else:
                self._trying_since = None
            return self._trying_since
