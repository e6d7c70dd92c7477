"""One measurement per process: ``python -m bench.workers KIND SYSTEM '{json args}'``.

Each worker connects and warms up its client untimed, measures, and prints one
JSON object as its last line of output. Running every measurement in a fresh
process keeps the systems from disturbing each other (threads, memory, GIL).
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, Producer

import msgbus

Result = dict[str, Any]
Args = dict[str, Any]


def _text(size: int) -> str:
    return ("0123456789abcdefghijklmnopqrstuvwxyz" * (size // 36 + 1))[:size]


def _percentiles(values: list[float]) -> Result:
    values = sorted(values)
    if not values:
        return {"p50_ms": 0.0, "p99_ms": 0.0, "p999_ms": 0.0}

    def at(q: float) -> float:
        return values[int(q * (len(values) - 1))]

    return {"p50_ms": at(0.50), "p99_ms": at(0.99), "p999_ms": at(0.999)}


def _rss_mb() -> float:
    """The resident set size now (from /proc)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _peak_rss_mb() -> float:
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across execve, so a worker would
    # report the peak of the (larger) bench process that started it.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _msgbus_config(
    a: Args, direction: msgbus.BusDir, blocking: msgbus.BlockingMode, **extra: Any
) -> msgbus.MsgBusConfig:
    host, port = str(a["bootstrap"]).rsplit(":", 1)
    return msgbus.MsgBusConfig(
        host=host,
        port=int(port),
        topic=a["topic"],
        direction=direction,
        blocking=blocking,
        connect_retries=5,
        write_timeout=60,
        flush_timeout=60,
        **extra,
    )


# The librdkafka settings msgbus's Kafka backend gives its clients for _msgbus_config's
# configs, without its Python callbacks; their reasons are in src/msgbus/_kafka/_settings.py.
# Copied, not imported, so that the benchmark uses no private module: the raw clients run
# with exactly these, so each ratio is msgbus's own cost. tests/unit/kafka/test_bench_settings.py
# fails when the copy and msgbus's own drift apart.
COMMON_SETTINGS: dict[str, Any] = {
    "security.protocol": "PLAINTEXT",
    "client.id": f"msgbus-python/{msgbus.__version__}",
    "socket.nagle.disable": True,
    "reconnect.backoff.ms": 100,
    "reconnect.backoff.max.ms": 2000,
}
PRODUCER_SETTINGS: dict[str, Any] = {
    "acks": "all",
    "enable.idempotence": True,
    "message.timeout.ms": 60000,  # _msgbus_config's write_timeout
}
BLOCKING_PRODUCER_SETTINGS: dict[str, Any] = {"linger.ms": 0}
NONBLOCKING_PRODUCER_SETTINGS: dict[str, Any] = {"linger.ms": 5, "delivery.report.only.error": True}
CONSUMER_SETTINGS: dict[str, Any] = {
    "group.protocol": "classic",
    "partition.assignment.strategy": "range,roundrobin",
    "session.timeout.ms": 10000,
    "enable.auto.commit": False,  # a reader without a group_id commits nothing
    "enable.auto.offset.store": False,
    "auto.commit.interval.ms": 1000,
    "allow.auto.create.topics": True,
    "topic.metadata.refresh.interval.ms": 5000,
    "enable.partition.eof": False,
    "queued.max.messages.kbytes": 8192,
    "fetch.wait.max.ms": 100,
    "fetch.queue.backoff.ms": 20,
}


def _msgbus_settings(a: Args, blocking: msgbus.BlockingMode) -> dict[str, Any]:
    """The exact librdkafka settings a msgbus writer uses, without its Python callbacks."""
    mode = BLOCKING_PRODUCER_SETTINGS if blocking is msgbus.Blocking else NONBLOCKING_PRODUCER_SETTINGS
    return COMMON_SETTINGS | {"bootstrap.servers": a["bootstrap"]} | PRODUCER_SETTINGS | mode


def _msgbus_consumer_settings(a: Args, group_id: str, offset_reset: str) -> dict[str, Any]:
    """The exact librdkafka settings a msgbus reader uses, without its Python callbacks."""
    reader = {"group.id": group_id, "auto.offset.reset": offset_reset}
    return COMMON_SETTINGS | {"bootstrap.servers": a["bootstrap"]} | reader | CONSUMER_SETTINGS


