"""The MsgBusIO interface (the spec's calls, and the capabilities a backend may add) and BusStats."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Iterable, Iterator

from ._config import BusStatus, CBFunc
from ._errors import BusClosedError, DeliveryError
from ._headers import HeadersArg
from ._managed import Managed
from ._ops.health import Health, HealthStatus
from ._ops.metrics import ReaderMetrics, WriterMetrics
from ._record import Record

__all__ = ["BusStats", "MsgBusIO", "check_max_messages"]


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
