"""The Kafka reader: a consumer thread feeding the bounded inbox, committing what was read."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from ... import _cancel, _log
from ..._config import BusStatus, MsgBusConfig
from ..._errors import BusClosedError, ConnectError
from ..._ops.figures import GroupState
from ..base import BusStats, ReaderBase
from ._codec import MessageCodec, message_error
from ._errors import ErrorWatch, create_client, describe
from ._health import HealthProbe
from ._membership import Membership
from ._probe import WAIT_SLICE, Attempts, probe
from ._rebalance import Rebalances
from ._settings import admin_settings, bootstrap_servers, consumer_settings, incremental
from ._standing import Standing
from ._start import StartPositions
from ._topic import TopicState, check_topic, creating_text, missing_text, topic_error
from ._writer import KafkaWriter

# Upper bound on one consume() call: the thread notices disconnect() this fast.
_CONSUME_TIMEOUT = 0.1
_MAX_BATCH = 1000
# How long a full inbox waits for room before the reader pauses fetching.
_FULL_WAIT = 1.0
# How often the consumer thread updates the backlog for stats() (from cached watermarks).
_LAG_INTERVAL = 0.25
# How long disconnect() waits for the consumer to commit and leave its group.
_CLOSE_TIMEOUT = 30.0


class KafkaReader(Rebalances, ReaderBase):
    def __init__(self, cfg: MsgBusConfig) -> None:
        super().__init__(cfg)
        # A named group shares work and resumes where it left off, so it commits;
        # a private group ("" group_id) is never resumed, so committing is pointless.
        self._commits = bool(cfg.group_id)
        # Rebalances hand over only what changed (cooperative-sticky, KIP-848), not the whole assignment.
        self._incremental = incremental(cfg)
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
        self._loop_errors = _log.Throttle()
        self._membership = Membership(cfg, group_id)
        self._codec = MessageCodec(cfg.topic)
        #: Lag, commits and rebalances, for metrics() and health().
        self._standing = Standing(cfg.topic)
        self._consumer = create_client(
            Consumer, consumer_settings(cfg, group_id, self._commits, self._errors, self._standing.on_commit)
        )
        self._thread = threading.Thread(target=self._run, name=f"msgbus-reader-{cfg.topic}", daemon=True)
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
        error = topic_error(metadata, cfg.topic)
        if error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
            raise ConnectError(f"not authorised to read topic {cfg.topic}: {describe(error)}")
        # A topic the broker refuses (a name colliding with another's, say) fails now, naming
        # the broker's reason. One that is missing, with auto-creation off, is waited for: the
        # reader reads it from its first message once it is created (StartPositions._start_of).
        state, metadata = check_topic(self._consumer, metadata, cfg, self._errors)
        if state is not TopicState.PRESENT:
            missing = (
                missing_text(cfg.topic)
                if state is TopicState.MISSING
                else creating_text(cfg.topic, cfg.connect_timeout)
            )
            _log.logger().warning(
                "%s; the reader waits for it, and reads it from its first message once it is created", missing
            )
            self._subscribe()
            return
        self._starts_at.probed_partitions = set(metadata.topics[cfg.topic].partitions)
        self._subscribe()
        # connect() returns only once the partitions are assigned and positioned,
        # so that every message written after it returns is read. Waited for in
        # short slices: Ctrl-C lands at once, and a dead reader thread is seen.
        deadline = time.monotonic() + cfg.connect_timeout
        while not self._assigned.wait(WAIT_SLICE):
            _cancel.check()
            if self._membership.refused is not None:
                # The group's members cannot meet this reader's protocol: retrying cannot change that.
                raise ConnectError(self._membership.refused)
            if not self._thread.is_alive():
                raise ConnectError(f"the reader thread for {cfg.topic} ended while joining its group")
            if time.monotonic() >= deadline:
                # librdkafka says only in its debug log that a broker lacks KIP-848's API.
                hint = (
                    ' (group_protocol="consumer" needs Kafka 4.0 or later)' if cfg.group_protocol == "consumer" else ""
                )
                attempts.failed(f"no partition assignment for topic {cfg.topic} within {cfg.connect_timeout:g} s{hint}")
                deadline = time.monotonic() + cfg.connect_timeout

    def _subscribe(self) -> None:
        self._consumer.subscribe(
            [self._topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )
        self._thread.start()

    # -- the interface -------------------------------------------------------

    def stats(self) -> BusStats:
        progress = self._inbox.progress()
        return BusStats(
            read=progress.taken,
            queued=progress.queued,
            lag=self._standing.backlog + progress.queued,
            **self._inbox.failures.counts(),
        )

    def _dead_letter_writer(self, cfg: MsgBusConfig) -> KafkaWriter:
        # The dead-letter hook (issue 13): same backend, same settings, another topic.
        return KafkaWriter(cfg)

    def _group_state(self) -> GroupState:
        return self._standing.state()

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
        # A fatal client error ends the consumer for good, as it does a writer's producer.
        if self._closed or self._errors.fatal or not self._thread.is_alive() or self._inbox.stopped:
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
                if self._thread.is_alive():
                    progress = self._inbox.progress()
                    _log.logger().warning(
                        "the reader on %s did not commit and leave its group within %.0f s; not waiting for it "
                        "(%d message(s) taken in but unread are left to the group's next reader; "
                        "offsets finished since the last commit may be read again)",
                        self._topic,
                        _CLOSE_TIMEOUT,
                        progress.queued,
                    )
        elif self._thread.ident is None:
            # Never started: close the consumer here.
            self._consumer.close()

    # -- the consumer thread -------------------------------------------------------

    def _run(self) -> None:
        consumer = self._consumer
        inbox = self._inbox.feed
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
                    self._standing.measure(consumer, self._partitions, self._paused)
                    lag_at = time.monotonic() + _LAG_INTERVAL
            except Exception as exc:
                if self._stop.is_set():
                    break
                # The same error comes back every loop while its cause lasts: one line per window.
                self._loop_errors.log(
                    logging.ERROR,
                    f"{type(exc).__name__}: {_log.normalize(str(exc))}",
                    "reader on %s hit an error; going on: %s: %s",
                    self._topic,
                    type(exc).__name__,
                    exc,
                )
                self._stop.wait(_CONSUME_TIMEOUT)
        try:
            self._store_done()
            # Commits the stored offsets and leaves the group at once.
            consumer.close()
        except Exception:
            _log.logger().exception("closing the reader on %s failed", self._topic)

    def _take_in(self, messages: list[Any]) -> None:
        # No per-message Python here: the batch goes to the Inbox as it is and is
        # decoded on the reading side (MessageCodec), where it is read.
        if any(map(message_error, messages)):
            for msg in messages:
                err = msg.error()
                if err is None:
                    continue
                self._membership.saw(err)
                if err.fatal() or err.code() == KafkaError._FATAL:
                    # A fatal error comes as an event here, not through error_cb: the watch
                    # records it (status() closed), and logs it.
                    self._errors(err)
                    continue
                # A persistent consumer error (a missing topic, say) comes back every fetch.
                text = describe(err)
                self._loop_errors.log(logging.WARNING, _log.normalize(text), "reader on %s: %s", self._topic, text)
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
        self._inbox.feed.put(messages, self._codec, ends)

    def _store_done(self) -> None:
        done = self._inbox.feed.take_done()
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
            self._standing.stored(offsets)
        except KafkaException as exc:
            # A partition that was taken away meanwhile: its new owner reads from the last commit.
            _log.logger().debug("storing offsets on %s: %s", self._topic, describe(exc.args[0]))
