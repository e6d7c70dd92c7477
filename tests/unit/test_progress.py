"""Inbox.progress(), health() and metrics() on the in-process bus, and headers on write."""

from __future__ import annotations

import re
import threading

import pytest

import msgbus
from msgbus import HealthStatus
from msgbus._backends.base import ReaderBase
from msgbus._ops.progress import Progress
from msgbus.testing import MemoryBus
from msgbus.testing._waits import wait_until


def _progress(reader: msgbus.MsgBusIO) -> Progress:
    assert isinstance(reader, ReaderBase)
    return reader.inbox.progress()


def test_progress_counts_reads_and_what_waits() -> None:
    with MemoryBus() as memory:
        reader = memory.reader("t", offset_reset="earliest")
        writer = memory.writer("t")
        for i in range(3):
            writer.message_write(f"m{i}")
        wait_until(lambda: reader.message_available() == 3, 10, "3 queued")
        assert reader.message_read(timeout=10) == "m0"
        p = _progress(reader)
        assert (p.queued, p.taken, p.finished, p.held) == (2, 1, 1, 0)
        assert p.last_finished_at is not None and p.oldest_held_at is None


def test_a_hanging_callback_is_held_then_stuck_then_released() -> None:
    release = threading.Event()
    with MemoryBus() as memory:
        reader = memory.reader("t", max_hold=0.3, stuck_after=60.0, timings=True)
        memory.writer("t").message_write("hang")

        def hang(msg: str) -> None:
            release.wait(30)

        reader.register_cb(hang)
        wait_until(lambda: _progress(reader).held == 1, 10, "the message held by the callback")
        wait_until(lambda: reader.health().status is HealthStatus.STUCK, 10, "stuck")
        verdict = reader.health()
        assert "held" in verdict.reason and not verdict.live and not reader.healthy()
        assert verdict.figures["oldest_held_age"] is not None and verdict.figures["oldest_held_age"] >= 0.3
        release.set()
        wait_until(lambda: reader.health().status is HealthStatus.IDLE, 10, "idle once released")
        p = _progress(reader)
        assert (p.held, p.finished) == (0, 1)
        metrics = reader.metrics()
        assert isinstance(metrics, msgbus.ReaderMetrics)
        assert metrics.handler.count == 1 and metrics.handler.max >= 0.3


def test_a_loop_holds_its_message_until_it_asks_for_the_next() -> None:
    with MemoryBus() as memory:
        reader = memory.reader("t")
        memory.writer("t").message_write_many(["a", "b"])
        loop = iter(reader)
        assert next(loop) == "a"
        p = _progress(reader)
        assert (p.held, p.finished) == (1, 0) and p.oldest_held_at is not None
        assert next(loop) == "b"
        p = _progress(reader)
        assert (p.held, p.finished, p.taken) == (1, 1, 2)


def test_health_of_an_open_and_a_closed_writer() -> None:
    with MemoryBus() as memory:
        writer = memory.writer("t")
        assert writer.health().status is HealthStatus.IDLE
        writer.message_write("x")
        metrics = writer.metrics()
        assert isinstance(metrics, msgbus.WriterMetrics) and metrics.written == metrics.delivered == 1
        writer.disconnect()
        assert writer.health().status is HealthStatus.CLOSED and not writer.healthy()


def test_headers_on_write_reach_read_record() -> None:
    with MemoryBus() as memory:
        reader = memory.reader("t")
        writer = memory.writer("t")
        headers: dict[str, str | bytes] = {"k": "v", "raw": b"\x00\xff"}
        writer.message_write("hello", headers=headers)
        writer.message_write("pairs", headers=[("k", "1"), ("k", "2")])
        first = reader.read_record(timeout=10)
        second = reader.read_record(timeout=10)
        assert first is not None and second is not None
        assert (first.text, first.headers) == ("hello", (("k", b"v"), ("raw", b"\x00\xff")))
        assert second.headers == (("k", b"1"), ("k", b"2"))


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ("k=v", "mapping or (name, value) pairs"),
        ([("k",)], "header 0 must be a (name, value) pair"),
        ({"": "v"}, "non-empty str"),
        ({"k": 3}, "str or bytes"),
    ],
)
def test_bad_headers_are_refused_naming_what_is_wrong(headers: object, says: str) -> None:
    with MemoryBus() as memory:
        writer = memory.writer("t")
        with pytest.raises(msgbus.InvalidMessageError, match=re.escape(says)):
            writer.message_write("x", headers=headers)  # type: ignore[arg-type]
        assert memory.messages("t") == []
