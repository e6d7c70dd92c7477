"""The base classes every backend's writer and reader build on: shared state, direction rules, the inbox."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from .. import _log
from .._config import BlockingMode, BusStatus, CBFunc, MsgBusConfig
from .._errors import BusClosedError, ConfigError, DeliveryError, DirectionError
from .._headers import HeadersArg
from .._interface import BusStats, MsgBusIO, check_max_messages
from .._ops import live
from .._ops.figures import GroupState, ReaderFigures, WriterFigures
from .._ops.health import Health, Limits
from .._ops.metrics import Durations, ReaderMetrics, WriterMetrics
from .._reading import loops
from .._reading.failures import DeadLetterWriter
from .._reading.inbox import Inbox
from .._reading.observer import Observer
from .._record import Record
from .._tracing import Tracing

__all__ = ["BusStats", "MsgBusIO", "ReaderBase", "WriterBase", "check_max_messages"]


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
        live.discard(self)
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