def _flush_msgbus(bus: msgbus.MsgBusIO) -> None:
    """Wait for the last delivery of a NonBlocking msgbus writer (its disconnect would also close)."""
    # Benchmark-only peek at the end point: the producer behind the writer's produce gate.
    producer = getattr(getattr(bus, "_gate"), "producer")  # noqa: B009
    if producer.flush(120) != 0:
        raise RuntimeError("msgbus writer did not deliver everything")


# -- 1. NonBlocking write throughput --------------------------------------------------------


def write_nb(system: str, a: Args) -> Result:
    n, size = int(a["n"]), int(a["size"])
    text = _text(size)
    data = text.encode()
    if system in ("msgbus", "msgbus_many"):
        bus = msgbus.connect(_msgbus_config(a, msgbus.BusWriter, msgbus.NonBlocking))
        bus.message_write(text)
        _flush_msgbus(bus)
        write = bus.message_write
        start = time.perf_counter()
        if system == "msgbus":
            for _ in range(n):
                write(text)
        else:
            bus.message_write_many([text] * n)
        _flush_msgbus(bus)
        seconds = time.perf_counter() - start
        bus.disconnect()
    elif system == "raw":
        producer = Producer(_msgbus_settings(a, msgbus.NonBlocking))
        topic = a["topic"]
        producer.produce(topic, data)
        producer.flush(30)
        produce, poll = producer.produce, producer.poll
        start = time.perf_counter()
        for _ in range(n):
            while True:
                try:
                    produce(topic, data)
                    break
                except BufferError:
                    poll(0.001)
            poll(0)
        if producer.flush(120) != 0:
            raise RuntimeError("raw producer did not deliver everything")
        seconds = time.perf_counter() - start
    elif system == "kafka_python":
        seconds = _kafka_python_write(a, n, data)
    elif system == "aiokafka":
        seconds = asyncio.run(_aiokafka_write(a, n, data))
    else:
        raise SystemExit(f"unknown system {system}")
    return {"messages": n, "seconds": seconds, "rate": n / seconds}


def _kafka_python_write(a: Args, n: int, data: bytes) -> float:
    from kafka import KafkaProducer  # type: ignore[attr-defined]

    producer = KafkaProducer(bootstrap_servers=a["bootstrap"], acks="all", linger_ms=5)
    topic = a["topic"]
    producer.send(topic, data).get(timeout=30)
    send = producer.send
    start = time.perf_counter()
    for _ in range(n):
        send(topic, data)
    producer.flush(timeout=120)
    seconds = time.perf_counter() - start
    producer.close()
    return seconds


async def _aiokafka_write(a: Args, n: int, data: bytes) -> float:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=a["bootstrap"], acks="all", linger_ms=5)
    await producer.start()
    try:
        topic = a["topic"]
        await producer.send_and_wait(topic, data)
        send = producer.send
        start = time.perf_counter()
        for _ in range(n):
            await send(topic, data)
        await producer.flush()
        seconds = time.perf_counter() - start
    finally:
        await producer.stop()
    return seconds


# -- 2. Blocking write -----------------------------------------------------------------------


def write_blocking(system: str, a: Args) -> Result:
    n, size = int(a["n"]), int(a["size"])
    text = _text(size)
    data = text.encode()
    topic = a["topic"]
    write: Callable[[], None]
    if system == "msgbus":
        bus = msgbus.connect(_msgbus_config(a, msgbus.BusWriter, msgbus.Blocking))

        def write() -> None:
            bus.message_write(text)

    elif system == "raw_flush":
        producer = Producer(_msgbus_settings(a, msgbus.Blocking))

        def write() -> None:
            producer.produce(topic, data)
            producer.flush(30)

    elif system == "raw_default":
        # librdkafka's defaults (as the Go original): produce, then serve reports until this one came.
        producer = Producer({"bootstrap.servers": a["bootstrap"]})
        done: list[Any] = []

        def on_delivery(err: Any, _msg: Any) -> None:
            done.append(err)

        def write() -> None:
            done.clear()
            producer.produce(topic, data, on_delivery=on_delivery)
            while not done:
                producer.poll(1.0)
            if done[0] is not None:
                raise RuntimeError(str(done[0]))

    else:
        raise SystemExit(f"unknown system {system}")
    for _ in range(3):
        write()
    latencies: list[float] = []
    clock = time.perf_counter
    start = clock()
    for _ in range(n):
        t0 = clock()
        write()
        latencies.append((clock() - t0) * 1000.0)
    seconds = clock() - start
    if system == "msgbus":
        bus.disconnect()
    return {"messages": n, "seconds": seconds, "rate": n / seconds} | _percentiles(latencies)


# -- 3. Read throughput ------------------------------------------------------------------------


