"""KafkaWriter's pipelined writes: many messages queued at once, then every acknowledgement awaited.

``message_write_many`` (Blocking: one DeliveryError saying how many arrived) and
``message_write_tracked`` (a result per message, for ``msgbus write``). Every
produce() still goes through the writer's gate (``_produce_once``, ``_produce``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..._config import MsgBusConfig
from ..._errors import DeliveryError
from ._acks import Acknowledgements, encode_fast
from ._errors import error_name
from ._tracked import write_tracked

#: A Blocking write waits this much longer than message.timeout.ms, which librdkafka
#: guarantees to end with a delivery report.
REPORT_GRACE = 5.0


class PipelinedWrites:
    """The pipelined writes; KafkaWriter sets the fields below and defines (or inherits) the methods declared."""

    _blocking: bool
    _cfg: MsgBusConfig
    _topic: str

    if TYPE_CHECKING:
        # Defined by the class this one is mixed into (or its bases); declared here for the type checker.
        def _check_open(self) -> None: ...

        def _produce_once(self, payload: bytes, ack: Callable[[Any, Any], None] | None) -> bool: ...

        def _produce(self, payload: bytes, ack: Callable[[Any, Any], None] | None, headers: Any = None) -> None: ...

        def _count(self, failed: int = 0, delivered: int = 0, code: str | None = None) -> None: ...

        def _why(self, err: Any) -> str: ...

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
            done = acks.expect(count, self._cfg.write_timeout + REPORT_GRACE)
            self._count(
                failed=acks.failed, delivered=acks.delivered, code=error_name(acks.first_error) if acks.failed else None
            )
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
                f"{self._why(acks.first_error)}",
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

        count, failed = write_tracked(msgs, encode_fast, produce, self._cfg.write_timeout + REPORT_GRACE)
        self._count(failed=len(failed), delivered=count - len(failed), code="_MSG_TIMED_OUT" if failed else None)
        return count, failed
