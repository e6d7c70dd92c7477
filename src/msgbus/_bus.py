"""The MsgBusIO interface and the base classes (state and direction rules) every backend shares."""

from __future__ import annotations

import abc
import dataclasses
import threading
from collections.abc import Callable, Iterable, Iterator

from . import _live, _log
from ._config import BlockingMode, BusStatus, CBFunc, MsgBusConfig
from ._errors import BusClosedError, ConfigError, DeliveryError, DirectionError
from ._figures import GroupState, ReaderFigures, WriterFigures
from ._headers import HeadersArg
from ._health import Health, HealthStatus, Limits
from ._managed import Managed
from ._metrics import Durations, ReaderMetrics, WriterMetrics
from ._reading import loops
from ._reading.failures import DeadLetterWriter
from ._reading.inbox import Inbox
from ._reading.observer import Observer
from ._record import Record
from ._tracing import Tracing


@dataclasses.dataclass(frozen=True)
class BusStats:
    """Counters of one bus connection, as ``MsgBusIO.stats()`` returns them.

    A writer fills ``written``, ``delivered``, ``failed`` and ``queued``; a
    reader fills ``read``, ``queued`` and ``lag``.
    """

    #: Messages ``message_write`` accepted.
    written: int = 0
    #: Written messages the broker acknowledged.
    delivered: int = 0
    #: Written messages that were not delivered.
    failed: int = 0
    #: Messages handed to the application (``message_read`` or the callback).
    read: int = 0
    #: Writer: messages waiting for the broker's acknowledgement; reader: messages in the local queue.
    queued: int = 0
    #: Reader: messages on its partitions not yet read by the application (queued ones included),
    #: as of the last fetch; 0 on a writer.
    lag: int = 0
    #: Reader: failed attempts the failure policy (``on_handler_error``) retried.
    retried: int = 0
    #: Reader: messages written to the dead-letter topic (acknowledged) after their handler failed.
    dead_lettered: int = 0
    #: Reader: messages whose handler failed and that were counted finished anyway (``Drop``).
    dropped: int = 0


def check_max_messages(max_messages: object) -> None:
    """``message_read_many``'s ``max_messages``: an int >= 1 (not a bool), else ``ValueError``."""
    if isinstance(max_messages, bool) or not isinstance(max_messages, int) or max_messages < 1:
        raise ValueError(f"max_messages must be an int >= 1, not {max_messages!r}")


