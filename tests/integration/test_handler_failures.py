"""Issue 13 against a real broker: retries, the dead-letter topic, a SIGKILL during a retry, Stop, replay."""

from __future__ import annotations

import functools
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

import msgbus
from msgbus import _cli
from msgbus.testing import LocalKafka

from .helpers import READ_TIMEOUT, BusFactory, raw_produce, raw_read_all, run_bounded, wait_until

# Short back-offs: the tests count attempts, not time.
BACKOFF = 0.05
SCRIPT = Path(__file__).with_name("_proc_handler.py")
F = TypeVar("F", bound=Callable[..., None])


def bounded(test: F) -> F:
    """Fail the test, not hang it, when a broken policy leaves a loop waiting for ever."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        run_bounded(lambda: test(*args, **kwargs), 180)

    return run  # type: ignore[return-value]


def _group() -> str:
    return f"g-{uuid.uuid4().hex[:8]}"


def _raw_records(
    kafka: LocalKafka, topic: str, count: int, timeout: float = 20
) -> list[tuple[bytes, dict[str, bytes]]]:
    """The first ``count`` messages of partition 0 with their headers, from a plain consumer."""
    consumer = Consumer(
        {
            "bootstrap.servers": kafka.bootstrap_servers,
            "group.id": f"raw-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    out: list[tuple[bytes, dict[str, bytes]]] = []
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        deadline = time.monotonic() + timeout
        while len(out) < count:
            assert time.monotonic() < deadline, f"raw consumer got only {len(out)} of {count} messages"
            for msg in consumer.consume(count - len(out), 0.2):
                assert msg.error() is None, msg.error()
                value = msg.value()
                assert isinstance(value, bytes)
                raw_headers = msg.headers() or []
                assert isinstance(raw_headers, list)
                headers = {name: value for name, value in raw_headers if isinstance(value, bytes)}
                out.append((value, headers))
        return out
    finally:
        consumer.close()


@bounded
def test_a_callback_failing_k_times_then_succeeding(buses: BusFactory, topic: str) -> None:
    buses.kafka.create_topic(topic)
    reader = buses.reader(
        topic, group_id=_group(), on_handler_error=msgbus.Retry(attempts=5, backoff=BACKOFF, max_backoff=4 * BACKOFF)
    )
    writer = buses.writer(topic)
    seen: list[str] = []
    failures = {"m2": 3}

    def handler(msg: str) -> None:
        seen.append(msg)
        if failures.get(msg, 0):
            failures[msg] -= 1
            raise RuntimeError(f"not yet: {msg}")

    reader.register_cb(handler)
    writer.message_write_many(f"m{i}" for i in range(6))
    wait_until(lambda: seen[-1:] == ["m5"], READ_TIMEOUT, "every message handled")
    # Delivered once more after each of its 3 failures; the ones behind it waited: order kept.
    assert seen == ["m0", "m1", "m2", "m2", "m2", "m2", "m3", "m4", "m5"]
    stats = reader.stats()
    assert (stats.retried, stats.dead_lettered, stats.dropped) == (3, 0, 0)


@bounded
def test_always_failing_ends_in_the_dead_letter_topic_and_is_committed(kafka: LocalKafka, topic: str) -> None:
    dlq = topic + ".dlq"
    kafka.create_topic(topic)
    kafka.create_topic(dlq)
    group = _group()
    bad = b"bad \xff\xfe not UTF-8 \xe2\x9c\x93"
    raw_produce(kafka, topic, [b"good 1", bad, b"good 2"])
    policy = msgbus.Retry(attempts=3, backoff=BACKOFF, max_backoff=4 * BACKOFF, then=msgbus.DeadLetter(dlq))
    before = time.time() * 1000
    with BusFactory(kafka) as buses:
        reader = buses.reader(topic, group_id=group, offset_reset="earliest", on_handler_error=policy)
        handled: list[str] = []

        def handler(msg: str) -> None:
            if msg.startswith("bad"):
                raise LookupError("cannot handle " + "x" * 3000)
            handled.append(msg)

        reader.register_cb(handler)
        wait_until(lambda: handled == ["good 1", "good 2"], READ_TIMEOUT * 2, "the good messages handled")
        stats = reader.stats()
        assert (stats.retried, stats.dead_lettered, stats.dropped) == (2, 1, 0)
    ((value, headers),) = _raw_records(kafka, dlq, 1)
    assert value == bad  # byte for byte
    assert headers["msgbus.original.topic"] == topic.encode()
    assert (headers["msgbus.original.partition"], headers["msgbus.original.offset"]) == (b"0", b"1")
    assert headers["msgbus.error.type"] == b"LookupError"
    message = headers["msgbus.error.message"]
    assert message.startswith(b"cannot handle xxx") and len(message) == 1024
    assert headers["msgbus.attempts"] == b"3"
    assert before - 1000 <= int(headers["msgbus.first.failure"]) <= time.time() * 1000
    # Committed: a new reader of the group starts after all three.
    with BusFactory(kafka) as buses:
        again = buses.reader(topic, group_id=group, offset_reset="earliest")
        raw_produce(kafka, topic, [b"after"])
        assert again.message_read(timeout=READ_TIMEOUT) == "after"


@bounded
def test_sigkill_during_a_retry_then_restart_loses_nothing(kafka: LocalKafka, topic: str, tmp_path: Path) -> None:
    kafka.create_topic(topic)
    group = _group()
    sent = [f"m{i}" for i in range(10)]
    raw_produce(kafka, topic, [m.encode() for m in sent])
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    procs: list[subprocess.Popen[str]] = []

    def start(out: Path, poison: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), kafka.bootstrap_servers, topic, group, str(out), poison],
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", "the reader process did not connect"
        return proc

    def lines(path: Path) -> list[str]:
        return path.read_text(encoding="utf-8").splitlines() if path.exists() else []

    try:
        proc = start(first, "m4")
        assert proc.stdout is not None
        got: list[str] = []
        # The first failure of m4, then a few auto-commit intervals into its 30 s back-off.
        watcher = threading.Thread(target=lambda: got.append(proc.stdout.readline() if proc.stdout else ""))
        watcher.start()
        watcher.join(60)
        assert got == ["failing\n"], f"the reader process did not reach m4: {got}"
        time.sleep(3)
        proc.kill()
        proc.wait(10)
        assert lines(first) == sent[:4]  # the ones before m4, and nothing after it
        start(second, "-")
        wait_until(lambda: lines(second)[-1:] == ["m9"], 60, "the restarted reader to read up to m9")
        time.sleep(1)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)
    # m4 was never committed: it comes back, with everything after it, in order.
    assert lines(second) == sent[4:]


@bounded
def test_a_stop_on_failure_reader(buses: BusFactory, topic: str) -> None:
    buses.kafka.create_topic(topic)
    group = _group()
    policy = msgbus.Retry(attempts=2, backoff=BACKOFF, max_backoff=4 * BACKOFF, then=msgbus.Stop())
    reader = buses.reader(topic, group_id=group, on_handler_error=policy)
    writer = buses.writer(topic)
    writer.message_write_many(["ok", "poison", "after"])
    seen: list[str] = []
    for _ in range(2):
        try:
            for msg in reader:
                seen.append(msg)
                if msg == "poison":
                    raise ValueError("cannot")
        except ValueError:
            pass
    assert seen == ["ok", "poison", "poison"]
    try:
        for msg in reader:
            seen.append(msg)
        raise AssertionError("the loop should have raised HandlerError")
    except msgbus.HandlerError as exc:
        assert (exc.topic, exc.partition, exc.offset, exc.attempts) == (topic, 0, 1, 2)
        assert "offset 1" in str(exc) and "Stop" in str(exc)
    try:
        reader.message_read(timeout=1)
        raise AssertionError("message_read should have raised HandlerError")
    except msgbus.HandlerError:
        pass
    assert reader.status() is msgbus.StatusClosed
    assert seen == ["ok", "poison", "poison"]  # "after" was never handed out
    started = time.monotonic()
    reader.disconnect()
    assert time.monotonic() - started < 30
    # The failed message was not committed: the group reads it again, then the rest.
    again = buses.reader(topic, group_id=group)
    assert [again.message_read(timeout=READ_TIMEOUT) for _ in range(2)] == ["poison", "after"]


def _replay(kafka: LocalKafka, *argv: str) -> int:
    try:
        return _cli.main(["replay", "--bootstrap", kafka.bootstrap_servers, *argv])
    finally:
        msgbus.set_logger(None)  # the command sets its own (quiet) logger for the process


@bounded
def test_replay_round_trips_the_bytes(kafka: LocalKafka, topic: str) -> None:
    dlq, target = topic + ".dlq", topic + ".again"
    for name in (topic, dlq, target):
        kafka.create_topic(name)
    originals = [b"poison \xff one", "poison ✓ two".encode(), b"poison three"]
    raw_produce(kafka, topic, [*originals, b"fine"])
    policy = msgbus.DeadLetter(dlq)
    with BusFactory(kafka) as buses:
        reader = buses.reader(topic, group_id=_group(), offset_reset="earliest", on_handler_error=policy)
        handled: list[str] = []

        def handler(msg: str) -> None:
            if msg.startswith("poison"):
                raise RuntimeError("no")
            handled.append(msg)

        reader.register_cb(handler)
        wait_until(lambda: handled == ["fine"], READ_TIMEOUT * 2, "the fine message")
        assert reader.stats().dead_lettered == 3
    group = _group()
    assert _replay(kafka, "--from", dlq, "--to", target, "--group", group, "--idle", "3") == 0
    records = _raw_records(kafka, target, 3)
    assert [value for value, _ in records] == originals  # byte for byte, in order
    assert all(headers == {} for _, headers in records)  # the msgbus.* headers are not replayed
    # Replayed ones were committed: the same group replays nothing more.
    assert _replay(kafka, "--from", dlq, "--to", target, "--group", group, "--idle", "3") == 0
    assert raw_read_all(kafka, target, 3) == originals
    # -n stops after N (a fresh group starts at the beginning again).
    assert _replay(kafka, "--from", dlq, "--to", target, "--group", _group(), "-n", "1") == 0
    assert [value for value, _ in _raw_records(kafka, target, 4)] == [*originals, originals[0]]
