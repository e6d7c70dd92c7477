"""What happened in a run: writes, deliveries, membership changes, faults (monotonic times)."""

from __future__ import annotations

import dataclasses
import threading
import time

ACKED = "acked"
MAYBE = "maybe"  # may or may not be in the topic: not required, but not wrong to see
PENDING = "pending"  # a NonBlocking write whose writer has not disconnected yet


@dataclasses.dataclass
class WriteRec:
    text: str
    topic: str
    writer: int
    start: float
    end: float | None = None
    status: str = PENDING


#: How many tasks consume one reader of each aio kind (the others have one consumer).
#: Two consumers of one reader take messages in order, but which of them gets back
#: to record its message first is up to the event loop.
CONSUMER_TASKS = {"aio-one": 1, "aio-many": 3, "aio-waitfor": 2}


@dataclasses.dataclass
class ReaderRec:
    rid: int
    topic: str
    group: str
    kind: str
    slow: bool
    offset_reset: str
    #: (start, end) of every connect() attempt; end is None while it runs.
    attempts: list[tuple[float, float | None]] = dataclasses.field(default_factory=list)
    connected: float | None = None  # when the successful connect() returned
    disc_start: float | None = None
    disc_end: float | None = None
    errors: list[str] = dataclasses.field(default_factory=list)

    @property
    def key(self) -> str:
        """The group the check judges it in: its own if private."""
        return f"{self.topic}/{self.group}" if self.group else f"r{self.rid}"


@dataclasses.dataclass
class FaultRec:
    kind: str
    node: int
    start: float
    end: float | None = None
    note: str = ""


@dataclasses.dataclass
class GrowRec:
    topic: str
    start: float
    end: float | None = None
    partitions: int = 0
    error: str = ""


class Recorder:
    """Thread-safe enough: list.append and dict stores are atomic in CPython; counters take the lock."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.lock = threading.Lock()
        self.writes: dict[str, WriteRec] = {}
        #: (reader id, text, time)
        self.deliveries: list[tuple[int, str, float]] = []
        self.readers: dict[int, ReaderRec] = {}
        #: (reader id, "registered"/"unregistered", time)
        self.callbacks: list[tuple[int, str, float]] = []
        self.faults: list[FaultRec] = []
        self.grows: list[GrowRec] = []
        self.hung: list[str] = []
        self.leaked: list[str] = []
        self.stuck: list[str] = []
        self.notes: list[str] = []
        self.connect_failures = 0
        self.drain_start: float | None = None
        self.drain_end: float | None = None

    def now(self) -> float:
        return time.monotonic()

    def rel(self, t: float | None) -> str:
        """A time as seconds since the run's start, for messages."""
        return "-" if t is None else f"{t - self.t0:.2f}s"

    # -- writers --------------------------------------------------------------

    def write_started(self, text: str, topic: str, writer: int) -> WriteRec:
        rec = WriteRec(text, topic, writer, time.monotonic())
        self.writes[text] = rec
        return rec

    # -- readers --------------------------------------------------------------

    def deliver(self, rid: int, text: str) -> None:
        self.deliveries.append((rid, text, time.monotonic()))

    def callback(self, rid: int, what: str) -> None:
        self.callbacks.append((rid, what, time.monotonic()))

    def note(self, text: str) -> None:
        with self.lock:
            self.notes.append(f"{self.rel(time.monotonic())} {text}")