class MsgBusIO(Managed, abc.ABC):
    """A one-way connection to a message bus: a writer or a reader.

    Use it as a context manager to disconnect on exit.
    """

    @abc.abstractmethod
    def disconnect(self) -> None:
        """Close the connection. A writer flushes first. A second call does nothing."""

    @abc.abstractmethod
    def message_write(self, msg: str, headers: HeadersArg | None = None) -> None:
        """Write one message (writers only), with Kafka ``headers`` if given.

        ``headers``: a mapping or (name, value) pairs, values str (sent as UTF-8) or bytes;
        readers see them in ``read_record().headers``. Go readers ignore headers.
        """

    def message_write_many(self, msgs: Iterable[str]) -> int:
        """Write several messages (writers only); returns how many were written.

        Same guarantees as ``message_write`` for each message; backends may batch.
        """
        count = 0
        for msg in msgs:
            self.message_write(msg)
            count += 1
        return count

    # -- capabilities: what a backend can do beyond the spec's calls, with what any bus can do ------

    @property
    def blocking(self) -> bool:
        """True for a Blocking bus (a writer's ``message_write`` waits for the acknowledgement,
        a reader's ``message_read`` for a message). A bus of the application's own is taken as
        Blocking unless it says otherwise."""
        return True

    @property
    def traced(self) -> bool:
        """True when this bus makes OpenTelemetry spans (``MsgBusConfig.tracing``)."""
        return False

    def write_nowait(self, msg: str) -> bool:
        """Write ``msg`` if that needs no waiting at all; False (nothing written) if it would wait.

        msgbus.aio calls it in the event loop's thread. The default never can.
        """
        return False

    def write_acked(self, msg: str, on_done: Callable[[DeliveryError | None], None]) -> bool:
        """A Blocking write that does not wait: ``on_done(None)`` once acknowledged, else ``on_done(error)``.

        msgbus.aio calls it so that a Blocking write needs no worker thread. False, with
        nothing written, when the bus cannot (the default: it never can).
        """
        return False

    def message_write_tracked(self, msgs: Iterable[str]) -> tuple[int, list[tuple[int, str]]]:
        """Write every message of ``msgs`` (Blocking writers); how many were taken, and (index, reason)
        for each one not delivered. ``msgbus write`` names the lines from it.

        The default writes them one at a time with ``message_write``; Kafka's pipelines them.
        """
        count = 0
        failed: list[tuple[int, str]] = []
        for index, msg in enumerate(msgs):
            count += 1
            try:
                self.message_write(msg)
            except DeliveryError as exc:
                failed.append((index, str(exc)))
        return count, failed

    @abc.abstractmethod
    def message_read(self, timeout: float | None = None) -> str | None:
        """Take the next message (readers only).

        Blocking readers wait for one (at most ``timeout`` seconds if given);
        NonBlocking readers do not wait. ``None`` means no message came in time.
        """

    def message_read_many(self, max_messages: int, timeout: float | None = None) -> list[str]:
        """Take up to ``max_messages`` messages at once, in order (readers only).

        A Blocking reader waits for the first message only (at most ``timeout``
        seconds if given), then returns what is queued, up to ``max_messages``:
        it never waits to fill the list. A NonBlocking reader does not wait.
        ``[]`` means no message came in time. Every message returned counts as
        finished (is committed) exactly as one ``message_read`` returned.
        Raises ``ValueError`` if ``max_messages`` is not an int >= 1,
        ``DirectionError`` on a writer, ``BusClosedError`` once disconnected,
        ``CallbackError`` while a callback is registered.
        """
        # msgbus's own readers take the whole run at once; another bus has only message_read to go on.
        check_max_messages(max_messages)
        first = self.message_read(timeout)
        if first is None:
            return []
        msgs = [first]
        while len(msgs) < max_messages:
            msg = self.message_read(0.0)
            if msg is None:
                break
            msgs.append(msg)
        return msgs

    def read_record(self, timeout: float | None = None) -> Record | None:
        """``message_read``, with the message's partition, offset, timestamp and headers (readers only).

        Waits, returns ``None`` and raises exactly as ``message_read`` does.
        A ``MsgBusIO`` of the application's own gives ``-1`` for what it does not know.
        """
        # msgbus's own readers override this; another bus has only message_read to go on.
        msg = self.message_read(timeout)
        return None if msg is None else Record(msg, -1, -1, -1)

    @abc.abstractmethod
    def message_available(self) -> int:
        """How many received messages are queued and not yet read (0 on a writer)."""

    @abc.abstractmethod
    def register_cb(self, cbfunc: CBFunc) -> None:
        """Call ``cbfunc(msg)`` for every message, in order (readers only)."""

    @abc.abstractmethod
    def unregister_cb(self) -> None:
        """Stop calling the registered callback (readers only)."""

    @abc.abstractmethod
    def status(self) -> BusStatus:
        """``StatusOpen`` while the connection works, ``StatusClosed`` after disconnect or a fatal error."""

    def stats(self) -> BusStats:
        """Counters of this connection (see ``BusStats``); cheap, no network I/O."""
        return BusStats()

    def healthy(self) -> bool:
        """True while ``health()`` says ok, idle or rebalancing (for ``/health`` endpoints).

        The Kafka backend asks the broker for the topic's metadata (at most
        about once a second; the answer is cached), so it may take up to a
        couple of seconds when the broker is down.
        """
        return self.health().healthy

    def health(self) -> Health:
        """The health verdict: ok, idle, rebalancing, stuck, unreachable or closed, why, and the figures.

        A ``MsgBusIO`` of the application's own knows only open or closed.
        """
        if self.status() is BusStatus.CLOSED:
            return Health(HealthStatus.CLOSED, "the bus is closed")
        return Health(HealthStatus.OK, "the bus is open")

    def metrics(self) -> ReaderMetrics | WriterMetrics:
        """This bus's figures (``ReaderMetrics`` or ``WriterMetrics``); cheap, no network I/O."""
        raise NotImplementedError(f"{type(self).__name__} has no metrics()")

    def __iter__(self) -> Iterator[str]:
        """Messages as they arrive (readers only); the loop ends when the bus is disconnected.

        It always waits for the next message, also on a NonBlocking reader.
        """
        while True:
            try:
                msg = self.message_read()
            except BusClosedError:
                return
            if msg is not None:
                yield msg

    def run(self, handler: CBFunc) -> None:
        """Call ``handler(msg)`` for every message, in order, in this thread, until the bus is disconnected.

        On msgbus's own readers the ``on_handler_error`` policy applies to what ``handler``
        raises, as for a callback; here (another bus) an exception simply propagates.
        """
        for msg in self:
            handler(msg)

    def _enter(self) -> None:
        # Entering a closed bus is a mistake that would otherwise surface later, at the first call.
        if self.status() is BusStatus.CLOSED:
            raise BusClosedError("the bus is closed (disconnected, or failed for good); connect a new one")

    def _exit(self) -> None:
        self.disconnect()