def read(system: str, a: Args) -> Result:
    """From the first message to the n-th, reading a topic filled beforehand, from its start."""
    n = int(a["n"])
    if system in ("msgbus_read", "msgbus_cb"):
        bus = msgbus.connect(_msgbus_config(a, msgbus.BusReader, msgbus.Blocking, offset_reset="earliest", group_id=""))
        if system == "msgbus_read":
            read_one = bus.message_read
            read_one(timeout=60)
            start = time.perf_counter()
            for _ in range(n - 1):
                read_one(timeout=60)
            seconds = time.perf_counter() - start
        else:
            finished = threading.Event()
            times: list[float] = []
            count = 0

            def on_message(_msg: str) -> None:
                nonlocal count
                count += 1
                if count == 1:
                    times.append(time.perf_counter())
                elif count == n:
                    times.append(time.perf_counter())
                    finished.set()

            bus.register_cb(on_message)
            if not finished.wait(120):
                raise RuntimeError(f"callback saw only {count} of {n}")
            seconds = times[1] - times[0]
        bus.disconnect()
    elif system == "raw":
        # The exact librdkafka settings of a msgbus reader: the ratio is msgbus's own cost.
        consumer = Consumer(_msgbus_consumer_settings(a, f"bench-{uuid.uuid4().hex}", "earliest"))
        consumer.subscribe([a["topic"]])
        consume = consumer.consume
        # The clock starts at the first message, as msgbus's does: asked for alone, so that
        # the wait for a whole first batch is inside the measurement (with 900 KB messages
        # it is most of it), not before it.
        count = 0
        deadline = time.monotonic() + 120
        while count == 0 and time.monotonic() < deadline:
            for msg in consume(num_messages=1, timeout=1.0):
                if msg.error() is None:
                    (msg.value() or b"").decode()
                    count = 1
        start = time.perf_counter()
        while count < n and time.monotonic() < deadline:
            for msg in consume(num_messages=min(1000, n - count), timeout=1.0):
                if msg.error() is None:
                    (msg.value() or b"").decode()  # str, as msgbus hands out
                    count += 1
        seconds = time.perf_counter() - start
        consumer.close()
    elif system == "kafka_python":
        from kafka import KafkaConsumer  # type: ignore[attr-defined]

        kconsumer = KafkaConsumer(
            a["topic"],
            bootstrap_servers=a["bootstrap"],
            group_id=f"bench-{uuid.uuid4().hex}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            consumer_timeout_ms=60000,
        )
        start = 0.0
        for count, kmsg in enumerate(kconsumer, 1):
            kmsg.value.decode()
            if count == 1:
                start = time.perf_counter()
            if count == n:
                break
        seconds = time.perf_counter() - start
        kconsumer.close()
    else:
        raise SystemExit(f"unknown system {system}")
    return {"messages": n, "seconds": seconds, "rate": (n - 1) / seconds}


# -- 4. End-to-end latency (two processes: this reader, and latency_writer) -------------------


def latency_reader(system: str, a: Args) -> Result:
    n = int(a["n"])
    latencies: list[float] = []
    finished = threading.Event()

    def on_message(msg: str) -> None:
        if msg.startswith("warm-up"):
            return
        latencies.append((time.time_ns() - int(msg)) / 1e6)
        if len(latencies) >= n:
            finished.set()

    if system == "msgbus":
        bus = msgbus.connect(_msgbus_config(a, msgbus.BusReader, msgbus.Blocking))
        bus.register_cb(on_message)
        print("READY", flush=True)
        if not finished.wait(120):
            raise RuntimeError(f"only {len(latencies)} of {n} arrived")
        bus.disconnect()
    elif system == "raw":
        assigned = threading.Event()
        consumer = Consumer(
            {
                "bootstrap.servers": a["bootstrap"],
                "group.id": f"bench-{uuid.uuid4().hex}",
                "auto.offset.reset": "latest",
                "session.timeout.ms": 10000,
            }
        )

        def on_assign(c: Any, partitions: list[Any]) -> None:
            # Start at the current end, fixed before the writer starts.
            for tp in partitions:
                tp.offset = c.get_watermark_offsets(tp, timeout=10, cached=False)[1]
            c.assign(partitions)
            assigned.set()

        consumer.subscribe([a["topic"]], on_assign=on_assign)
        while not assigned.is_set():
            consumer.poll(0.1)
        print("READY", flush=True)
        deadline = time.monotonic() + 120
        while len(latencies) < n and time.monotonic() < deadline:
            # Wait for one, then take what else is there (consume(n) would wait for n).
            batch = consumer.consume(num_messages=1, timeout=0.1)
            if batch:
                batch += consumer.consume(num_messages=999, timeout=0)
            for msg in batch:
                if msg.error() is None:
                    on_message((msg.value() or b"").decode())
        consumer.close()
    else:
        raise SystemExit(f"unknown system {system}")
    return {"messages": len(latencies)} | _percentiles(latencies)


