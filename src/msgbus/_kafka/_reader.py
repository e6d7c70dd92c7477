"""The Kafka reader: a consumer thread feeding the bounded inbox, committing what was read."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Collection
from operator import itemgetter
from typing import Any

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from .. import _log
from .._batches import HeaderMap, Item
from .._bus import BusStats, GroupState, ReaderBase
from .._config import BusStatus, MsgBusConfig
from .._errors import BusClosedError, ConnectError
from .._metrics import PartitionLag
from .._tracing import carrier_of, traced
from ._errors import ErrorWatch, create_client, describe
from ._health import HealthProbe
from ._probe import WAIT_SLICE, Attempts, probe
from ._settings import admin_settings, bootstrap_servers, consumer_settings
from ._start import StartPositions
from ._writer import KafkaWriter

# Upper bound on one consume() call: the thread notices disconnect() this fast.
_CONSUME_TIMEOUT = 0.1
_MAX_BATCH = 1000
# How long a full inbox waits for room before the reader pauses fetching.
_FULL_WAIT = 1.0
# How often the consumer thread updates the backlog for stats() (from cached watermarks).
_LAG_INTERVAL = 0.25
# A paused reader asks the broker for its partitions' ends this often, waiting at most _ENDS_TIMEOUT.
_ENDS_INTERVAL = 1.0
_ENDS_TIMEOUT = 1.0
# How long disconnect() waits for the consumer to commit and leave its group.
_CLOSE_TIMEOUT = 30.0


# Unbound methods: map() calls them without a Python frame per message.
# (Typed Any: the stubs allow None where a message read without error never has one.)
_error: Any = Message.error
_value: Any = Message.value
_partition: Any = Message.partition
_offset: Any = Message.offset
_timestamp: Any = Message.timestamp
_headers: Any = Message.headers
_stamp = itemgetter(1)
_succ = (1).__add__
_utf8: Any = bytes.decode


def decode(value: bytes | None, where: str) -> str:
    """A message's text. Invalid UTF-8 is kept byte for byte (surrogateescape) and logged."""
    if value is None:
        return ""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        _log.logger().warning("message at %s is not valid UTF-8; undecodable bytes kept as surrogates", where)
        return value.decode("utf-8", "surrogateescape")


class _MessageCodec:
    """confluent-kafka Messages as the Inbox's Items or texts; runs on the reading side, a batch at a time."""

    def __init__(self, topic: str) -> None:
        self._topic = topic

    def texts(self, raw: list[Any]) -> list[str]:
        try:
            # The usual batch: every value valid UTF-8 (None raises TypeError).
            return list(map(_utf8, map(_value, raw)))
        except (TypeError, UnicodeDecodeError):
            return [decode(msg.value(), f"{self._topic}[{msg.partition()}]@{msg.offset()}") for msg in raw]

    def items(self, raw: list[Any]) -> list[Item]:
        texts = self.texts(raw)
        return list(zip(texts, map(_partition, raw), map(_offset, raw), map(_stamp, map(_timestamp, raw)), strict=True))

    def ends(self, raw: list[Any]) -> dict[int, int]:
        return dict(zip(map(_partition, raw), map(_succ, map(_offset, raw)), strict=True))

    def headers(self, raw: list[Any]) -> HeaderMap:
        # confluent-kafka: a list of (name, value) per message, value None for a null header;
        # None when the message has none. Kept as they are (see Record.headers).
        found = list(map(_headers, raw))
        if not any(found):
            return {}
        return {(msg.partition(), msg.offset()): tuple(pairs) for msg, pairs in zip(raw, found, strict=True) if pairs}


class _TracedCodec(_MessageCodec):
    """With tracing on: each text remembers its partition, offset and trace headers (``_tracing.TracedText``)."""

    def texts(self, raw: list[Any]) -> list[str]:
        texts = super().texts(raw)
        return [
            traced(text, msg.partition(), msg.offset(), carrier_of(msg.headers()))
            for text, msg in zip(texts, raw, strict=True)
        ]


