"""The broker side of a run: faults, added partitions, health waits, and reading a topic back raw."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewPartitions

from msgbus.testing import LocalKafka

from .actors import Ctx
from .record import Dead, FaultRec, GrowRec
from .schedule import FaultPlan, GrowPlan

# The harness's own clients see every fault too: their librdkafka lines go here, not to stderr.
_LOG = logging.getLogger("tests.chaos.librdkafka")


def admin_client(kafka: LocalKafka) -> Any:
    settings: dict[str, str | int | float | bool] = {
        "bootstrap.servers": kafka.bootstrap_servers,
        "reconnect.backoff.max.ms": 1000,
    }
    return AdminClient(settings, logger=_LOG)


def wait_whole(admin: Any, nodes: int, timeout: float) -> bool:
    """Every broker registered, every partition (internal ones too) led and fully in sync."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(KafkaException):
            md = admin.list_topics(timeout=5)
            parts = [p for t in md.topics.values() for p in t.partitions.values()]
            if len(md.brokers) >= nodes and all(p.leader >= 0 and len(p.isrs) >= nodes for p in parts):
                return True
        time.sleep(0.5)
    return False


def restore(kafka: LocalKafka) -> None:
    """Every node running and not paused (after a run, whatever happened)."""
    for node, pid in kafka.pids.items():
        if pid is None:
            kafka.start_node(node)
        else:
            kafka.resume_node(node)


def run_faults(ctx: Ctx, kafka: LocalKafka, admin: Any, faults: tuple[FaultPlan, ...]) -> None:
    """The fault thread: one fault at a time, each undone before the next (and before the run ends)."""
    rec = ctx.rec
    for f in faults:
        while time.monotonic() < ctx.at(f.start) and not ctx.ending.is_set():
            time.sleep(0.05)
        if ctx.ending.is_set():
            return
        fr = FaultRec(f.kind, f.node, time.monotonic())
        rec.faults.append(fr)
        try:
            if f.kind == "kill":
                kafka.kill_node(f.node)
            elif f.kind == "stop":
                kafka.stop_node(f.node)
            else:
                kafka.pause_node(f.node)
            time.sleep(f.length)
        finally:
            if f.kind == "pause":
                kafka.resume_node(f.node)
            else:
                kafka.start_node(f.node)
            fr.end = time.monotonic()
        if not wait_whole(admin, kafka.nodes, 90):
            fr.note = "the cluster was not whole 90 s after the fault; no further faults"
            rec.note(f"after {f.kind} of node {f.node}: {fr.note}")
            return


def grow(ctx: Ctx, admin: Any, g: GrowPlan) -> None:
    """Add partitions to a topic (on a thread of its own: during a fault it may take a while)."""
    gr = GrowRec(g.topic, time.monotonic())
    ctx.rec.grows.append(gr)
    try:
        # All topics: asking for one by name could auto-create it.
        md = admin.list_topics(timeout=10)
        tmd = md.topics.get(g.topic)
        if tmd is None or tmd.error is not None:
            raise RuntimeError(f"topic {g.topic} not there yet")
        total = len(tmd.partitions) + g.add
        futures = admin.create_partitions([NewPartitions(g.topic, total)], operation_timeout=30)
        futures[g.topic].result(timeout=40)
        gr.partitions = total
    except Exception as exc:
        gr.error = f"{type(exc).__name__}: {exc}"
        ctx.rec.note(f"adding partitions to {g.topic} failed: {gr.error}")
    finally:
        gr.end = time.monotonic()


def read_back(bootstrap: str, topic: str, timeout: float = 90) -> list[tuple[int, int, str]]:
    """(partition, offset, text) of every message in ``topic``, with a plain consumer."""
    return [(p, o, text) for p, o, text, _ in read_raw(bootstrap, topic, timeout)]


def read_dead_letters(bootstrap: str, topic: str, timeout: float = 90) -> list[Dead]:
    """A dead-letter topic's messages, with the place and attempts their headers name (-1: a header missing)."""
    out = []
    for _, _, text, headers in read_raw(bootstrap, topic, timeout):
        named = {k: (v or b"").decode("utf-8", "replace") for k, v in headers}

        def number(key: str, named: dict[str, str] = named) -> int:
            value = named.get(key, "")
            return int(value) if value.isdigit() else -1

        out.append(
            Dead(
                text,
                named.get("msgbus.original.topic", ""),
                number("msgbus.original.partition"),
                number("msgbus.original.offset"),
                number("msgbus.attempts"),
            )
        )
    return out


def read_raw(
    bootstrap: str, topic: str, timeout: float = 90
) -> list[tuple[int, int, str, list[tuple[str, bytes | None]]]]:
    """(partition, offset, text, headers) of every message in ``topic``, with a plain consumer."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"chaos-readback-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "allow.auto.create.topics": False,
        },
        logger=_LOG,
    )
    try:
        md = consumer.list_topics(timeout=timeout)
        if topic not in md.topics:
            return []
        ends: dict[int, int] = {}
        for p in sorted(md.topics[topic].partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout, cached=False)
            if high > low:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        out: list[tuple[int, int, str, list[tuple[str, bytes | None]]]] = []
        done: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(done) < len(ends):
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic} back: {len(out)} messages, partitions {sorted(done)} complete")
            for msg in consumer.consume(10000, 0.5):
                if msg.error() is not None:
                    continue
                value, offset, partition = msg.value(), msg.offset(), msg.partition()
                assert offset is not None and partition is not None
                text = value.decode("utf-8", "replace") if value is not None else ""
                raw = msg.headers() or []
                pairs = raw.items() if isinstance(raw, dict) else raw
                headers = [(k, v.encode() if isinstance(v, str) else v) for k, v in pairs]
                out.append((partition, offset, text, headers))
                if offset + 1 >= ends[partition]:
                    done.add(partition)
        return out
    finally:
        consumer.close()
