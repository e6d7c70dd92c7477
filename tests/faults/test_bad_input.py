"""Scenario 7: bad input. Each case gives a clear exception or documented behaviour,
with no hang, no dead thread and nothing lost."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from integration.helpers import BusFactory, make_config, msgbus_threads, read_n, run_bounded, wait_until

import msgbus
from msgbus.testing import LocalKafka

from .conftest import FaultReport
from .helpers import Figures, seq_msg, seq_of

# One wrong type for every MsgBusConfig field.
WRONG_TYPES: dict[str, object] = {
    "bus_tech": "kafka",
    "host": 127001,
    "port": "9092",
    "blocking": "yes",
    "direction": None,
    "connect_retries": 1.5,
    "topic": b"events",
    "group_id": 5,
    "connect_timeout": "10",
    "write_timeout": None,
    "flush_timeout": [30],
    "read_queue_size": "1000",
    "on_handler_error": "retry",
    "bootstrap_servers": 9092,
    "offset_reset": 0,
    "security_protocol": None,
    "sasl_mechanism": 1,
    "sasl_username": 1,
    "sasl_password": 1,
    "ssl_ca_location": 1,
    "ssl_certificate_location": 1,
    "ssl_key_location": 1,
    "ssl_key_password": 1,
    "kafka_settings": [("linger.ms", 1)],
    "group_protocol": 1,
    "stuck_after": "60",
    "max_hold": None,
    "timings": "yes",
    "tracing": 1,
}
# Values of the right type that are still wrong.
BAD_VALUES: list[tuple[str, object]] = [
    ("port", -1),
    ("port", 70000),
    ("connect_retries", -1),
    ("read_queue_size", 0),
    ("connect_timeout", -1.0),
    ("write_timeout", float("nan")),
    ("flush_timeout", float("inf")),
    ("offset_reset", "smallest"),
    ("kafka_settings", {"group.id": "mine"}),
    ("kafka_settings", {1: "x"}),
    ("on_handler_error", msgbus.Retry(attempts=0)),
    ("on_handler_error", msgbus.Retry(backoff=float("nan"))),
    ("on_handler_error", msgbus.Retry(then=msgbus.Retry())),  # type: ignore[arg-type]
    ("on_handler_error", msgbus.DeadLetter("")),
    ("on_handler_error", msgbus.DeadLetter("bad-input")),  # the reader's own topic
    ("on_handler_error", msgbus.DeadLetter("a b")),  # not a Kafka topic name
    ("on_handler_error", msgbus.Retry(backoff=1e-9, max_backoff=1e-9)),  # a busy loop of retries
    ("on_handler_error", msgbus.Retry(backoff=2.0, max_backoff=1.0)),
    ("group_protocol", "cooperative-sticky"),
    ("stuck_after", 0.0),
    ("max_hold", float("inf")),
]
BAD_TOPICS = ["", " ", "a b", "caf\u00e9", "x" * 250, ".", "..", "a/b", "a\nb"]
MAX_MESSAGE = 1_000_000


@pytest.fixture
def buses(kafka: LocalKafka) -> Iterator[BusFactory]:
    before = msgbus_threads()
    factory = BusFactory(kafka)
    try:
        yield factory
    finally:
        factory.close_all()
    # No thread left behind by any case.
    wait_until(lambda: msgbus_threads() <= before, 15, "msgbus threads to end")


def test_every_config_field_has_a_wrong_type_case() -> None:
    assert set(WRONG_TYPES) == {f.name for f in dataclasses.fields(msgbus.MsgBusConfig)}


def _refused(kafka: LocalKafka, **fields: Any) -> msgbus.ConfigError:
    cfg = make_config(kafka, "bad-input", msgbus.BusWriter)
    for name, value in fields.items():
        object.__setattr__(cfg, name, value)
    before = msgbus_threads()
    with pytest.raises(msgbus.ConfigError) as info:
        run_bounded(lambda: msgbus.connect(cfg), 10)
    assert msgbus_threads() == before
    return info.value


@pytest.mark.parametrize("field", sorted(WRONG_TYPES))
def test_wrong_type_in_config_field(kafka: LocalKafka, field: str) -> None:
    err = _refused(kafka, **{field: WRONG_TYPES[field]})
    if field != "sasl_password" and field != "ssl_key_password":
        assert field in str(err) or field.replace("_", " ") in str(err), str(err)


@pytest.mark.parametrize(("field", "value"), BAD_VALUES, ids=[f"{f}={v!r}" for f, v in BAD_VALUES])
def test_bad_value_in_config_field(kafka: LocalKafka, field: str, value: object) -> None:
    _refused(kafka, **{field: value})


@pytest.mark.parametrize("topic", BAD_TOPICS, ids=repr)
def test_invalid_topic_name(kafka: LocalKafka, topic: str) -> None:
    assert "topic" in str(_refused(kafka, topic=topic))


def test_connect_needs_a_config() -> None:
    with pytest.raises(msgbus.ConfigError):
        msgbus.connect({"topic": "x"})  # type: ignore[arg-type]


@pytest.mark.parametrize("blocking", [msgbus.Blocking, msgbus.NonBlocking], ids=["Blocking", "NonBlocking"])
def test_bad_messages_between_good_ones_lose_nothing(
    buses: BusFactory, topic: str, blocking: msgbus.BlockingMode, fault_report: FaultReport
) -> None:
    started = time.monotonic()
    reader = buses.reader(topic)
    writer = buses.writer(topic, blocking)
    bad: list[tuple[object, type[Exception] | None]] = [
        (None, msgbus.InvalidMessageError),
        (b"bytes", msgbus.InvalidMessageError),
        (42, msgbus.InvalidMessageError),
        (3.5, msgbus.InvalidMessageError),
        (["a"], msgbus.InvalidMessageError),
        ("\ud800 lone surrogate is kept", None),  # surrogateescape: written as is
        ("x" * (MAX_MESSAGE + 1), msgbus.DeliveryError),
    ]
    expected: list[str] = []
    attempts = 0
    for seq, (msg, error) in enumerate(bad):
        good = seq_msg("good", seq)
        writer.message_write(good)
        expected.append(good)
        attempts += 1
        if error is None:
            continue
        with pytest.raises(error) as info:
            writer.message_write(msg)  # type: ignore[arg-type]
        if error is msgbus.DeliveryError:
            assert info.value.code == "MSG_SIZE_TOO_LARGE"  # type: ignore[attr-defined]
        assert writer.status() == msgbus.StatusOpen
    writer.message_write("")  # an empty message is a message
    with pytest.raises(msgbus.InvalidMessageError):
        writer.message_write_many([seq_msg("good", 100), None])  # type: ignore[list-item]
    expected += ["", seq_msg("good", 100)]
    writer.message_write(seq_msg("good", 101))
    expected.append(seq_msg("good", 101))
    got = [m for m in read_n(reader, len(expected), timeout=20) if "surrogate" not in m]
    assert got == expected
    assert reader.message_read(timeout=1) is None
    fault_report.record(
        Figures(
            f"7 bad messages among good, {blocking.name.title().replace('_', '')}",
            len(expected) + len(bad),
            len(expected),
            len(got),
            0,
            0,
            time.monotonic() - started,
        )
    )


def test_callbacks_that_raise_are_not_callable_or_block(buses: BusFactory, topic: str) -> None:
    reader = buses.reader(topic)
    writer = buses.writer(topic)
    with pytest.raises(msgbus.CallbackError):
        reader.register_cb(42)  # type: ignore[arg-type]
    calls: list[int] = []

    def raises_every_third(msg: str) -> None:
        calls.append(seq_of(msg))
        if len(calls) % 3 == 0:
            raise RuntimeError("callback failure")

    reader.register_cb(raises_every_third)
    with pytest.raises(msgbus.CallbackError):
        reader.register_cb(raises_every_third)
    with pytest.raises(msgbus.CallbackError):
        reader.message_read(timeout=0.1)
    for seq in range(30):
        writer.message_write(seq_msg("cb", seq))
    wait_until(lambda: len(calls) == 30, 20, "30 callback calls")
    assert calls == list(range(30)) and reader.status() == msgbus.StatusOpen
    reader.unregister_cb()
    # A callback that blocks: disconnect still returns, in bounded time.
    release = threading.Event()
    entered = threading.Event()

    def blocks(msg: str) -> None:
        entered.set()
        release.wait(60)

    reader.register_cb(blocks)
    writer.message_write(seq_msg("cb", 30))
    assert entered.wait(20)
    try:
        run_bounded(reader.disconnect, 20)
        assert reader.status() == msgbus.StatusClosed
    finally:
        release.set()


def _closed_calls(bus: msgbus.MsgBusIO) -> list[Callable[[], object]]:
    return [
        lambda: bus.message_write("x"),
        lambda: bus.message_write_many(["x"]),
        lambda: bus.message_read(),
        lambda: bus.message_read(timeout=0.1),
        bus.message_available,
        lambda: bus.register_cb(lambda m: None),
        bus.unregister_cb,
    ]


@pytest.mark.parametrize("direction", [msgbus.BusWriter, msgbus.BusReader], ids=["writer", "reader"])
def test_every_call_after_disconnect(buses: BusFactory, topic: str, direction: msgbus.BusDir) -> None:
    bus = buses.connect(buses.config(topic, direction))
    bus.disconnect()
    for call in _closed_calls(bus):
        with pytest.raises((msgbus.BusClosedError, msgbus.DirectionError)) as info:
            run_bounded(call, 10)
        # A closed bus says so first, whatever the direction.
        assert isinstance(info.value, msgbus.BusClosedError), (call, info.value)
    assert bus.status() == msgbus.StatusClosed
    bus.disconnect()  # a second disconnect does nothing
    # Iterating a closed bus ends at once (documented: the loop ends on disconnect).
    assert run_bounded(lambda: list(bus), 10) == []


def test_disconnect_during_a_blocked_read(buses: BusFactory, topic: str) -> None:
    reader = buses.reader(topic)
    outcome: list[BaseException | str | None] = []

    def read() -> None:
        try:
            outcome.append(reader.message_read())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=read, name="test-blocked-read", daemon=True)
    thread.start()
    time.sleep(0.5)
    assert thread.is_alive()
    run_bounded(reader.disconnect, 40)
    thread.join(10)
    assert not thread.is_alive(), "message_read still blocked after disconnect"
    assert len(outcome) == 1 and isinstance(outcome[0], msgbus.BusClosedError), outcome


@pytest.mark.parametrize("blocking", [msgbus.Blocking, msgbus.NonBlocking], ids=["Blocking", "NonBlocking"])
def test_eight_threads_write_at_once(
    buses: BusFactory, topic: str, blocking: msgbus.BlockingMode, fault_report: FaultReport
) -> None:
    threads, each = 8, 250 if blocking is msgbus.Blocking else 2500
    started = time.monotonic()
    reader = buses.reader(topic, read_queue_size=100_000)
    writer = buses.writer(topic, blocking)
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def write(t: int) -> None:
        try:
            barrier.wait(10)
            for i in range(each):
                writer.message_write(seq_msg(f"w{t}", t * 1_000_000 + i))
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=write, args=(t,), name=f"test-writer-{t}") for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert not any(w.is_alive() for w in workers) and errors == []
    total = threads * each
    got = [seq_of(m) for m in read_n(reader, total, timeout=30)]
    assert reader.message_read(timeout=1) is None
    assert len(set(got)) == total
    for t in range(threads):  # each thread's messages in its order
        mine = [s for s in got if s // 1_000_000 == t]
        assert mine == [t * 1_000_000 + i for i in range(each)]
    fault_report.record(
        Figures(
            f"7 eight threads on one writer, {blocking.name.title().replace('_', '')}",
            total,
            total,
            len(got),
            0,
            0,
            time.monotonic() - started,
        )
    )