class _Group:
    """Where a reader's partitions stand: written on the consumer thread, read by metrics() and health().

    One lock guards every field.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        #: partition -> high watermark, as of the last measure.
        self.ends: dict[int, int] = {}
        #: partition -> the next offset stored for commit (what the application finished).
        self.stored: dict[int, int] = {}
        #: partition -> the offset the broker last confirmed committed.
        self.committed: dict[int, int] = {}
        self.last_commit_at: float | None = None
        self.revoked_at: float | None = None
        self.rebalances = 0
        self.rebalance_seconds = 0.0


class KafkaReader(ReaderBase):
    def __init__(self, cfg: MsgBusConfig) -> None:
        super().__init__(cfg)
        # A named group shares work and resumes where it left off, so it commits;
        # a private group ("" group_id) is never resumed, so committing is pointless.
        self._commits = bool(cfg.group_id)
        group_id = cfg.group_id or f"msgbus-{cfg.topic}-{uuid.uuid4().hex}"
        # partition -> offset after the last message this reader took in (or where it
        # was started, before any): where a private group resumes after a rebalance.
        self._next_offsets: dict[int, int] = {}
        # partition -> where the current assignment started it: a commit below it would move the group back.
        self._assigned_at: dict[int, int] = {}
        self._paused = False
        # Partitions owned now; kept here because the consumer's own methods must
        # not be called from other threads while its thread is inside consume().
        self._partitions: list[int] = []
        self._admin_lock = threading.Lock()
        self._assigned = threading.Event()
        self._stop = threading.Event()
        self._starts_at = StartPositions(cfg, self._commits, self._next_offsets, self._stop)
        self._errors = ErrorWatch(f"reader on {cfg.topic}")
        self._codec = _TracedCodec(cfg.topic) if cfg.tracing else _MessageCodec(cfg.topic)
        self._group = _Group()
        self._ends_asked_at = 0.0
        self._consumer = create_client(
            Consumer, consumer_settings(cfg, group_id, self._commits, self._errors, self._on_commit)
        )
        self._thread = threading.Thread(target=self._run, name=f"msgbus-reader-{cfg.topic}", daemon=True)
        # stats(): messages on the broker past what this reader fetched, measured on the consumer thread.
        self._backlog = 0
        self._admin: Any = None
        self._health = HealthProbe(cfg, self._admin_client)
        try:
            self._connect(cfg)
        except BaseException:
            self._shutdown()
            raise
        self._starts_at.connected()
        _log.logger().info(
            "reader connected to %s, topic %s, group %s, partitions %s",
            bootstrap_servers(cfg),
            cfg.topic,
            group_id,
            self._partitions,
        )

    def _connect(self, cfg: MsgBusConfig) -> None:
        attempts = Attempts(cfg, self._errors)
        metadata = probe(self._consumer, cfg, attempts)
        topic = metadata.topics.get(cfg.topic)
        if topic is not None and topic.error is None:
            self._starts_at.probed_partitions = set(topic.partitions)
        elif topic is not None:
            if topic.error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                raise ConnectError(f"not authorised to read topic {cfg.topic}: {describe(topic.error)}")
            _log.logger().warning("topic %s: %s", cfg.topic, describe(topic.error))
        self._consumer.subscribe(
            [cfg.topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke
        )
        self._thread.start()
        # connect() returns only once the partitions are assigned and positioned,
        # so that every message written after it returns is read. Waited for in
        # short slices: Ctrl-C lands at once, and a dead reader thread is seen.
        deadline = time.monotonic() + cfg.connect_timeout
        while not self._assigned.wait(WAIT_SLICE):
            if not self._thread.is_alive():
                raise ConnectError(f"the reader thread for {cfg.topic} ended while joining its group")
            if time.monotonic() >= deadline:
                attempts.failed(f"no partition assignment for topic {cfg.topic} within {cfg.connect_timeout:g} s")
                deadline = time.monotonic() + cfg.connect_timeout

    # -- the interface -------------------------------------------------------

    def stats(self) -> BusStats:
        queued = self._inbox.available()
        return BusStats(
            read=self._inbox.taken, queued=queued, lag=self._backlog + queued, **self._inbox.failures.counts()
        )

    def _group_state(self) -> GroupState:
        group = self._group
        now = time.monotonic()
        with group.lock:
            lags = []
            starts = dict(self._assigned_at)
            for partition in sorted(self._partitions):
                done = group.stored.get(partition, group.committed.get(partition, starts.get(partition)))
                end = group.ends.get(partition)
                lag = None if done is None or end is None else max(0, end - done)
                lags.append(PartitionLag(partition, done, end, lag))
            rebalance_seconds = group.rebalance_seconds
            if group.revoked_at is not None:
                rebalance_seconds += now - group.revoked_at
            return GroupState(
                partitions=tuple(lags),
                rebalancing=group.revoked_at is not None,
                backlog=self._backlog,
                since_last_commit=None if group.last_commit_at is None else now - group.last_commit_at,
                rebalances=group.rebalances,
                rebalance_seconds=rebalance_seconds,
            )

    def _on_commit(self, err: Any, partitions: list[Any]) -> None:
        # On the consumer thread, inside consume(): the broker's answer to a commit.
        if err is not None:
            return
        group = self._group
        with group.lock:
            group.last_commit_at = time.monotonic()
            for tp in partitions:
                if tp.error is None and tp.offset >= 0:
                    group.committed[tp.partition] = tp.offset

    def _dead_letter_writer(self, cfg: MsgBusConfig) -> KafkaWriter:
        # The dead-letter hook (issue 13): same backend, same settings, another topic.
        return KafkaWriter(cfg)

    def _reachable(self) -> bool:
        return self._health.check(True)

    def _admin_client(self) -> Any:
        # The consumer must not be called from this thread while its own is in consume().
        with self._admin_lock:
            # Checked under the lock _shutdown takes: no new client once it ran, for
            # nothing would free it.
            if self._closed:
                raise BusClosedError("the bus is disconnected")
            if self._admin is None:
                from confluent_kafka.admin import AdminClient

                self._admin = create_client(AdminClient, admin_settings(self._cfg, self._errors))
            return self._admin

    def status(self) -> BusStatus:
        if self._closed or not self._thread.is_alive() or self._inbox.failures.stopped:
            return BusStatus.CLOSED
        return BusStatus.OPEN

    def disconnect(self) -> None:
        if not self._close_once():
            return
        self._shutdown()
        _log.logger().info("reader on %s disconnected", self._topic)

    def _shutdown(self) -> None:
        # AdminClient has no close(): dropping the only reference destroys it (its
        # sockets and pipes) now. The reader is in a reference cycle with its
        # HealthProbe, so waiting for the reader to be freed means waiting for the
        # cyclic garbage collector (1000 connect/disconnect cycles leaked fds).
        # A healthy() in another thread may be using it: it holds its own reference.
        with self._admin_lock:
            self._closed = True
            self._admin = None
        self._inbox.close()
        self._stop.set()
        if self._thread.is_alive():
            if self._thread is not threading.current_thread():
                self._thread.join(_CLOSE_TIMEOUT)
        elif self._thread.ident is None:
            # Never started: close the consumer here.
            self._consumer.close()

    # -- the consumer thread -------------------------------------------------------

    def _run(self) -> None:
        consumer = self._consumer
        inbox = self._inbox
        resume_at = max(1, inbox.capacity // 2)
        lag_at = 0.0
        while not self._stop.is_set():
            try:
                self._store_done()
                free = inbox.free()
                # Less than half free: wait for half (not for one slot at a time, which
                # would hand over tiny batches, each a switch of the GIL between threads).
                if free < resume_at and not self._paused and inbox.wait_room(resume_at, _FULL_WAIT):
                    # The application made room in time: no pause, whose resume
                    # would refetch after librdkafka's fetch.queue.backoff.ms.
                    continue
                if free <= 0 and not self._paused:
                    # Full: stop fetching, but keep calling consume() so that the
                    # group membership and rebalances are served.
                    consumer.pause(consumer.assignment())
                    self._paused = True
                elif self._paused and free >= resume_at:
                    consumer.resume(consumer.assignment())
                    self._paused = False
                # At most half the inbox: the application reads one batch while the next is fetched.
                batch = min(max(free, 1), _MAX_BATCH, resume_at)
                # consume(n, timeout) waits until it has n messages or the timeout
                # passed: take what is there already; if nothing, wait for one only,
                # then take what else came. (One call per batch while messages stream
                # in: each call gives up the GIL and must win it back.) Each call's
                # messages are taken in before the next call, which may run a
                # rebalance callback: that must find them in the inbox (within one
                # call, librdkafka itself drops what a rebalance made outdated).
                messages = consumer.consume(batch, 0)
                if messages:
                    self._take_in(messages)
                else:
                    messages = consumer.consume(1, _CONSUME_TIMEOUT)
                    if messages:
                        self._take_in(messages)
                        if batch > 1:
                            more = consumer.consume(batch - 1, 0)
                            if more:
                                self._take_in(more)
                if time.monotonic() >= lag_at:
                    self._measure_backlog(consumer)
                    lag_at = time.monotonic() + _LAG_INTERVAL
            except Exception:
                if self._stop.is_set():
                    break
                _log.logger().exception("reader on %s hit an error; going on", self._topic)
                time.sleep(_CONSUME_TIMEOUT)
        try:
            self._store_done()
            # Commits the stored offsets and leaves the group at once.
            consumer.close()
        except Exception:
            _log.logger().exception("closing the reader on %s failed", self._topic)

    def _take_in(self, messages: list[Any]) -> None:
        # No per-message Python here: the batch goes to the Inbox as it is and is
        # decoded on the reading side (_MessageCodec), where it is read.
        if any(map(_error, messages)):
            for msg in messages:
                err = msg.error()
                if err is not None:
                    _log.logger().warning("reader on %s: %s", self._topic, describe(err))
            messages = [msg for msg in messages if msg.error() is None]
            if not messages:
                return
        partitions = self._partitions
        last = messages[-1]
        if len(partitions) == 1 and messages[0].partition() == last.partition() == partitions[0]:
            # One partition assigned: all of the batch is of it (librdkafka drops what
            # a rebalance made outdated), so its last message says where it ends.
            ends = {partitions[0]: last.offset() + 1}
        else:
            ends = self._codec.ends(messages)
        self._next_offsets.update(ends)
        self._inbox.put_raw(messages, self._codec, ends)

    def _measure_backlog(self, consumer: Any) -> None:
        """Messages past this reader's fetch position, from the watermarks of the last fetch (no I/O).

        A paused reader fetches nothing, so its cached watermarks stand still: then the
        ends are asked of the broker, at most every ``_ENDS_INTERVAL`` (metrics() shows the lag grow).
        """
        backlog = 0
        ends: dict[int, int] = {}
        positions = consumer.position([TopicPartition(self._topic, p) for p in self._partitions])
        ask = self._paused and time.monotonic() - self._ends_asked_at >= _ENDS_INTERVAL
        if ask:
            self._ends_asked_at = time.monotonic()
        for tp in positions:
            if ask:
                try:
                    _, high = consumer.get_watermark_offsets(tp, timeout=_ENDS_TIMEOUT, cached=False)
                except KafkaException:
                    _, high = consumer.get_watermark_offsets(tp, cached=True)
            else:
                _, high = consumer.get_watermark_offsets(tp, cached=True)
            if high >= 0:
                ends[tp.partition] = high
                if tp.offset >= 0:
                    backlog += max(0, high - tp.offset)
        self._backlog = backlog
        with self._group.lock:
            self._group.ends.update(ends)

    def _store_done(self) -> None:
        done = self._inbox.take_done()
        if not done or not self._commits:
            return
        # A message finished after its partition was revoked (and perhaps given back)
        # must not move the group's commit back below where this assignment started.
        starts = self._assigned_at
        offsets = [
            TopicPartition(self._topic, partition, offset)
            for partition, offset in done.items()
            if offset >= starts.get(partition, offset)
        ]
        if not offsets:
            return
        try:
            self._consumer.store_offsets(offsets=offsets)
            with self._group.lock:
                self._group.stored.update((tp.partition, tp.offset) for tp in offsets)
        except KafkaException as exc:
            # A partition that was taken away meanwhile: its new owner reads from the last commit.
            _log.logger().debug("storing offsets on %s: %s", self._topic, describe(exc.args[0]))

    # -- rebalances (called on the consumer thread, inside consume()) -----------

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        group = self._group
        with group.lock:
            if group.revoked_at is not None:
                group.rebalances += 1
                group.rebalance_seconds += time.monotonic() - group.revoked_at
                group.revoked_at = None
        positioned = self._starts_at.position(consumer, partitions)
        consumer.assign(positioned)
        if positioned:
            # librdkafka keeps a partition's pause across a revoke and a new assign: one
            # paused while the inbox was full would never fetch again (issue 9, defect 1).
            # The loop pauses again if the inbox is still full.
            consumer.resume(positioned)
        self._starts_at.commit_fresh_starts(consumer)
        self._partitions = sorted(tp.partition for tp in positioned)
        for tp in positioned:
            if tp.offset >= 0:
                self._assigned_at[tp.partition] = tp.offset
                self._next_offsets.setdefault(tp.partition, tp.offset)
        self._paused = False
        self._assigned.set()
        _log.logger().info(
            "reader on %s assigned %s",
            self._topic,
            {tp.partition: tp.offset for tp in positioned},
        )

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        group = self._group
        with group.lock:
            if group.revoked_at is None:
                group.revoked_at = time.monotonic()
            for tp in partitions:
                group.stored.pop(tp.partition, None)
                group.committed.pop(tp.partition, None)
        self._partitions = []
        revoked = [tp.partition for tp in partitions]
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

    def _forget(self, partitions: Collection[int]) -> None:
        """A named group's revoked partitions: their queued, unread messages are left to the new owner.

        They are not committed, so the new owner reads them from the commit;
        handing them out here as well would only make duplicates (issue 9, defect 8).
        """
        dropped = self._inbox.forget(partitions)
        for partition in partitions:
            self._next_offsets.pop(partition, None)
        if dropped:
            _log.logger().info(
                "reader on %s left %d queued message(s) of revoked partitions %s to their new owner",
                self._topic,
                dropped,
                sorted(partitions),
            )