class _BusBase(MsgBusIO):
    """The state a backend's writer and reader share: their config, direction rules, being closed."""

    def __init__(self, cfg: MsgBusConfig) -> None:
        self._cfg = cfg
        self._topic = cfg.topic
        self._blocking = cfg.blocking is BlockingMode.BLOCKING
        self._closed = False
        self._close_lock = threading.Lock()
        self._limits = Limits(cfg.stuck_after, cfg.max_hold)
        #: The handler's (reader) or the acknowledgements' (writer) durations; None unless cfg.timings.
        self._durations = Durations() if cfg.timings else None
        #: The spans of this bus; None unless cfg.tracing.
        self._tracing = Tracing(cfg.topic, cfg.group_id) if cfg.tracing else None

    @property
    def topic(self) -> str:
        return self._topic

    @property
    def traced(self) -> bool:
        """True when ``MsgBusConfig.tracing`` is on."""
        return self._cfg.tracing

    def _reachable(self) -> bool | None:
        """Whether a broker answers (None: not known); backends override this."""
        return None

    @property
    def blocking(self) -> bool:
        """True for a Blocking bus: a writer's ``message_write`` waits for the acknowledgement,
        a reader's ``message_read`` for a message."""
        return self._blocking

    def _close_once(self) -> bool:
        """Mark the bus closed; False if it already was (a second ``disconnect()`` does nothing)."""
        with self._close_lock:
            if self._closed:
                return False
            self._closed = True
        _live.discard(self)
        return True


class WriterBase(_BusBase):
    """Reader-only calls on a writer: errors, except message_available, which is 0.

    A backend's writer calls ``super().__init__(cfg)`` first and ``_close_once()`` when it closes.
    """

    def __init__(self, cfg: MsgBusConfig) -> None:
        super().__init__(cfg)
        self._figures = WriterFigures(cfg.topic, self._limits, self._durations)

    def health(self) -> Health:
        stats = self.stats()
        is_open = self.status() is BusStatus.OPEN
        reachable = self._reachable() if is_open else None
        return self._figures.health(
            stats.queued, stats.delivered, stats.failed, is_open, reachable, self._failing_now()
        )

    def _failing_now(self) -> bool:
        """Whether the latest delivery report was a failure (False: not known); backends override this."""
        return False

    def metrics(self) -> WriterMetrics:
        stats = self.stats()
        return self._figures.metrics(stats.written, stats.delivered, stats.failed, stats.queued)

    def write_nowait(self, msg: str) -> bool:
        """Write ``msg`` if that needs no waiting at all; False (nothing written) if it would wait.

        For msgbus.aio, which must not block its event loop: a Blocking writer
        always waits; a NonBlocking one only for room in a full local queue.
        """
        if self._blocking:
            return False
        self.message_write(msg)
        return True

    def write_acked(self, msg: str, on_done: Callable[[DeliveryError | None], None]) -> bool:
        """A Blocking write that does not wait: ``on_done(None)`` once acknowledged, else ``on_done(error)``.

        For msgbus.aio (no worker thread per Blocking write). False, with nothing written, when the
        backend cannot (a NonBlocking writer, a full queue, a closed bus): ``message_write`` then
        waits or says why. This default always says False.
        """
        return False

    def message_read(self, timeout: float | None = None) -> str | None:
        self._check_open()
        raise DirectionError("message_read is for readers; this bus is a writer")

    def read_record(self, timeout: float | None = None) -> Record | None:
        self._check_open()
        raise DirectionError("read_record is for readers; this bus is a writer")

    def message_read_many(self, max_messages: int, timeout: float | None = None) -> list[str]:
        check_max_messages(max_messages)
        self._check_open()
        raise DirectionError("message_read_many is for readers; this bus is a writer")

    def message_available(self) -> int:
        # The spec's tests expect 0 here, not an error (but a closed bus is closed).
        self._check_open()
        _log.logger().debug("message_available called on a writer; returning 0")
        return 0

    def register_cb(self, cbfunc: CBFunc) -> None:
        self._check_open()
        raise DirectionError("register_cb is for readers; this bus is a writer")

    def unregister_cb(self) -> None:
        self._check_open()
        raise DirectionError("unregister_cb is for readers; this bus is a writer")

    def _check_open(self) -> None:
        if self._closed:
            raise BusClosedError("the bus is disconnected")


