"""The failure policy (issue 13) on the in-process bus: back-off, validation, the callback, loops, aio."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

import msgbus
from msgbus import aio
from msgbus._backends import memory
from msgbus._failure import (
    HEADER_ATTEMPTS,
    HEADER_ERROR_MESSAGE,
    HEADER_ERROR_TYPE,
    HEADER_FIRST_FAILURE,
    HEADER_OFFSET,
    HEADER_PARTITION,
    HEADER_TOPIC,
    backoff,
    truncate_utf8,
)
from msgbus.testing import MemoryBus

WAIT = 10.0
F = TypeVar("F", bound=Callable[..., None])


def bounded(test: F) -> F:
    """Run the test in a thread and fail it after 2 * WAIT: a broken policy must fail a test, not hang it."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        error: list[BaseException] = []

        def target() -> None:
            try:
                test(*args, **kwargs)
            except BaseException as exc:
                error.append(exc)

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        thread.join(2 * WAIT)
        assert not thread.is_alive(), f"{test.__name__} did not finish within {2 * WAIT:g} s"
        if error:
            raise error[0]

    return run  # type: ignore[return-value]


FAST = msgbus.Retry(attempts=3, backoff=0.01, max_backoff=0.02)


def _wait(predicate: Any, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def _headers(mem: MemoryBus, topic: str) -> list[dict[str, bytes]]:
    return [dict(h) for h in memory.message_headers(memory.address(mem.config(topic, msgbus.BusWriter)), topic)]


# -- back-off and validation -------------------------------------------------------


def test_backoff_doubles_from_backoff_and_is_capped() -> None:
    policy = msgbus.Retry(attempts=10, backoff=0.5, max_backoff=3.0)
    assert [backoff(policy, n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff(policy, 10_000) == 3.0  # no overflow


def test_error_text_is_cut_on_a_character_boundary() -> None:
    cut = truncate_utf8("é" * 1000, 1024)
    assert len(cut) == 1024 and cut.decode("utf-8") == "é" * 512
    assert len(truncate_utf8("é" * 1000, 1023)) == 1022


@pytest.mark.parametrize(
    ("policy", "words"),
    [
        (msgbus.Retry(attempts=0), "attempts"),
        (msgbus.Retry(attempts=2.0), "attempts"),  # type: ignore[arg-type]
        (msgbus.Retry(backoff=0), "backoff"),
        (msgbus.Retry(max_backoff=float("nan")), "max_backoff"),
        # Too short to be meant: a busy loop of retries and warnings (issue 18).
        (msgbus.Retry(attempts=10**9, backoff=1e-9, max_backoff=1e-9), "at least 0.001 s"),
        (msgbus.Retry(backoff=0.5, max_backoff=0.0001), "max_backoff must be at least"),
        (msgbus.Retry(backoff=2.0, max_backoff=1.0), "must not be less than backoff"),
        (msgbus.Retry(then=msgbus.Retry()), "another Retry"),  # type: ignore[arg-type]
        (msgbus.DeadLetter(""), "non-empty"),
        (msgbus.Retry(then=msgbus.DeadLetter("events")), "own topic"),
        (msgbus.DeadLetter(b"x"), "non-empty str"),  # type: ignore[arg-type]
        ("retry", "not str"),
    ],
)
def test_a_bad_policy_is_a_config_error_naming_the_field(policy: Any, words: str) -> None:
    cfg = msgbus.MsgBusConfig(topic="events", direction=msgbus.BusReader, on_handler_error=policy)
    with pytest.raises(msgbus.ConfigError, match="on_handler_error") as caught:
        cfg.validate()
    assert words in str(caught.value)


def test_good_policies_validate() -> None:
    for policy in (msgbus.Drop(), msgbus.Stop(), msgbus.DeadLetter("events.dlq"), msgbus.Retry(then=msgbus.Stop())):
        msgbus.MsgBusConfig(topic="events", direction=msgbus.BusReader, on_handler_error=policy).validate()


# -- the callback ---------------------------------------------------------------------


@bounded
def test_callback_retried_k_times_then_succeeds_in_order(msgbus_memory: MemoryBus, msgbus_topic: str) -> None:
    reader = msgbus_memory.reader(msgbus_topic, on_handler_error=msgbus.Retry(attempts=5, backoff=0.01))
    writer = msgbus_memory.writer(msgbus_topic)
    seen: list[str] = []
    fails = {"1": 3}

    def handler(msg: str) -> None:
        seen.append(msg)
        if fails.get(msg, 0) > 0:
            fails[msg] -= 1
            raise RuntimeError("not yet")

    reader.register_cb(handler)
    for i in range(4):
        writer.message_write(str(i))
    _wait(lambda: seen[-1:] == ["3"], "all four handled")
    assert seen == ["0", "1", "1", "1", "1", "2", "3"]
    stats = reader.stats()
    assert (stats.retried, stats.dead_lettered, stats.dropped) == (3, 0, 0)


@bounded
def test_callback_dead_letter_keeps_bytes_and_headers(msgbus_memory: MemoryBus, msgbus_topic: str) -> None:
    dlq = msgbus_topic + ".dlq"
    reader = msgbus_memory.reader(
        msgbus_topic, on_handler_error=msgbus.Retry(attempts=2, backoff=0.01, then=msgbus.DeadLetter(dlq))
    )
    writer = msgbus_memory.writer(msgbus_topic)
    handled: list[str] = []

    def handler(msg: str) -> None:
        if msg == "bad ✗":
            raise ValueError("no " + "x" * 2000)
        handled.append(msg)

    reader.register_cb(handler)
    for msg in ("a", "bad ✗", "b"):
        writer.message_write(msg)
    _wait(lambda: handled == ["a", "b"], "the good ones handled")
    assert msgbus_memory.messages(dlq) == ["bad ✗"]
    (headers,) = _headers(msgbus_memory, dlq)
    assert headers[HEADER_TOPIC] == msgbus_topic.encode()
    assert (headers[HEADER_PARTITION], headers[HEADER_OFFSET], headers[HEADER_ATTEMPTS]) == (b"0", b"1", b"2")
    assert headers[HEADER_ERROR_TYPE] == b"ValueError"
    assert headers[HEADER_ERROR_MESSAGE].startswith(b"no xxx") and len(headers[HEADER_ERROR_MESSAGE]) == 1024
    assert abs(int(headers[HEADER_FIRST_FAILURE]) - time.time() * 1000) < 60_000
    stats = reader.stats()
    assert (stats.retried, stats.dead_lettered, stats.dropped) == (1, 1, 0)


@bounded
def test_callback_stop_stops_the_reader_and_does_not_commit(msgbus_memory: MemoryBus, msgbus_topic: str) -> None:
    group = "g-stop"
    reader = msgbus_memory.reader(
        msgbus_topic, group_id=group, on_handler_error=msgbus.Retry(attempts=2, backoff=0.01, then=msgbus.Stop())
    )
    writer = msgbus_memory.writer(msgbus_topic)
    seen: list[str] = []

    def handler(msg: str) -> None:
        seen.append(msg)
        if msg == "poison":
            raise KeyError(msg)

    reader.register_cb(handler)
    for msg in ("a", "poison", "b"):
        writer.message_write(msg)
    _wait(lambda: reader.status() is msgbus.StatusClosed, "the reader to stop")
    time.sleep(0.1)
    assert seen == ["a", "poison", "poison"]  # b never reached the callback
    reader.unregister_cb()
    with pytest.raises(msgbus.HandlerError, match="offset 1") as caught:
        reader.message_read(timeout=1)
    assert isinstance(caught.value.__cause__, KeyError)
    assert (caught.value.partition, caught.value.offset, caught.value.attempts) == (0, 1, 2)
    reader.disconnect()
    # Not committed: the group reads the failed message again, and what came after it.
    again = msgbus_memory.reader(msgbus_topic, group_id=group)
    assert [again.message_read(timeout=WAIT) for _ in range(2)] == ["poison", "b"]


def _waiting_for_a_retry(memory: MemoryBus, topic: str, *texts: str) -> tuple[msgbus.MsgBusIO, list[str]]:
    """A reader whose callback always raises, in a 60 s back-off after its first attempt on ``texts[0]``."""
    reader = memory.reader(topic, on_handler_error=msgbus.Retry(attempts=3, backoff=60, max_backoff=60))
    writer = memory.writer(topic)
    calls: list[str] = []

    def handler(msg: str) -> None:
        calls.append(msg)
        raise RuntimeError

    reader.register_cb(handler)
    for text in texts:
        writer.message_write(text)
    _wait(lambda: calls == [texts[0]], "the first attempt")
    return reader, calls


@bounded
def test_disconnect_does_not_wait_for_a_back_off(msgbus_memory: MemoryBus, msgbus_topic: str) -> None:
    reader, calls = _waiting_for_a_retry(msgbus_memory, msgbus_topic, "x")
    started = time.monotonic()
    reader.disconnect()
    assert time.monotonic() - started < 3.0
    assert calls == ["x"]


@bounded
def test_unregister_during_back_off_hands_the_message_to_message_read(
    msgbus_memory: MemoryBus, msgbus_topic: str
) -> None:
    reader, _calls = _waiting_for_a_retry(msgbus_memory, msgbus_topic, "x", "y")
    reader.unregister_cb()
    assert [reader.message_read(timeout=WAIT), reader.message_read(timeout=WAIT)] == ["x", "y"]


@bounded
def test_default_drop_counts_and_goes_on(msgbus_memory: MemoryBus, msgbus_topic: str) -> None:
    reader = msgbus_memory.reader(msgbus_topic)
    writer = msgbus_memory.writer(msgbus_topic)
    seen: list[str] = []

    def handler(msg: str) -> None:
        seen.append(msg)
        raise RuntimeError

    reader.register_cb(handler)
    writer.message_write("a")
    writer.message_write("b")
    _wait(lambda: seen == ["a", "b"], "both, once each")
    _wait(lambda: reader.stats().dropped == 2, "two dropped")
    assert reader.stats().retried == 0


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
    (headers,) = _headers(msgbus_memory, dlq)
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
    (headers,) = _headers(msgbus_memory, dlq)
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
        _wait(lambda: reader.stats().dropped == 1, "the message dropped after its 200 attempts")
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
