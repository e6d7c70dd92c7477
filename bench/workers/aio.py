"""The asyncio workers (msgbus.aio next to aiokafka) and the sync message_read_many."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import msgbus
from msgbus import aio

from ..common import Args, Result
from .common import flush_msgbus, msgbus_config, payload, percentiles

_BATCH = 1000


def aio_write_nb(system: str, a: Args) -> Result:
    """n NonBlocking writes from one task, until the last delivery."""
    if system != "aio":
        raise SystemExit(f"unknown system {system}")
    return asyncio.run(_aio_write_nb(a))


async def _aio_write_nb(a: Args) -> Result:
    n, text = int(a["n"]), payload(int(a["size"]))
    bus = await aio.connect(msgbus_config(a, msgbus.BusWriter, msgbus.NonBlocking))
    try:
        await bus.message_write(text)
        flush_msgbus(bus.sync)
        write = bus.message_write
        start = time.perf_counter()
        for _ in range(n):
            await write(text)
        flush_msgbus(bus.sync)  # blocks the loop, which has nothing else to do
        seconds = time.perf_counter() - start
    finally:
        await bus.disconnect()
    return {"messages": n, "seconds": seconds, "rate": n / seconds}


def aio_write_blocking(system: str, a: Args) -> Result:
    """n Blocking writes one at a time: msgbus.aio, or aiokafka's send_and_wait with linger 0."""
    return asyncio.run(_aio_write_blocking(system, a))


async def _aio_write_blocking(system: str, a: Args) -> Result:
    n, text = int(a["n"]), payload(int(a["size"]))
    data = text.encode()
    latencies: list[float] = []
    clock = time.perf_counter
    if system == "aio":
        bus = await aio.connect(msgbus_config(a, msgbus.BusWriter, msgbus.Blocking))
        try:
            for _ in range(3):
                await bus.message_write(text)
            start = clock()
            for _ in range(n):
                t0 = clock()
                await bus.message_write(text)
                latencies.append((clock() - t0) * 1000.0)
            seconds = clock() - start
        finally:
            await bus.disconnect()
    elif system == "aiokafka_wait":
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(bootstrap_servers=a["bootstrap"], acks="all", linger_ms=0)
        await producer.start()
        try:
            topic = a["topic"]
            for _ in range(3):
                await producer.send_and_wait(topic, data)
            start = clock()
            for _ in range(n):
                t0 = clock()
                await producer.send_and_wait(topic, data)
                latencies.append((clock() - t0) * 1000.0)
            seconds = clock() - start
        finally:
            await producer.stop()
    else:
        raise SystemExit(f"unknown system {system}")
    return {"messages": n, "seconds": seconds, "rate": n / seconds} | percentiles(latencies)


def aio_read(system: str, a: Args) -> Result:
    """From the first message to the n-th of a filled topic: msgbus.aio (one by one or many), aiokafka."""
    return asyncio.run(_aio_read(system, a))


async def _aio_read(system: str, a: Args) -> Result:
    n = int(a["n"])
    if system in ("aio", "aio_many"):
        cfg = msgbus_config(a, msgbus.BusReader, msgbus.Blocking, offset_reset="earliest", group_id="")
        bus = await aio.connect(cfg)
        try:
            await bus.message_read(timeout=60)
            count = 1
            start = time.perf_counter()
            if system == "aio":
                read_one = bus.message_read
                while count < n:
                    if await read_one(timeout=60) is None:
                        raise RuntimeError(f"only {count} of {n} arrived")
                    count += 1
            else:
                read_many = bus.message_read_many
                while count < n:
                    got = await read_many(min(_BATCH, n - count), 60)
                    if not got:
                        raise RuntimeError(f"only {count} of {n} arrived")
                    count += len(got)
            seconds = time.perf_counter() - start
        finally:
            await bus.disconnect()
    elif system == "aiokafka":
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(
            a["topic"],
            bootstrap_servers=a["bootstrap"],
            group_id=f"bench-{uuid.uuid4().hex}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            count = 0
            start = 0.0
            async for msg in consumer:
                (msg.value or b"").decode()  # str, as msgbus hands out
                count += 1
                if count == 1:
                    start = time.perf_counter()
                if count == n:
                    break
            seconds = time.perf_counter() - start
        finally:
            await consumer.stop()
    else:
        raise SystemExit(f"unknown system {system}")
    return {"messages": n, "seconds": seconds, "rate": (n - 1) / seconds}


def read_many(system: str, a: Args) -> Result:
    """The sync message_read_many, batches of up to 1000, from the first message to the n-th."""
    if system != "msgbus_many":
        raise SystemExit(f"unknown system {system}")
    n = int(a["n"])
    bus = msgbus.connect(msgbus_config(a, msgbus.BusReader, msgbus.Blocking, offset_reset="earliest", group_id=""))
    try:
        read_batch = bus.message_read_many
        bus.message_read(timeout=60)
        count = 1
        start = time.perf_counter()
        while count < n:
            got = read_batch(min(_BATCH, n - count), 60)
            if not got:
                raise RuntimeError(f"only {count} of {n} arrived")
            count += len(got)
        seconds = time.perf_counter() - start
    finally:
        bus.disconnect()
    return {"messages": n, "seconds": seconds, "rate": (n - 1) / seconds}


KINDS: dict[str, Callable[[str, Args], Result]] = {
    "aio_write_nb": aio_write_nb,
    "aio_write_blocking": aio_write_blocking,
    "aio_read": aio_read,
    "read_many": read_many,
}
