"""The failure policy (``on_handler_error``) in the conformance kit: what every backend does alike."""

from __future__ import annotations

import threading
import uuid

import msgbus

from .kit import WAIT, BusBackend, read_n, wait_until

__all__ = ["HandlerFailureTests"]

# Short back-offs: these tests count attempts, not time.
_BACKOFF = 0.02


class HandlerFailureTests:
    """Retries, dead letters and Stop, through the callback and ``for msg in reader`` (``BusConformance`` has them)."""

    def test_a_failing_callback_is_retried_in_order(self, backend: BusBackend, topic: str) -> None:
        reader = backend.reader(
            topic, on_handler_error=msgbus.Retry(attempts=4, backoff=_BACKOFF, max_backoff=5 * _BACKOFF)
        )
        writer = backend.writer(topic)
        seen: list[str] = []
        left = {"1": 2}
        lock = threading.Lock()

        def handler(msg: str) -> None:
            with lock:
                seen.append(msg)
            if left.get(msg, 0):
                left[msg] -= 1
                raise RuntimeError("not yet")

        reader.register_cb(handler)
        for i in range(3):
            writer.message_write(str(i))
        wait_until(lambda: seen[-1:] == ["2"], "all three handled")
        assert seen == ["0", "1", "1", "1", "2"]
        assert reader.stats().retried == 2

    def test_a_dead_letter_keeps_the_text_and_the_group_moves_past_it(self, backend: BusBackend, topic: str) -> None:
        dlq = f"{topic}.dlq"
        group = f"g-{uuid.uuid4().hex}"
        dead_reader = backend.reader(dlq, offset_reset="earliest")
        policy = msgbus.Retry(attempts=2, backoff=_BACKOFF, max_backoff=5 * _BACKOFF, then=msgbus.DeadLetter(dlq))
        reader = backend.reader(topic, group_id=group, on_handler_error=policy)
        writer = backend.writer(topic)
        handled: list[str] = []

        def handler(msg: str) -> None:
            if msg.startswith("bad"):
                raise ValueError(msg)
            handled.append(msg)

        reader.register_cb(handler)
        for msg in ("ok", "bad ✗", "fine"):
            writer.message_write(msg)
        wait_until(lambda: handled == ["ok", "fine"], "the good messages")
        assert read_n(dead_reader, 1) == ["bad ✗"]
        wait_until(lambda: reader.stats().dead_lettered == 1, "one dead letter counted")
        reader.disconnect()
        again = backend.reader(topic, group_id=group)
        writer.message_write("later")
        assert again.message_read(timeout=WAIT) == "later"

    def test_stop_leaves_the_message_to_the_group(self, backend: BusBackend, topic: str) -> None:
        group = f"g-{uuid.uuid4().hex}"
        reader = backend.reader(topic, group_id=group, on_handler_error=msgbus.Stop())
        writer = backend.writer(topic)
        for msg in ("a", "poison", "b"):
            writer.message_write(msg)
        got: list[str] = []
        try:
            for msg in reader:
                got.append(msg)
                if msg == "poison":
                    raise KeyError(msg)
        except KeyError:
            pass
        assert got == ["a", "poison"]
        try:
            reader.message_read(timeout=WAIT)
            raise AssertionError("a stopped reader's message_read must raise HandlerError")
        except msgbus.HandlerError as exc:
            assert exc.offset >= 0
        assert reader.status() is msgbus.StatusClosed
        reader.disconnect()
        again = backend.reader(topic, group_id=group)
        assert read_n(again, 2) == ["poison", "b"]
