"""A user's module that touches every public name of msgbus, msgbus.aio and msgbus.testing.

tests/release type-checks it with ``mypy --strict`` against the wheel installed in a clean
virtualenv (so py.typed and the annotations are what a user gets), and runs ``main()`` there,
on the in-process bus. ``test_public_names`` fails when a public name is not used here.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgbus
from msgbus import aio
from msgbus.testing import (
    KafkaStartupError,
    KafkaToolingError,
    LocalKafka,
    MemoryBus,
    MockKafka,
    MockKafkaError,
    librdkafka_settings,
)

VERSION: str = msgbus.__version__
TECHS: tuple[msgbus.MsgBusTech, ...] = (msgbus.BusTechKafka, msgbus.BusTechMemory)
MODES: tuple[msgbus.BlockingMode, ...] = (msgbus.Blocking, msgbus.NonBlocking)
DIRECTIONS: tuple[msgbus.BusDir, ...] = (msgbus.BusWriter, msgbus.BusReader)
STATUSES: tuple[msgbus.BusStatus, ...] = (msgbus.StatusOpen, msgbus.StatusClosed)
TOKENS: tuple[msgbus.SubscriptionToken, msgbus.CallbackToken] = (0, 0)
ERRORS: tuple[type[msgbus.MsgBusError], ...] = (
    msgbus.ConfigError,
    msgbus.ConnectError,
    msgbus.BusClosedError,
    msgbus.DirectionError,
    msgbus.CallbackError,
    msgbus.InvalidMessageError,
)


def kafka_writer(bootstrap: str, topic: str) -> msgbus.MsgBusIO:
    cfg = msgbus.MsgBusConfig(
        bus_tech=msgbus.BusTechKafka,
        bootstrap_servers=bootstrap,
        topic=topic,
        direction=msgbus.BusWriter,
        blocking=msgbus.NonBlocking,
    )
    return msgbus.connect(cfg)


def drain(bus: msgbus.MsgBusIO) -> int:
    """Disconnect, reporting what could not be delivered."""
    try:
        bus.disconnect()
    except msgbus.FlushError as err:
        return err.undelivered
    except msgbus.DeliveryError as err:
        logging.getLogger("app").warning("delivery failed: %s (%s)", err, err.code)
        return -1
    return 0


def on_message(msg: str) -> None:
    print("got", msg)


def in_process(memory: MemoryBus, topic: str) -> list[str]:
    reader = memory.reader(topic)
    callback: msgbus.CBFunc = on_message
    with memory.writer(topic) as writer:
        writer.message_write("one")
        sent = writer.message_write_many(["two", "three"])
    assert sent == 2
    record: msgbus.Record | None = reader.read_record(timeout=5)
    assert record is not None and record.offset >= 0 and record.timestamp >= 0
    got = [record.text] + [m for m in (reader.message_read(timeout=5) for _ in range(2)) if m is not None]
    reader.register_cb(callback)
    reader.unregister_cb()
    stats: msgbus.BusStats = reader.stats()
    assert stats.read == 3 and reader.status() == msgbus.StatusOpen and reader.healthy()
    reader.disconnect()
    return got


def refuse(msg: str) -> None:
    raise ValueError(f"cannot handle {msg!r}")


def handler_failures(memory: MemoryBus, topic: str) -> int:
    """A failing handler: retried, then dead-lettered with its headers; a Stop reader raises HandlerError."""
    dlq = topic + ".dlq"
    policy = msgbus.Retry(attempts=2, backoff=0.01, max_backoff=0.02, then=msgbus.DeadLetter(dlq))
    dead_letters = memory.reader(dlq)
    reader = memory.reader(topic, on_handler_error=policy)
    reader.register_cb(refuse)
    with memory.writer(topic) as writer:
        writer.message_write("poison")
    record = dead_letters.read_record(timeout=5)
    assert record is not None and record.text == "poison"
    assert dict(record.headers)["msgbus.attempts"] == b"2"
    reader.disconnect()
    dead_letters.disconnect()
    stopping = memory.reader(topic, on_handler_error=msgbus.Stop())
    with memory.writer(topic) as writer:
        writer.message_write("fatal")
    try:
        stopping.run(refuse)
    except msgbus.HandlerError as err:
        attempts = err.attempts
    else:
        raise AssertionError("a Stop policy let the handler's failure pass")
    finally:
        stopping.disconnect()
    dropping = msgbus.Retry(attempts=1, then=msgbus.Drop())
    return attempts + dropping.attempts


async def in_process_async(memory: MemoryBus, topic: str) -> str | None:
    reader: aio.AsyncMsgBus = await aio.connect(memory.config(topic, msgbus.BusReader))
    writer = await aio.connect(memory.config(topic, msgbus.BusWriter))
    await writer.message_write("async")
    await writer.message_write("with its place")
    msg = await reader.message_read(timeout=5)
    record = await reader.read_record(timeout=5)
    assert record is not None and record.text == "with its place" and record.partition == 0
    await writer.disconnect()
    await reader.disconnect()
    return msg


def brokers() -> list[str]:
    """What a test suite would start; not called by main() (needs Java)."""
    try:
        with LocalKafka() as kafka:
            drain(kafka_writer(kafka.bootstrap_servers, "t"))
            return [kafka.bootstrap_servers]
    except (KafkaStartupError, KafkaToolingError) as err:
        print("no local Kafka:", err)
    try:
        with MockKafka() as mock:
            return [mock.bootstrap_servers]
    except MockKafkaError as err:
        print("no mock cluster:", err)
    return []


def operating(memory: MemoryBus, topic: str) -> str:
    """health() and metrics(), as a service's own /health handler or log line would use them."""
    reader = memory.reader(topic)
    writer = memory.writer(topic)
    writer.message_write("hello", headers={"source": "user code"})
    verdict: msgbus.Health = reader.health()
    statuses: tuple[msgbus.HealthStatus, ...] = (msgbus.HealthStatus.OK, msgbus.HealthStatus.IDLE)
    assert verdict.status in statuses and verdict.live
    read_figures = reader.metrics()
    write_figures = writer.metrics()
    assert isinstance(read_figures, msgbus.ReaderMetrics) and isinstance(write_figures, msgbus.WriterMetrics)
    lags: tuple[msgbus.PartitionLag, ...] = read_figures.partitions
    handler: msgbus.Timing = read_figures.handler
    return f"{len(lags)} {handler.count} {write_figures.written}"


def ops_endpoint(port: int) -> object:
    """Not called here (it needs the prometheus extra): /metrics, /livez and /readyz on ``port``."""
    return msgbus.serve_ops(port)


def main() -> int:
    msgbus.set_logger(logging.getLogger("app.msgbus"))
    try:
        msgbus.MsgBusConfig(topic="bad topic!", direction=msgbus.BusWriter).validate()
    except ERRORS[0]:
        pass
    else:
        raise AssertionError("a bad topic was accepted")
    with msgbus.testing.MemoryBus() as memory:  # the documented form, after a plain `import msgbus`
        assert in_process(memory, "sync") == ["one", "two", "three"]
        assert asyncio.run(in_process_async(memory, "async")) == "async"
        assert handler_failures(memory, "failing") == 2
        assert operating(memory, "operating") == "0 0 1"
    raw: dict[str, Any] = librdkafka_settings(msgbus.MsgBusConfig(topic="t", direction=msgbus.BusWriter))
    assert raw["acks"] == "all"
    msgbus.set_logger(None)
    print("user code ok", VERSION, len(TECHS + MODES + DIRECTIONS + STATUSES), TOKENS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
