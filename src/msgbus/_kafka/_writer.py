"""The Kafka writer: Blocking (wait for the acknowledgement) or NonBlocking (queue and go)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import KafkaException, Producer

from .. import _log
from .._bus import BusStats, WriterBase
from .._config import BusStatus, MsgBusConfig
from .._errors import BusClosedError, DeliveryError, FlushError
from .._headers import HeadersArg, header_list
from ._acks import Acknowledgement, Acknowledgements, encode, encode_fast
from ._errors import ErrorWatch, create_client, describe, error_name
from ._health import HealthProbe
from ._probe import Attempts, probe
from ._settings import producer_settings
from ._tracked import write_tracked

#: Kafka headers as confluent-kafka's produce() takes them (None: no headers).
Headers = list[tuple[str, str | bytes | None]] | None
# How often the background thread serves delivery reports while idle.
_POLL_INTERVAL = 0.1
# A Blocking write waits this much longer than message.timeout.ms, which
# librdkafka guarantees to end with a delivery report.
_REPORT_GRACE = 5.0


def _count_value(counter: itertools.count[int]) -> int:
    """How many next() calls an itertools.count(0) has had: its repr is ``count(N)``."""
    return int(repr(counter)[6:-1])


class KafkaWriter(WriterBase):
    def __init__(self, cfg: MsgBusConfig) -> None:
        super().__init__(cfg)
        self._failed = 0
        self._failed_lock = threading.Lock()
        # A write either sees the bus closed (BusClosedError) or is queued before
        # disconnect() flushes, so that the flush covers it and FlushError counts it
        # (issue 9, defect 6) - without a lock, which cost ~8% of a NonBlocking write:
        # every produce() puts a token here *before* it checks _closed and takes it
        # out after; disconnect() sets _closed, *then* waits for the list to empty.
        # list.append/pop are atomic under the GIL, so a write that saw the bus open
        # is either visible to disconnect() or already queued.
        self._in_flight: list[None] = []
        # For stats(): messages the producer accepted (next() is atomic, so concurrent
        # writers lose no count; read with _count_value), and Blocking writes that failed
        # (under _failed_lock).
        self._accepted = itertools.count()
        self._note_accepted = self._accepted.__next__
        self._failed_acked = 0
        self._errors = ErrorWatch(f"writer on {cfg.topic}")
        settings = producer_settings(cfg, self._errors)
        if not self._blocking:
            settings["on_delivery"] = self._on_failed_delivery
        self._producer = create_client(Producer, settings)
        try:
            probe(self._producer, cfg, Attempts(cfg, self._errors))
        except BaseException:
            self._producer.purge()
            self._producer.close()
            raise
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._serve_reports, name=f"msgbus-writer-{cfg.topic}", daemon=True)
        self._poller.start()
        self._health = HealthProbe(cfg, lambda: self._producer)
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
        if self._fast and headers is None and type(msg) is str:
            # Fast path, the usual NonBlocking write: one produce call, which encodes
            # the str as UTF-8 itself. Anything unusual (a full queue, a refusal, lone
            # surrogates, a closed bus) raises before queueing: the careful path below
            # handles it.
            in_flight = self._in_flight
            in_flight.append(None)
            try:
                if not self._closed:
                    self._producer.produce(self._topic, msg)
                    self._note_accepted()
                    return
            except Exception:
                pass
            finally:
                in_flight.pop()
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

    def _await(self, ack: Acknowledgement) -> None:
        """Wait for ``ack``'s delivery report; DeliveryError if the message was not delivered."""
        if not ack.done.wait(self._cfg.write_timeout + _REPORT_GRACE):
            raise DeliveryError(
                f"no acknowledgement for a message to {self._topic} within {self._cfg.write_timeout:g} s",
                code="_MSG_TIMED_OUT",
            )
        if ack.error is not None:
            self._count(failed=1)
            raise DeliveryError(
                f"message to {self._topic} not delivered: {describe(ack.error)}", code=error_name(ack.error)
            )

    def write_nowait(self, msg: str) -> bool:
        if self._blocking:
            return False
        if type(msg) is str:
            # The fast path of message_write (msgbus.aio's NonBlocking write), written out
            # again rather than shared: a method call here costs ~5% of a 100 B write.
            in_flight = self._in_flight
            in_flight.append(None)
            try:
                if not self._closed:
                    self._producer.produce(self._topic, msg)
                    self._note_accepted()
                    return True
            except Exception:
                pass
            finally:
                in_flight.pop()
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
                on_done(None)
                return
            self._count(failed=1)
            on_done(DeliveryError(f"message to {topic} not delivered: {describe(err)}", code=error_name(err)))

        try:
            return self._produce_once(payload, report)
        except BusClosedError:
            return False

    def message_write_many(self, msgs: Iterable[str]) -> int:
        """Write every message of ``msgs`` in order; returns how many were written.

        NonBlocking: queues them all (waiting for room when the local queue is
        full) and returns. Blocking: queues them all, then waits for every
        acknowledgement; raises DeliveryError, saying how many were delivered,
        if any was not.
        """
        self._check_open()
        if self._blocking:
            return self._write_many_acknowledged(msgs)
        count = 0
        for msg in msgs:
            payload = encode_fast(msg, count)
            if not self._produce_once(payload, None):
                # Queue full or a refusal: the careful path handles each.
                self._produce(payload, None)
            count += 1
        return count

    def _write_many_acknowledged(self, msgs: Iterable[str]) -> int:
        acks = Acknowledgements()
        count = 0
        refused: DeliveryError | None = None
        try:
            for msg in msgs:
                payload = encode_fast(msg, count)
                if not self._produce_once(payload, acks):
                    try:
                        self._produce(payload, acks)
                    except DeliveryError as exc:
                        refused = exc
                        break
                count += 1
        finally:
            # Whatever happened, wait for what was queued, so that the counts below are true.
            done = acks.expect(count, self._cfg.write_timeout + _REPORT_GRACE)
            self._count(failed=acks.failed)
        if refused is not None:
            raise DeliveryError(
                f"message {count} of the batch refused ({acks.delivered} before it delivered, "
                f"{count - acks.delivered} not): {refused}",
                code=refused.code,
            )
        if not done:
            raise DeliveryError(
                f"{acks.delivered} of {count} message(s) to {self._topic} acknowledged within "
                f"{self._cfg.write_timeout:g} s",
                code="_MSG_TIMED_OUT",
            )
        if acks.failed:
            raise DeliveryError(
                f"{acks.failed} of {count} message(s) to {self._topic} not delivered ({acks.delivered} delivered): "
                f"{describe(acks.first_error)}",
                code=error_name(acks.first_error),
            )
        return count

    def message_write_tracked(self, msgs: Iterable[str]) -> tuple[int, list[tuple[int, str]]]:
        """Queue every message of ``msgs`` at once, then wait for every acknowledgement.

        Returns how many messages were taken from ``msgs`` (all, unless the writing had
        to stop: the queue stayed full for write_timeout, or the bus closed), and
        (index, reason) for each one taken that was not delivered, by index. A message
        refused on its own (too large, say) is one of those; the rest go on. Blocking
        writers only: a NonBlocking one hears of failures only. (For ``msgbus write``.)
        """
        if not self._blocking:
            raise DeliveryError("message_write_tracked needs a Blocking writer (NonBlocking reports failures only)")
        self._check_open()

        def produce(payload: bytes, ack: Callable[[Any, Any], None]) -> None:
            if not self._produce_once(payload, ack):
                self._produce(payload, ack)  # a full queue, or a refusal: DeliveryError says which

        count, failed = write_tracked(msgs, encode_fast, produce, self._cfg.write_timeout + _REPORT_GRACE)
        self._count(failed=len(failed))
        return count, failed

    def stats(self) -> BusStats:
        with self._failed_lock:
            failed = self._failed + self._failed_acked
        written = _count_value(self._accepted)
        queued = 0 if self._closed else len(self._producer)
        return BusStats(written=written, delivered=max(0, written - failed - queued), failed=failed, queued=queued)

    def _reachable(self) -> bool:
        return self._health.check(True)

    def status(self) -> BusStatus:
        if self._closed or self._errors.fatal or not self._poller.is_alive():
            return BusStatus.CLOSED
        return BusStatus.OPEN

    def disconnect(self) -> None:
        if not self._close_once():
            return
        # Writes that saw the bus open finish their produce() (which never waits) first.
        while self._in_flight:
            time.sleep(0.0002)
        self._stop.set()
        self._poller.join()
        failed_before = self._failed
        remaining = self._producer.flush(self._cfg.flush_timeout)
        if remaining:
            # The broker did not take them in time: give up on them now, so that
            # close() does not wait, and let their reports count them.
            self._producer.purge()
            self._producer.flush(0)
        self._producer.close()
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
                        f"the local queue for {self._topic} stayed full ({len(self._producer)} messages "
                        f"waiting) for {self._cfg.write_timeout:g} s",
                        code="_QUEUE_FULL",
                    ) from None
                # Short: a NonBlocking writer gets no report for a delivery, so poll() sleeps
                # its whole timeout while the broker frees room (5 ms cost a fifth of the rate).
                self._producer.poll(0.001)
            except KafkaException as exc:
                err = exc.args[0]
                raise DeliveryError(
                    f"message to {self._topic} refused: {describe(err)}", code=error_name(err)
                ) from None

    def _produce_locked(self, payload: bytes, ack: Callable[[Any, Any], None] | None, headers: Headers = None) -> None:
        """One produce() in flight (see _in_flight): BufferError when the queue is full, KafkaException when refused.

        disconnect() waits for it after setting _closed, so the producer is never closed under it.
        """
        in_flight = self._in_flight
        in_flight.append(None)
        try:
            if self._closed:
                raise BusClosedError("the bus is disconnected")
            if headers is not None:
                self._producer.produce(self._topic, payload, headers=headers, on_delivery=ack)
            elif ack is None:
                self._producer.produce(self._topic, payload)
            else:
                self._producer.produce(self._topic, payload, on_delivery=ack)
            self._note_accepted()
        finally:
            in_flight.pop()

    def _produce_once(self, payload: bytes, ack: Callable[[Any, Any], None] | None) -> bool:
        """_produce_locked; False if the careful path (_produce) must handle it: a full queue, a refusal."""
        try:
            self._produce_locked(payload, ack)
        except (BufferError, KafkaException):
            return False
        return True

    def _count(self, failed: int = 0) -> None:
        with self._failed_lock:
            self._failed_acked += failed

    def _on_failed_delivery(self, err: Any, msg: Any) -> None:
        # NonBlocking: only failures are reported (delivery.report.only.error).
        if err is None:
            return
        with self._failed_lock:
            self._failed += 1
        _log.logger().error(
            "NonBlocking message to %s not delivered: %s (%d failed so far)",
            self._topic,
            describe(err),
            self._failed,
        )

    def _serve_reports(self) -> None:
        while not self._stop.is_set():
            try:
                self._producer.poll(_POLL_INTERVAL)
            except Exception:
                # A raising callback must not end delivery reporting.
                _log.logger().exception("error while serving delivery reports on %s", self._topic)

    def _write_with_headers(self, payload: bytes, headers: list[tuple[str, bytes]]) -> None:
        """Write ``payload`` with Kafka ``headers`` and wait for its acknowledgement, whatever the blocking mode.

        For dead letters (msgbus._handling) and ``msgbus replay``; raises ``DeliveryError`` if not delivered.
        """
        ack = Acknowledgement()
        self._produce(payload, ack, list(headers))
        self._await(ack)