def latency_writer(system: str, a: Args) -> Result:
    """Writes n messages at ``rate``/s, each carrying its send time (ns since the epoch)."""
    n, rate = int(a["n"]), float(a["rate"])
    write: Callable[[str], None]
    if system == "msgbus":
        bus = msgbus.connect(_msgbus_config(a, msgbus.BusWriter, msgbus.NonBlocking))
        write = bus.message_write
    elif system == "raw":
        producer = Producer({"bootstrap.servers": a["bootstrap"]})
        topic = a["topic"]

        def write(text: str) -> None:
            producer.produce(topic, text.encode())
            producer.poll(0)

    else:
        raise SystemExit(f"unknown system {system}")
    # Untimed: the first write also fetches the topic's metadata.
    for _ in range(10):
        write("warm-up")
    if system == "msgbus":
        _flush_msgbus(bus)
    else:
        producer.flush(30)
    interval = 1.0 / rate
    start = time.perf_counter()
    for i in range(n):
        delay = start + i * interval - time.perf_counter()
        if delay > 0.0005:
            time.sleep(delay)
        write(f"{time.time_ns():<100d}")
    if system == "msgbus":
        bus.disconnect()
    else:
        producer.flush(30)
    return {"messages": n, "seconds": time.perf_counter() - start}


# -- 5. Memory ---------------------------------------------------------------------------------


def memory(system: str, a: Args) -> Result:
    """RSS after connecting, after the first tenth of n and at the end (before disconnect); peak RSS."""
    n = int(a["n"])
    checkpoints: Result = {}
    if system == "msgbus_reader":
        bus = msgbus.connect(_msgbus_config(a, msgbus.BusReader, msgbus.Blocking, offset_reset="earliest", group_id=""))
        checkpoints["connected_mb"] = _rss_mb()
        for i in range(n):
            if bus.message_read(timeout=60) is None:
                raise RuntimeError(f"only {i} of {n} arrived")
            if i + 1 == n // 10:
                checkpoints["tenth_mb"] = _rss_mb()
        checkpoints["end_mb"] = _rss_mb()
        bus.disconnect()
    elif system == "msgbus_writer":
        bus = msgbus.connect(_msgbus_config(a, msgbus.BusWriter, msgbus.NonBlocking))
        checkpoints["connected_mb"] = _rss_mb()
        text = _text(int(a["size"]))
        write = bus.message_write
        for i in range(n):
            write(text)
            if i + 1 == n // 10:
                checkpoints["tenth_mb"] = _rss_mb()
        checkpoints["end_mb"] = _rss_mb()
        bus.disconnect()
    else:
        raise SystemExit(f"unknown system {system}")
    checkpoints["peak_mb"] = _peak_rss_mb()
    return {"messages": n} | checkpoints


KINDS: dict[str, Callable[[str, Args], Result]] = {
    "write_nb": write_nb,
    "write_blocking": write_blocking,
    "read": read,
    "latency_reader": latency_reader,
    "latency_writer": latency_writer,
    "memory": memory,
}


def kinds() -> dict[str, Callable[[str, Args], Result]]:
    """KINDS and those of bench.workers_aio and bench.workers_scale (which import this module)."""
    from . import workers_aio, workers_observe, workers_scale

    more: dict[str, Callable[[str, Args], Result]] = {
        "aio_write_nb": workers_aio.aio_write_nb,
        "aio_write_blocking": workers_aio.aio_write_blocking,
        "aio_read": workers_aio.aio_read,
        "read_many": workers_aio.read_many,
    }
    return KINDS | more | workers_scale.KINDS | workers_observe.KINDS


def _die_with_parent() -> None:
    """A worker must not outlive an interrupted run (one waiting for a gone broker would never end)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the worker's own timeouts still end it


def main(argv: list[str]) -> int:
    _die_with_parent()
    if len(argv) != 3 or argv[0] not in kinds():
        print(f"usage: python -m bench.workers {{{','.join(kinds())}}} SYSTEM JSON_ARGS", file=sys.stderr)
        return 2
    kind, system, args = argv
    result = kinds()[kind](system, json.loads(args))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
