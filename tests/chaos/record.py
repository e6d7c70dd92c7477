"""What happened in a run: writes, deliveries, membership changes, faults (monotonic times)."""

from __future__ import annotations

import dataclasses
import logging
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


@dataclasses.dataclass(frozen=True)
class Stopped:
    """A ``HandlerError`` a reader with a Stop policy raised: where it says the message was."""

    rid: int
    text: str  # the payload the handler last failed on
    topic: str
    partition: int
    offset: int
    t: float


@dataclasses.dataclass(frozen=True)
class Dead:
    """A message on a reader's dead-letter topic, with the headers that say where it came from."""

    text: str
    topic: str
    partition: int
    offset: int
    attempts: int


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
    #: A reader with a Stop policy that stopped is replaced by a new one (a new id) of the same plan.
    replaces: int | None = None
    #: Its failure policy's attempts (run kinds).
    policy_attempts: int = 1

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
    """What the actors report, from many threads.

    What is read while it is written (``deliveries`` and ``gave_up``, by the drain) and the counters
    change under ``lock``, through the methods below. The other lists and dicts are only appended to
    or stored into, which the built-in types make thread-safe themselves (Python's free-threading
    HOWTO documents it), and read once the actors are done.
    """

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        #: Every reader's MsgBusConfig.group_protocol (the check's slack depends on it).
        self.group_protocol = "classic"
        # For ``--log``: the run's time 0 in the log's clock (times in the report count from it).
        logging.getLogger("msgbus.chaos").info("chaos run starts: t0 = %.3f", time.time())
        self.lock = threading.Lock()
        self.writes: dict[str, WriteRec] = {}
        #: (reader id, text, time)
        self.deliveries: list[tuple[int, str, float]] = []
        self.readers: dict[int, ReaderRec] = {}
        #: (reader id, "registered"/"unregistered", time)
        self.callbacks: list[tuple[int, str, float]] = []
        #: (reader id, text, time) of every call of a failing handler (run kinds) that raised.
        self.failures: list[tuple[int, str, float]] = []
        #: (reader id, text, time): the handler failed on its last attempt and the policy's outcome is
        #: to drop it or dead-letter it: it counts as delivered (a dead letter only if it is on the topic).
        self.gave_up: list[tuple[int, str, float]] = []
        #: (reader id, text, partition, offset) of every Record read_record returned.
        self.records: list[tuple[int, str, int, int]] = []
        self.stops: list[Stopped] = []
        #: Reader id -> what its dead-letter topic holds (filled after the run).
        self.dead: dict[int, list[Dead]] = {}
        #: (reader id, anomaly, what): a promise of the reader's kind broken where the actor could see it.
        self.broken: list[tuple[int, str, str]] = []
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
        with self.lock:
            self.deliveries.append((rid, text, time.monotonic()))

    def deliver_many(self, rid: int, texts: list[str]) -> None:
        t = time.monotonic()
        with self.lock:
            self.deliveries.extend((rid, text, t) for text in texts)

    def failed(self, rid: int, text: str, given_up: bool) -> None:
        """A failing handler raised on ``text``; ``given_up``: its last attempt, to be dropped or dead-lettered."""
        t = time.monotonic()
        with self.lock:
            self.failures.append((rid, text, t))
            if given_up:
                self.gave_up.append((rid, text, t))

    def record(self, rid: int, text: str, partition: int, offset: int) -> None:
        with self.lock:
            self.records.append((rid, text, partition, offset))

    def add_hung(self, what: str) -> None:
        with self.lock:
            self.hung.append(what)

    def broke(self, rid: int, what: str, anomaly: str = "broken promise") -> None:
        with self.lock:
            self.broken.append((rid, anomaly, what))

    def callback(self, rid: int, what: str) -> None:
        with self.lock:
            self.callbacks.append((rid, what, time.monotonic()))

    def note(self, text: str) -> None:
        with self.lock:
            self.notes.append(f"{self.rel(time.monotonic())} {text}")