class ReaderBase(_BusBase):
    """Writer-only calls on a reader: errors.

    A backend's reader calls ``super().__init__(cfg)`` first, feeds ``_inbox`` and calls ``_close_once()``
    when it closes.
    """

    def __init__(self, cfg: MsgBusConfig) -> None:
        super().__init__(cfg)
        durations, tracing = self._durations, self._tracing
        #: Around each handing of a message to the application's code; None (nothing done) unless timed or traced.
        observer = Observer(durations, tracing) if durations is not None or tracing is not None else None
        self._inbox = Inbox(cfg.read_queue_size, name=cfg.topic, observer=observer)
        self._reads = self._inbox.reads
        self._inbox.failures.configure(cfg, self._dead_letter_writer)
        self._figures = ReaderFigures(cfg.topic, cfg.group_id, self._limits, durations)

    @property
    def inbox(self) -> Inbox:
        """The queue this reader's messages wait in (msgbus.aio reads it without a worker thread)."""
        return self._inbox

    def _group_state(self) -> GroupState:
        """Where this reader's partitions stand, as its backend knows it (no network I/O); backends override this."""
        return GroupState()

    def health(self) -> Health:
        progress = self._inbox.progress()
        is_open = self.status() is BusStatus.OPEN
        reachable = self._reachable() if is_open else None
        return self._figures.health(progress, self._group_state(), is_open, reachable)

    def metrics(self) -> ReaderMetrics:
        return self._figures.metrics(self._inbox.progress(), self._group_state(), self._inbox.failures.counts())

    def _dead_letter_writer(self, cfg: MsgBusConfig) -> DeadLetterWriter:
        """Open the writer of this reader's dead letters (``cfg`` is for it); backends override this."""
        raise ConfigError(f"{type(self).__name__} cannot write dead letters (on_handler_error=DeadLetter)")

    def __iter__(self) -> Iterator[str]:
        return loops.iterate(self._inbox)

    def run(self, handler: CBFunc) -> None:
        """Call ``handler(msg)`` for every message, in order, in this thread, until the bus is disconnected.

        Unlike a ``for`` loop, it sees the handler's exceptions, so ``on_handler_error``
        applies exactly as for a callback (retries, dead letters, Stop: then it raises
        ``HandlerError``). A ``BaseException`` that is not an ``Exception`` (Ctrl-C)
        leaves the message unfinished and propagates.
        """
        loops.run(self._inbox, handler)

    def message_read(self, timeout: float | None = None) -> str | None:
        return self._reads.read(timeout if self._blocking else 0.0)

    def message_read_many(self, max_messages: int, timeout: float | None = None) -> list[str]:
        check_max_messages(max_messages)
        return self._reads.read_many(max_messages, timeout if self._blocking else 0.0)

    def message_available(self) -> int:
        if self._closed:
            raise BusClosedError("the bus is disconnected")
        return self._reads.available()

    def register_cb(self, cbfunc: CBFunc) -> None:
        self._inbox.register(cbfunc)

    def unregister_cb(self) -> None:
        self._inbox.unregister()

    def read_record(self, timeout: float | None = None) -> Record | None:
        record = self._reads.read_record(timeout if self._blocking else 0.0)
        observer = self._inbox.observer
        if observer is not None and record is not None:
            observer.received(record)
        return record

    def message_write(self, msg: str, headers: HeadersArg | None = None) -> None:
        if self._closed:
            raise BusClosedError("the bus is disconnected")
        raise DirectionError("message_write is for writers; this bus is a reader")
