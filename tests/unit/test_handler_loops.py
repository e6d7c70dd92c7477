"""The failure policy (issue 13) on the in-process bus: loops, aio, run(handler) and the retry warnings."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest
from handler_support import FAST, WAIT, bounded, headers_of, wait_for

import msgbus
from msgbus import aio
from msgbus._failure import (
    HEADER_ATTEMPTS,
    HEADER_ERROR_MESSAGE,
    HEADER_ERROR_TYPE,
)
from msgbus.testing import MemoryBus

# -- loops ------------------------------------------------------------------------------


@bounded
def test_a_loop_left_hands_the_message_back_then_dead_letters_it(msgbus_memory: MemoryBus, msgbus_topic: str) -> None:
    dlq = msgbus_topic + ".dlq"
    reader = msgbus_memory.reader(
        msgbus_topic, on_handler_error=msgbus.Retry(attempts=3, backoff=0.01, then=msgbus.DeadLetter(dlq))
    )
    writer = msgbus_memory.writer(msgbus_topic)
    for msg in ("a", "bad", "b"):
        writer.message_write(msg)
    handled: list[str] = []
    tries = 0
    while len(handled) < 2:
        assert tries < 10
        tries += 1
        try:
            for msg in reader:
                if msg == "bad":
                    raise ValueError(msg)
                handled.append(msg)
                if msg == "b":
                    break
        except ValueError:
            pass
    # Three loops failed on it; the fourth wrote it to the dead-letter topic and went on.
    assert handled == ["a", "b"] and tries == 4
    assert msgbus_memory.messages(dlq) == ["bad"]
    (headers,) = headers_of(msgbus_memory, dlq)
    assert headers[HEADER_ATTEMPTS] == b"3" and headers[HEADER_ERROR_TYPE] == b"msgbus.LoopLeft"
    stats = reader.stats()
    # The break while holding "b" counted as a failed attempt of "b" too: it comes again.
    assert (stats.retried, stats.dead_lettered) == (3, 1)
    assert reader.message_read(timeout=WAIT) == "b"


@bounded
def test_a_loop_keeps_the_order_and_the_commit(msgbus_memory: MemoryBus, msgbus_topic: str) -> None:
    group = "g-loop"
    reader = msgbus_memory.reader(msgbus_topic, group_id=group, on_handler_error=FAST)
    writer = msgbus_memory.writer(msgbus_topic)
    for msg in ("a", "b", "c"):
        writer.message_write(msg)
    seen: list[str] = []
    for _ in range(2):
        with pytest.raises(RuntimeError):
            for msg in reader:
                seen.append(msg)
                if msg == "b":
                    raise RuntimeError
    assert seen == ["a", "b", "b"]
    # message_read gets the handed-back message first.
    assert reader.message_read(timeout=WAIT) == "b"


@bounded
def test_a_stopped_loop_raises_handler_error(msgbus_memory: MemoryBus, msgbus_topic: str) -> None:
    reader = msgbus_memory.reader(msgbus_topic, on_handler_error=msgbus.Stop())
    writer = msgbus_memory.writer(msgbus_topic)
    writer.message_write("x")
    with pytest.raises(RuntimeError):
        for _ in reader:
            raise RuntimeError
    with pytest.raises(msgbus.HandlerError):
        for _ in reader:
            pass
    with pytest.raises(msgbus.HandlerError):
        reader.message_read(timeout=0.1)
    assert reader.status() is msgbus.StatusClosed


@bounded
def test_a_loop_back_off_ends_at_disconnect(msgbus_memory: MemoryBus, msgbus_topic: str) -> None:
    reader = msgbus_memory.reader(msgbus_topic, on_handler_error=msgbus.Retry(backoff=60, max_backoff=60))
    writer = msgbus_memory.writer(msgbus_topic)
    writer.message_write("x")
    with pytest.raises(RuntimeError):
        for _ in reader:
            raise RuntimeError
    got: list[str] = []
    thread = threading.Thread(target=lambda: got.extend(reader))
    thread.start()
    time.sleep(0.2)
    reader.disconnect()
    thread.join(5)
    assert not thread.is_alive() and got == []


# -- aio ---------------------------------------------------------------------------------


@bounded
def test_aio_loop_retries_then_drops(msgbus_memory: MemoryBus, msgbus_topic: str) -> None:
    async def main() -> tuple[list[str], msgbus.BusStats]:
        reader = await aio.connect(msgbus_memory.config(msgbus_topic, msgbus.BusReader, on_handler_error=FAST))
        writer = msgbus_memory.writer(msgbus_topic)
        for msg in ("a", "bad", "b"):
            writer.message_write(msg)
        seen: list[str] = []
        try:
            while "b" not in seen:
                try:
                    async for msg in reader:
                        seen.append(msg)
                        if msg == "bad":
                            raise ValueError
                        if msg == "b":
                            break
                except ValueError:
                    pass
            return seen, reader.stats()
        finally:
            await reader.disconnect()

    seen, stats = asyncio.run(asyncio.wait_for(main(), WAIT))
    assert seen == ["a", "bad", "bad", "bad", "b"]
    assert (stats.retried, stats.dropped) == (2, 1)


# -- run(handler) ------------------------------------------------------------------------


@bounded
def test_run_sees_the_exception_retries_and_dead_letters(msgbus_memory: MemoryBus, msgbus_topic: str) -> None:
    dlq = msgbus_topic + ".dlq"
    policy = msgbus.Retry(attempts=3, backoff=0.01, then=msgbus.DeadLetter(dlq))
    reader = msgbus_memory.reader(msgbus_topic, on_handler_error=policy)
    writer = msgbus_memory.writer(msgbus_topic)
    seen: list[str] = []
    flaky = {"flaky": 2}

    def handler(msg: str) -> None:
        seen.append(msg)
        if msg == "bad":
            raise ArithmeticError("always")
        if flaky.get(msg):
            flaky[msg] -= 1
            raise RuntimeError("twice")
        if msg == "end":
            threading.Thread(target=reader.disconnect).start()

    for msg in ("a", "bad", "flaky", "end"):
        writer.message_write(msg)
    reader.run(handler)  # returns once disconnected
    assert seen == ["a", "bad", "bad", "bad", "flaky", "flaky", "flaky", "end"]
    (headers,) = headers_of(msgbus_memory, dlq)
    assert headers[HEADER_ERROR_TYPE] == b"ArithmeticError" and headers[HEADER_ERROR_MESSAGE] == b"always"
    stats = reader.stats()
    assert (stats.retried, stats.dead_lettered, stats.dropped) == (4, 1, 0)


@bounded
def test_run_with_stop_raises_handler_error_from_the_cause(msgbus_memory: MemoryBus, msgbus_topic: str) -> None:
    reader = msgbus_memory.reader(msgbus_topic, on_handler_error=msgbus.Stop())
    msgbus_memory.writer(msgbus_topic).message_write("x")

    def handler(msg: str) -> None:
        raise OSError("disk full")

    with pytest.raises(msgbus.HandlerError, match="disk full") as caught:
        reader.run(handler)
    assert isinstance(caught.value.__cause__, OSError)
    with pytest.raises(msgbus.HandlerError):
        reader.message_read(timeout=0.1)


@bounded
def test_run_with_the_default_policy_drops_and_goes_on(msgbus_memory: MemoryBus, msgbus_topic: str) -> None:
    reader = msgbus_memory.reader(msgbus_topic)
    writer = msgbus_memory.writer(msgbus_topic)
    seen: list[str] = []

    def handler(msg: str) -> None:
        seen.append(msg)
        if msg == "end":
            threading.Thread(target=reader.disconnect).start()
        else:
            raise RuntimeError

    writer.message_write("a")
    writer.message_write("end")
    reader.run(handler)
    assert seen == ["a", "end"] and reader.stats().dropped == 1


def test_aio_run_retries_then_stops(msgbus_memory: MemoryBus, msgbus_topic: str) -> None:
    async def main() -> tuple[list[str], BaseException | None, msgbus.BusStats]:
        policy = msgbus.Retry(attempts=2, backoff=0.01, then=msgbus.Stop())
        reader = await aio.connect(msgbus_memory.config(msgbus_topic, msgbus.BusReader, on_handler_error=policy))
        writer = msgbus_memory.writer(msgbus_topic)
        for msg in ("a", "bad", "b"):
            writer.message_write(msg)
        seen: list[str] = []

        async def handler(msg: str) -> None:
            seen.append(msg)
            if msg == "bad":
                raise ValueError("nope")

        try:
            await reader.run(handler)
        except msgbus.HandlerError as exc:
            return seen, exc.__cause__, reader.stats()
        finally:
            await reader.disconnect()
        raise AssertionError("run should have raised HandlerError")

    seen, cause, stats = asyncio.run(asyncio.wait_for(main(), WAIT))
    assert seen == ["a", "bad", "bad"] and isinstance(cause, ValueError)
    assert stats.retried == 1


# -- retry warnings: throttled, and the same from every face (issue 18) --------------------------------


def _retry_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "trying again in" in r.getMessage()]


@bounded
def test_retry_warnings_of_a_fast_retrying_callback_are_throttled(
    msgbus_memory: MemoryBus, msgbus_topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    policy = msgbus.Retry(attempts=200, backoff=0.001, max_backoff=0.001)
    reader = msgbus_memory.reader(msgbus_topic, on_handler_error=policy)
    writer = msgbus_memory.writer(msgbus_topic)
    calls: list[str] = []

    def handler(msg: str) -> None:
        calls.append(msg)
        raise RuntimeError("always")

    with caplog.at_level(logging.WARNING, logger="msgbus"):
        reader.register_cb(handler)
        writer.message_write("x")
        wait_for(lambda: reader.stats().dropped == 1, "the message dropped after its 200 attempts")
    assert len(calls) == 200
    # 199 retries in well under the throttle's window: one line (the repeats are counted, not logged).
    assert len(_retry_lines(caplog)) == 1, _retry_lines(caplog)


@pytest.mark.asyncio
async def test_aio_run_logs_its_retries_as_the_sync_loops_do(
    msgbus_memory: MemoryBus, msgbus_topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    reader = aio.AsyncMsgBus(msgbus_memory.reader(msgbus_topic, on_handler_error=FAST))
    msgbus_memory.writer(msgbus_topic).message_write("x")
    tries: list[str] = []

    async def handler(msg: str) -> None:
        tries.append(msg)
        if len(tries) < 3:
            raise RuntimeError("not yet")
        await reader.disconnect()

    with caplog.at_level(logging.WARNING, logger="msgbus"):
        await asyncio.wait_for(reader.run(handler), WAIT)
    assert tries == ["x", "x", "x"]
    lines = _retry_lines(caplog)
    assert lines and "the handler raised on" in lines[0], [r.getMessage() for r in caplog.records]
