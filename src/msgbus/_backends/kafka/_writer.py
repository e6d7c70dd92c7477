"""The Kafka writer: Blocking (wait for the acknowledgement) or NonBlocking (queue and go)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaException, Producer

from ... import _log
from ..._config import BusStatus, MsgBusConfig
from ..._errors import BusClosedError, ConnectError, DeliveryError, FlushError
from ..._headers import HeadersArg, header_list
from ..base import BusStats, WriterBase
from ._acks import Acknowledgement, encode
from ._cluster import ClusterWatch, replace_producer
from ._errors import ErrorWatch, create_client, describe, error_name
from ._gate import ProduceGate
from ._health import HealthProbe
from ._pipelined import REPORT_GRACE, PipelinedWrites
from ._probe import Attempts, probe
from ._settings import producer_settings
from ._topic import TopicState, check_topic, creating_text, missing_text

#: Kafka headers as confluent-kafka's produce() takes them (None: no headers).
Headers = list[tuple[str, str | bytes | None]] | None
# How often the background thread serves delivery reports while idle.
_POLL_INTERVAL = 0.1
# Delivery errors after which the writer asks whether its cluster was replaced.
_SUSPECT_ERRORS = frozenset({"_MSG_TIMED_OUT", "OUT_OF_ORDER_SEQUENCE_NUMBER", "UNKNOWN_PRODUCER_ID", "_FATAL"})


class KafkaWriter(PipelinedWrites, WriterBase):
    """Invariants: every produce() goes through ``_gate`` (see _gate.py), so that
    disconnect() flushes every write that saw the bus open and a replaced
    cluster's producer is closed only once no call is in it; the counts below
    change under ``_failed_lock``.
    """

    def __init__(self, cfg: MsgBusConfig) -> None:
        super().__init__(cfg)
        # For stats(): NonBlocking messages reported undelivered, Blocking writes that failed.
        self._failed = 0
        self._failed_lock = threading.Lock()
        self._failed_acked = 0
        # For healthy(): deliveries fail now (set by a failed report, cleared by a
        # delivered one); the accepted count at the last failure (NonBlocking, see _served).
        self._failing = False
        self._accepted_at_failure = 0
        # Why purged messages were not delivered: the cluster they were for was replaced.
        self._replaced: str | None = None
        self._errors = ErrorWatch(f"writer on {cfg.topic}")
        settings = producer_settings(cfg, self._errors)
        if not self._blocking:
            settings["on_delivery"] = self._on_failed_delivery
        self._settings = settings
        producer = create_client(Producer, settings)
        try:
            metadata = probe(producer, cfg, Attempts(cfg, self._errors))
            state, metadata = check_topic(producer, metadata, cfg, self._errors)
            if state is TopicState.MISSING:
                # Every write would wait write_timeout, then fail with "unknown topic": say it now.
                raise ConnectError(missing_text(cfg.topic))
            if state is TopicState.CREATING:
                # A slow broker, creating it: the writes wait for it, up to write_timeout each.
                _log.logger().warning("%s; writes wait for it", creating_text(cfg.topic, cfg.connect_timeout))
        except BaseException:
            producer.purge()
            producer.close()
            raise
        self._gate = ProduceGate(producer)
        self._cluster = ClusterWatch(metadata.cluster_id, self._errors, cfg.topic)
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._serve_reports, name=f"msgbus-writer-{cfg.topic}", daemon=True)
        self._poller.start()
        self._health = HealthProbe(cfg, lambda: self._gate.producer)
        # The fast path of message_write: a NonBlocking write with nothing to add to the message.
        self._fast = not self._blocking and not cfg.tracing
        _log.logger().info(
            "%s writer connected to %s, topic %s",
            "Blocking" if self._blocking else "NonBlocking",
            settings["bootstrap.servers"],
            cfg.topic,
        )

    # -- the interface -------------------------------------------------------

    def message_write(self, msg: str, headers: HeadersArg | None = None) -> None:
        # Fast path, the usual NonBlocking write: one produce call, which encodes
        # the str as UTF-8 itself. Anything unusual (a full queue, a refusal, lone
        # surrogates, a closed bus) raises before queueing: the careful path below
        # handles it.
        if self._fast and headers is None and type(msg) is str and self._produce_str(msg):
            return
        payload = encode(msg)
        self._check_open()
        wire = None if headers is None else header_list(headers)
        if self._tracing is not None:
            with self._tracing.send(wire) as traced:
                self._write_payload(payload, [*traced])
            return
        self._write_payload(payload, None if wire is None else [*wire])

    def _write_payload(self, payload: bytes, headers: Headers) -> None:
        if not self._blocking:
            self._produce(payload, None, headers)
            return
        durations = self._durations
        started = time.monotonic() if durations is not None else 0.0
        ack = Acknowledgement()
        self._produce(payload, ack, headers)
        self._await(ack)
        if durations is not None:
            durations.observe(time.monotonic() - started)

    def _produce_str(self, msg: str) -> bool:
        """One produce() of a str, as librdkafka encodes it; False (nothing queued) on anything unusual."""
        gate = self._gate
        producer = gate.enter()
        if producer is None:
            return False
        accepted = False
        try:
            producer.produce(self._topic, msg)
            accepted = True
        except Exception:
            pass
        finally:
            gate.leave(producer, accepted)
        return accepted

    def _await(self, ack: Acknowledgement) -> None:
        """Wait for ``ack``'s delivery report; DeliveryError if the message was not delivered."""
        if not ack.done.wait(self._cfg.write_timeout + REPORT_GRACE):
            self._count(failed=1, code="_MSG_TIMED_OUT")
            raise DeliveryError(
                f"no acknowledgement for a message to {self._topic} within {self._cfg.write_timeout:g} s",
                code="_MSG_TIMED_OUT",
            )
        if ack.error is not None:
            code = error_name(ack.error)
            self._count(failed=1, code=code)
            raise DeliveryError(f"message to {self._topic} not delivered: {self._why(ack.error)}", code=code)
        self._count(delivered=1)

    def _why(self, err: Any) -> str:
        """A failed report's error; for a message purged with a replaced cluster's producer, that cause."""
        text = describe(err)
        name = error_name(err) or ""
        if self._replaced is not None and name.startswith("_PURGE"):
            return f"{text}: {self._replaced}"
        return text

    def write_nowait(self, msg: str) -> bool:
        if self._blocking:
            return False
        # The fast path of message_write (msgbus.aio's NonBlocking write).
        if type(msg) is str and self._produce_str(msg):
            return True
        payload = encode(msg)
        self._check_open()
        # False on a full queue or a refusal: message_write then waits, or says why.
        return self._produce_once(payload, None)

    def write_acked(self, msg: str, on_done: Callable[[DeliveryError | None], None]) -> bool:
        """A Blocking write that does not wait: queue ``msg``; ``on_done(None)`` once acknowledged, or
        ``on_done(DeliveryError)``, on the delivery-report thread (for msgbus.aio: no worker thread per write).

        False, with nothing queued, if it cannot queue at once (full queue, refusal, closed bus,
        a NonBlocking writer): ``message_write`` then waits or says why.
        """
        if not self._blocking:
            return False
        payload = encode(msg)
        topic = self._topic

        def report(err: Any, _msg: Any) -> None:
            if err is None:
                self._count(delivered=1)
                on_done(None)
                return
            code = error_name(err)
            self._count(failed=1, code=code)
            on_done(DeliveryError(f"message to {topic} not delivered: {self._why(err)}", code=code))

        try:
            return self._produce_once(payload, report)
        except BusClosedError:
            return False

    def stats(self) -> BusStats:
        with self._failed_lock:
            failed = self._failed + self._failed_acked
        written = self._gate.accepted
        queued = 0 if self._closed else len(self._gate.producer)
        return BusStats(written=written, delivered=max(0, written - failed - queued), failed=failed, queued=queued)

    def _reachable(self) -> bool:
        return self._health.check(True)

    def _failing_now(self) -> bool:
        with self._failed_lock:
            return self._failing

    def status(self) -> BusStatus:
        if self._closed or self._errors.fatal or not self._poller.is_alive():
            return BusStatus.CLOSED
        return BusStatus.OPEN

    def disconnect(self) -> None:
        if not self._close_once():
            return
        # Writes that saw the bus open finish their produce() (which never waits) first.
        self._gate.close()
        self._stop.set()
        self._poller.join()
        producer = self._gate.producer
        failed_before = self._failed
        remaining = producer.flush(self._cfg.flush_timeout)
        if remaining:
            # The broker did not take them in time: give up on them now, so that
            # close() does not wait, and let their reports count them.
            producer.purge()
            producer.flush(0)
        producer.close()
        undelivered = self._failed - failed_before
        _log.logger().info("writer on %s disconnected (%d undelivered)", self._topic, undelivered)
        if undelivered:
            raise FlushError(
                f"disconnect could not deliver {undelivered} message(s) to {self._topic} within "
                f"{self._cfg.flush_timeout:g} s",
                undelivered=undelivered,
            )

    # -- internals -------------------------------------------------------------

    def _produce(self, payload: bytes, ack: Callable[[Any, Any], None] | None, headers: Headers = None) -> None:
        deadline: float | None = None
        while True:
            try:
                self._produce_locked(payload, ack, headers)
                return
            except BufferError:
                # The local queue is full: wait for room, but not for ever.
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self._cfg.write_timeout
                elif now >= deadline:
                    raise DeliveryError(
                        f"the local queue for {self._topic} stayed full ({len(self._gate.producer)} messages "
                        f"waiting) for {self._cfg.write_timeout:g} s",
                        code="_QUEUE_FULL",
                    ) from None
                # Short: a NonBlocking writer gets no report for a delivery, so poll() sleeps
                # its whole timeout while the broker frees room (5 ms cost a fifth of the rate).
                self._gate.producer.poll(0.001)
            except KafkaException as exc:
                err = exc.args[0]
                raise DeliveryError(
                    f"message to {self._topic} refused: {describe(err)}", code=error_name(err)
                ) from None

    def _produce_locked(self, payload: bytes, ack: Callable[[Any, Any], None] | None, headers: Headers = None) -> None:
        """One produce() through the gate: BufferError when the queue is full, KafkaException when refused.

        disconnect() waits for it after closing the gate, so the producer is never closed under it.
        """
        gate = self._gate
        producer = gate.enter()
        if producer is None:
            raise BusClosedError("the bus is disconnected")
        accepted = False
        try:
            if headers is not None:
                producer.produce(self._topic, payload, headers=headers, on_delivery=ack)
            elif ack is None:
                producer.produce(self._topic, payload)
            else:
                producer.produce(self._topic, payload, on_delivery=ack)
            accepted = True
        finally:
            gate.leave(producer, accepted)

    def _produce_once(self, payload: bytes, ack: Callable[[Any, Any], None] | None) -> bool:
        """_produce_locked; False if the careful path (_produce) must handle it: a full queue, a refusal."""
        try:
            self._produce_locked(payload, ack)
        except (BufferError, KafkaException):
            return False
        return True

    def _count(self, failed: int = 0, delivered: int = 0, code: str | None = None) -> None:
        """Blocking reports: count the failures; ``_failing`` follows the latest outcome."""
        with self._failed_lock:
            self._failed_acked += failed
            if delivered and not failed:
                self._failing = False
            elif failed:
                self._failing = True
        if failed and (code in _SUSPECT_ERRORS or code is None):
            self._cluster.suspect()

    def _on_failed_delivery(self, err: Any, msg: Any) -> None:
        # NonBlocking: only failures are reported (delivery.report.only.error).
        if err is None:
            return
        with self._failed_lock:
            self._failed += 1
            self._failing = True
            self._accepted_at_failure = self._gate.accepted
        if error_name(err) in _SUSPECT_ERRORS:
            self._cluster.suspect()
        _log.logger().error(
            "NonBlocking message to %s not delivered: %s (%d failed so far)",
            self._topic,
            describe(err),
            self._failed,
        )

    def _serve_reports(self) -> None:
        while not self._stop.is_set():
            try:
                producer = self._gate.producer
                producer.poll(_POLL_INTERVAL)
                if not self._blocking:
                    self._served(producer)
                replaced_by = self._cluster.replaced(producer)
                if replaced_by is not None:
                    self._replace_producer(replaced_by)
            except Exception:
                # A raising callback must not end delivery reporting.
                _log.logger().exception("error while serving delivery reports on %s", self._topic)

    def _served(self, producer: Any) -> None:
        """NonBlocking: successes are not reported, so deliveries work again once messages
        accepted after the last failure all left the queue (their reports served) and none failed."""
        with self._failed_lock:
            if self._failing and self._gate.accepted > self._accepted_at_failure and not len(producer):
                self._failing = False

    def _replace_producer(self, cluster_id: str) -> None:
        """The cluster at our address is another one now (on the report thread): see replace_producer."""

        def announce(why: str) -> None:
            self._replaced = why
            self._errors.forget_fatal()
            _log.logger().warning("writer on %s: %s", self._topic, why)

        replace_producer(
            self._gate, self._cluster, cluster_id, lambda: create_client(Producer, self._settings), announce
        )
