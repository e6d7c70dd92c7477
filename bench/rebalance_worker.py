"""A process of bench/rebalance.py: the steady writer, or one member of the group. Ends when its stdin closes.

    python -m bench.rebalance_worker write BOOTSTRAP TOPIC RATE PARTITIONS OUT
    python -m bench.rebalance_worker read BOOTSTRAP TOPIC GROUP PROTOCOL OUT

A message is "<partition> <sequence>" (the writer picks the partition, round robin).
The writer writes how many it wrote to OUT; a member writes OUT.ready once connected
(holding when it began to connect),
then one line "<monotonic time> <partition> <sequence>" per message it read.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from confluent_kafka import Producer

import msgbus


def _until_stdin_closes() -> threading.Event:
    closed = threading.Event()

    def watch() -> None:
        sys.stdin.buffer.read()
        closed.set()

    threading.Thread(target=watch, daemon=True).start()
    return closed


def write(bootstrap: str, topic: str, rate: int, partitions: int, out: Path) -> None:
    failures: list[object] = []

    def report(err: object, _msg: object) -> None:
        if err is not None:
            failures.append(err)

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all"})
    closed = _until_stdin_closes()
    tick = 0.01
    per_tick = max(1, round(rate * tick))
    seq = 0
    next_at = time.monotonic()
    while not closed.is_set():
        for _ in range(per_tick):
            partition = seq % partitions
            producer.produce(topic, f"{partition} {seq}".encode(), partition=partition, on_delivery=report)
            seq += 1
        producer.poll(0)
        next_at += tick
        time.sleep(max(0.0, next_at - time.monotonic()))
    if producer.flush(60) != 0 or failures:
        raise SystemExit(f"the writer could not deliver everything: {failures[:3]}")
    out.write_text(f"{seq}\n")


def read(bootstrap: str, topic: str, group: str, protocol: str, out: Path) -> None:
    cfg = msgbus.MsgBusConfig(
        bootstrap_servers=bootstrap,
        topic=topic,
        direction=msgbus.BusReader,
        group_id=group,
        group_protocol=protocol,
        offset_reset="earliest",
        connect_timeout=30,
    )
    started = time.monotonic()
    bus = msgbus.connect(cfg)
    closed = _until_stdin_closes()
    (out.parent / f"{out.name}.ready").write_text(f"{started:.6f}\n")
    lines: list[str] = []
    read_many = bus.message_read_many
    while not closed.is_set():
        batch = read_many(1000, 0.05)
        if batch:
            now = f"{time.monotonic():.6f} "
            lines.extend(now + text for text in batch)
    bus.disconnect()
    out.write_text("\n".join(lines) + ("\n" if lines else ""))


def main() -> None:
    kind, *args = sys.argv[1:]
    if kind == "write":
        write(args[0], args[1], int(args[2]), int(args[3]), Path(args[4]))
    elif kind == "read":
        read(args[0], args[1], args[2], args[3], Path(args[4]))
    else:
        raise SystemExit(f"unknown worker kind {kind!r}")


if __name__ == "__main__":
    main()
