"""The failure policy (issue 13) on the in-process bus: back-off, validation, the callback."""

from __future__ import annotations

import time
from typing import Any

import pytest
from handler_support import WAIT, bounded, headers_of, wait_for

import msgbus
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
    wait_for(lambda: seen[-1:] == ["3"], "all four handled")
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
    wait_for(lambda: handled == ["a", "b"], "the good ones handled")
    assert msgbus_memory.messages(dlq) == ["bad ✗"]
    (headers,) = headers_of(msgbus_memory, dlq)
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
    wait_for(lambda: reader.status() is msgbus.StatusClosed, "the reader to stop")
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
    wait_for(lambda: calls == [texts[0]], "the first attempt")
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
    wait_for(lambda: seen == ["a", "b"], "both, once each")
    wait_for(lambda: reader.stats().dropped == 2, "two dropped")
    assert reader.stats().retried == 0
