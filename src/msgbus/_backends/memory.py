"""BusTechMemory: an in-process bus with the Kafka backend's observable semantics.

Buses whose configs name the same address (``bootstrap_servers``, else
``host:port``) share one in-process "cluster"; each topic is one ordered log.
A reader without a group has its own cursor into the log; readers of one
group share a cursor, so each message goes to one of them, and the messages a
member leaves unread when it disconnects go back to its group. A reader's
thread moves messages from the log into the same bounded ``Inbox`` the
Kafka reader uses, so ``message_read``, ``message_available`` and callbacks
behave the same.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from collections.abc import Callable

from .. import _log
from .._config import BusDir, BusStatus, MsgBusConfig
from .._errors import DeliveryError, InvalidMessageError
from .._headers import HeadersArg, header_list
from .._reading.item import Item
from .base import BusStats, ReaderBase, WriterBase

#: librdkafka's default ``message.max.bytes``: larger writes fail as they would on Kafka.
MAX_MESSAGE_BYTES = 1_000_000
# How often an idle or full reader thread looks again without being woken.
_POLL = 0.05


@dataclasses.dataclass
class _Group:
    next_offset: int
    # Offsets a leaving member did not read: handed out again before new ones.
    returned: collections.deque[int] = dataclasses.field(default_factory=collections.deque)
    members: int = 0


@dataclasses.dataclass
class _Topic:
    # (text, timestamp in ms)
    log: list[tuple[str, int]] = dataclasses.field(default_factory=list)
    groups: dict[str, _Group] = dataclasses.field(default_factory=dict)
    # offset -> the Kafka headers written with it (only messages that had some).
    headers: dict[int, tuple[tuple[str, bytes], ...]] = dataclasses.field(default_factory=dict)


class _Cluster:
    def __init__(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.topics: dict[str, _Topic] = {}

    def topic(self, name: str) -> _Topic:
        # Called with cond held; topics are created on first use, as Kafka's auto-create does.
        found = self.topics.get(name)
        if found is None:
            found = self.topics[name] = _Topic()
        return found


_clusters: dict[str, _Cluster] = {}
_clusters_lock = threading.Lock()


def address(cfg: MsgBusConfig) -> str:
    """The name of the in-process cluster a config reaches."""
    if cfg.bootstrap_servers:
        return ",".join(entry.strip() for entry in cfg.bootstrap_servers.split(","))
    return f"{cfg.host}:{cfg.port}"


def cluster(name: str) -> _Cluster:
    with _clusters_lock:
        found = _clusters.get(name)
        if found is None:
            found = _clusters[name] = _Cluster()
        return found


def forget(name: str) -> None:
    """Drop an in-process cluster's topics and groups (buses still open keep their own reference)."""
    with _clusters_lock:
        _clusters.pop(name, None)


def messages(name: str, topic: str) -> list[str]:
    """Every message written to ``topic`` on the in-process cluster ``name``, in order."""
    found = cluster(name)
    with found.cond:
        log = found.topics.get(topic)
        return [text for text, _ in log.log] if log is not None else []


def message_headers(name: str, topic: str) -> list[tuple[tuple[str, bytes], ...]]:
    """The headers of every message written to ``topic`` on the in-process cluster ``name``, in order."""
    found = cluster(name)
    with found.cond:
        log = found.topics.get(topic)
        return [log.headers.get(offset, ()) for offset in range(len(log.log))] if log is not None else []


def open_memory_bus(cfg: MsgBusConfig) -> MemoryWriter | MemoryReader:
    if cfg.direction is BusDir.WRITER:
        return MemoryWriter(cfg)
    return MemoryReader(cfg)


def _check_message(msg: object) -> int:
    if not isinstance(msg, str):
        raise InvalidMessageError(f"a message must be a str, not {type(msg).__name__}")
    try:
        return len(msg.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError as exc:
        raise InvalidMessageError(f"the message cannot be encoded as UTF-8: {exc}") from None


class MemoryWriter(WriterBase):
    """Appends to the topic's log at once: Blocking and NonBlocking writes are both delivered on return."""

    def __init__(self, cfg: MsgBusConfig) -> None:
        super().__init__(cfg)
        self._cluster = cluster(address(cfg))
        self._written = 0
        self._failed = 0
        with self._cluster.cond:
            self._cluster.topic(cfg.topic)
        _log.logger().info("in-process writer connected to %s, topic %s", address(cfg), cfg.topic)

    def message_write(self, msg: str, headers: HeadersArg | None = None) -> None:
        if headers is not None or self._tracing is not None:
            wire = None if headers is None else header_list(headers)
            _check_message(msg)
            payload = msg.encode("utf-8", "surrogateescape")
            if self._tracing is not None:
                # As the Kafka writer does: a send span, its trace context in the headers.
                with self._tracing.send(wire) as traced:
                    self._write_with_headers(payload, traced)
            else:
                self._write_with_headers(payload, wire or [])
            return
        size = _check_message(msg)
        self._check_open()
        if size > MAX_MESSAGE_BYTES:
            with self._cluster.cond:
                self._failed += 1
            raise DeliveryError(
                f"message to {self._topic} not delivered: {size} bytes is larger than {MAX_MESSAGE_BYTES}",
                code="MSG_SIZE_TOO_LARGE",
            )
        stamp = time.time_ns() // 1_000_000
        with self._cluster.cond:
            self._cluster.topic(self._topic).log.append((msg, stamp))
            self._written += 1
            self._cluster.cond.notify_all()

    def write_acked(self, msg: str, on_done: Callable[[DeliveryError | None], None]) -> bool:
        # Delivered (or refused) on return: nothing to wait for, so never a thread.
        if not self._blocking:
            return False
        try:
            self.message_write(msg)
        except DeliveryError as exc:
            on_done(exc)
            return True
        on_done(None)
        return True

    def status(self) -> BusStatus:
        return BusStatus.CLOSED if self._closed else BusStatus.OPEN

    def stats(self) -> BusStats:
        return BusStats(written=self._written, delivered=self._written, failed=self._failed)

    def _write_with_headers(self, payload: bytes, headers: list[tuple[str, bytes]]) -> None:
        """Append ``payload`` with its Kafka ``headers`` (dead letters, replay); delivered on return."""
        self._check_open()
        if len(payload) > MAX_MESSAGE_BYTES:
            raise DeliveryError(
                f"message to {self._topic} not delivered: {len(payload)} bytes is larger than {MAX_MESSAGE_BYTES}",
                code="MSG_SIZE_TOO_LARGE",
            )
        stamp = time.time_ns() // 1_000_000
        with self._cluster.cond:
            topic = self._cluster.topic(self._topic)
            topic.log.append((payload.decode("utf-8", "surrogateescape"), stamp))
            if headers:
                topic.headers[len(topic.log) - 1] = tuple(headers)
            self._written += 1
            self._cluster.cond.notify_all()

    def disconnect(self) -> None:
        if not self._close_once():
            return
        _log.logger().info("in-process writer on %s disconnected", self._topic)


class MemoryReader(ReaderBase):
    """A thread moves messages from the topic's log (its own cursor, or its group's) into the inbox."""

    def __init__(self, cfg: MsgBusConfig) -> None:
        super().__init__(cfg)
        self._cluster = cluster(address(cfg))
        self._stop = threading.Event()
        self._group_name = cfg.group_id
        self._group: _Group | None = None
        with self._cluster.cond:
            topic = self._cluster.topic(cfg.topic)
            start = 0 if cfg.offset_reset == "earliest" else len(topic.log)
            if cfg.group_id:
                group = topic.groups.get(cfg.group_id)
                if group is None:
                    group = topic.groups[cfg.group_id] = _Group(next_offset=start)
                group.members += 1
                self._group = group
            # A reader's own cursor (a group's members use the group's).
            self._next = start
        self._log = topic.log
        self._headers = topic.headers
        self._thread = threading.Thread(target=self._run, name=f"msgbus-memory-reader-{cfg.topic}", daemon=True)
        self._thread.start()
        _log.logger().info(
            "in-process reader connected to %s, topic %s, group %r", address(cfg), cfg.topic, cfg.group_id
        )

    # -- the interface -------------------------------------------------------

    def status(self) -> BusStatus:
        # Stopped by the failure policy (Stop): a fatal error for this reader.
        return BusStatus.CLOSED if self._closed or self._inbox.stopped else BusStatus.OPEN

    def stats(self) -> BusStats:
        progress = self._inbox.progress()
        queued = progress.queued
        with self._cluster.cond:
            if self._group is not None:
                backlog = len(self._log) - self._group.next_offset + len(self._group.returned)
            else:
                backlog = len(self._log) - self._next
        return BusStats(read=progress.taken, queued=queued, lag=backlog + queued, **self._inbox.failures.counts())

    def _dead_letter_writer(self, cfg: MsgBusConfig) -> MemoryWriter:
        return MemoryWriter(cfg)

    def disconnect(self) -> None:
        if not self._close_once():
            return
        self._stop.set()
        with self._cluster.cond:
            self._cluster.cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join()
        # Closed first: that waits for the callback thread, which puts back what it held.
        self._inbox.close()
        unread = self._inbox.remaining()
        with self._cluster.cond:
            group = self._group
            if group is not None:
                # At-least-once: what this member took in but nobody read goes back to the group.
                group.returned.extendleft(item.offset for item in reversed(unread))
                group.members -= 1
                self._cluster.cond.notify_all()
        _log.logger().info("in-process reader on %s disconnected", self._topic)

    # -- the reader thread -----------------------------------------------------

    def _take(self, room: int) -> list[Item]:
        # Called with the cluster's cond held: the messages, with their headers.
        log = self._log
        offsets: list[int] = []
        group = self._group
        if group is None:
            end = min(len(log), self._next + room)
            offsets = list(range(self._next, end))
            self._next = end
        else:
            # Share: take about this member's part of what is waiting, so that all members get work.
            waiting = len(group.returned) + len(log) - group.next_offset
            room = min(room, max(1, waiting // max(1, group.members)))
            while group.returned and len(offsets) < room:
                offsets.append(group.returned.popleft())
            end = min(len(log), group.next_offset + room - len(offsets))
            offsets.extend(range(group.next_offset, end))
            group.next_offset = max(group.next_offset, end)
        stored = self._headers
        return [Item(log[offset][0], 0, offset, log[offset][1], stored.get(offset, ())) for offset in offsets]

    def _run(self) -> None:
        cond = self._cluster.cond
        feed = self._inbox.feed
        while not self._stop.is_set():
            room = feed.free()
            if room <= 0:
                # Full: wait for the application to make room (takes notify), not a poll.
                feed.wait_room(max(1, feed.capacity // 2), _POLL * 20)
                continue
            with cond:
                items = self._take(room)
                if not items:
                    cond.wait(_POLL)
                    continue
            feed.put_items(items)
