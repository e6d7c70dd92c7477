"""How cost grows (issue 11): message size, readers in a group, a 3-node cluster, partitions, backlog.

Each scaling is a set of Groups that bench.run measures as it does the others
(interleaved rounds, a fresh process per measurement); bench/report/scaling.py turns
them into tables and charts. The extra brokers (a 3-node cluster, and a broker
whose group join waits for every reader) are started here and stopped after use.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from msgbus.testing import LocalKafka

from .common import (
    BACKLOGS,
    BYTES_PER_ROUND,
    PARTITIONS,
    PERF_JVM_FLAGS,
    READERS,
    ROOT,
    SIZES,
    WORKER_TIMEOUT,
    Group,
    Sizes,
    size_label,
)
from .measure import prefill, worker

# A 900 KB message with its batch overhead needs more than the 1 MB defaults.
BIG_MESSAGES = {"message.max.bytes": 2_000_000, "replica.fetch.max.bytes": 2_000_000}


def _count(size: int, sizes: Sizes) -> int:
    n = min(sizes.nb, max(20, BYTES_PER_ROUND // size))
    return n if sizes.rounds > 1 or sizes.warmup_divisor else max(5, n // 200)


def _address(kafka: LocalKafka) -> str:
    """One node's host:port (the workers take one; the client finds the other nodes)."""
    return f"{kafka.host}:{kafka.ports[0]}"


def _full(sizes: Sizes) -> bool:
    return sizes.warmup_divisor > 0


def size_groups(kafka: LocalKafka, sizes: Sizes, rounds: int) -> list[Group]:
    bootstrap = _address(kafka)
    groups: list[Group] = []
    for size in SIZES if _full(sizes) else SIZES[-1:]:
        n = _count(size, sizes)
        g = Group(f"size_write_{size}", f"NonBlocking write, {size_label(size)}", "msg/s", n_rounds=rounds)
        for system in ("msgbus", "raw"):
            t = f"b-size{size}-{system}"
            kafka.create_topic(t)
            g.systems[system] = lambda d, s=system, t=t, n=n, size=size: worker(  # type: ignore[misc]
                "write_nb", s, bootstrap=bootstrap, topic=t, n=max(5, n // d), size=size
            )
        groups.append(g)
        source = f"b-size{size}-src"
        kafka.create_topic(source)
        prefill(bootstrap, source, n + 10, size)
        g = Group(f"size_read_{size}", f"Read, {size_label(size)}", "msg/s", n_rounds=rounds)
        for system in ("msgbus_read", "raw"):
            g.systems[system] = lambda d, s=system, t=source, n=n: worker(  # type: ignore[misc]
                "read", s, bootstrap=bootstrap, topic=t, n=max(5, n // d)
            )
        groups.append(g)
    return groups


def _group_read(bootstrap: str, topic: str, readers: int, total: int, idle: float, settle: float) -> dict[str, Any]:
    """``readers`` processes in one fresh group read ``total`` messages; the aggregate rate of all of them."""
    args = json.dumps(
        {"bootstrap": bootstrap, "topic": topic, "group": f"bench-{uuid.uuid4().hex}"}
        | {
            "idle": idle,
            "limit": 120,
            "settle": settle,
        }
    )
    cmd = [sys.executable, "-m", "bench.workers", "group_reader", "msgbus", args]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        for _ in range(readers)
    ]
    try:
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=WORKER_TIMEOUT)
            if proc.returncode != 0:
                raise RuntimeError(f"group reader failed: {err[-3000:]}")
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    count = sum(r["messages"] for r in results)
    if count < total:
        raise RuntimeError(f"the group read only {count} of {total}")
    busy = [r for r in results if r["messages"]]
    seconds = max(r["last"] for r in busy) - min(r["first"] for r in busy)
    # Messages read twice (a rebalance after some were read, before their commit) do not count.
    return {
        "messages": total,
        "seconds": seconds,
        "rate": total / seconds,
        "read_twice": count - total,
        "per_reader": [r["messages"] for r in results],
    }


@contextlib.contextmanager
def readers_broker() -> Iterator[LocalKafka]:
    """A broker whose first group join waits 3 s, so that readers started together share the partitions at once."""
    props = {"group.initial.rebalance.delay.ms": 3000}
    with LocalKafka(jvm_flags=PERF_JVM_FLAGS, extra_broker_props=props, startup_timeout=180) as kafka:
        yield kafka


def reader_groups(kafka: LocalKafka, sizes: Sizes, rounds: int) -> list[Group]:
    bootstrap = _address(kafka)
    total = sizes.memory if _full(sizes) else 2_000
    topic = "b-readers"
    kafka.create_topic(topic, partitions=4)
    prefill(bootstrap, topic, total, 100, partitions=4)
    g = Group("readers", f"Aggregate read rate of one group, 4 partitions, {total:,} x 100 B", "msg/s", n_rounds=rounds)
    idle = 2.0 if _full(sizes) else 0.5
    for readers in READERS if _full(sizes) else (2,):
        g.systems[str(readers)] = lambda d, k=readers: _group_read(bootstrap, topic, k, total, idle, 3 * idle + 4)  # type: ignore[misc]
    return [g]


@contextlib.contextmanager
def cluster() -> Iterator[LocalKafka]:
    with LocalKafka(nodes=3, jvm_flags=PERF_JVM_FLAGS, startup_timeout=240) as kafka:
        yield kafka


def cluster_groups(single: LocalKafka, three: LocalKafka, sizes: Sizes, rounds: int) -> list[Group]:
    """The same writes and reads on the 1-node broker and on 3 nodes (RF 3, min.insync.replicas 2; acks=all)."""
    n = sizes.nb
    brokers = {"1": single, "3": three}
    write = Group(
        "cluster_write_nb", "NonBlocking write, 100 B: 1 node vs 3 (RF 3, acks=all)", "msg/s", n_rounds=rounds
    )
    blocking = Group("cluster_blocking", "Blocking write, 100 B: 1 node vs 3", "msg/s", n_rounds=rounds)
    read = Group("cluster_read", "Read, 100 B: 1 node vs 3", "msg/s", n_rounds=rounds)
    for nodes, kafka in brokers.items():
        bootstrap = _address(kafka)
        rf = min(3, kafka.nodes)
        config = {"min.insync.replicas": 2} if rf == 3 else None
        for system in ("msgbus", "raw"):
            t = f"b-cl{nodes}-nb-{system}"
            kafka.create_topic(t, replication_factor=rf, config=config)
            write.systems[f"{system}@{nodes}"] = lambda d, s=system, t=t, b=bootstrap: worker(  # type: ignore[misc]
                "write_nb", s, bootstrap=b, topic=t, n=max(5, n // d), size=100
            )
        t = f"b-cl{nodes}-blk"
        kafka.create_topic(t, replication_factor=rf, config=config)
        blocking.systems[f"msgbus@{nodes}"] = lambda d, t=t, b=bootstrap: worker(  # type: ignore[misc]
            "write_blocking", "msgbus", bootstrap=b, topic=t, n=max(10, sizes.blocking // d), size=100
        )
        t = f"b-cl{nodes}-src"
        kafka.create_topic(t, replication_factor=rf, config=config)
        prefill(bootstrap, t, n + 10, 100)
        read.systems[f"msgbus_read@{nodes}"] = lambda d, t=t, b=bootstrap: worker(  # type: ignore[misc]
            "read", "msgbus_read", bootstrap=b, topic=t, n=max(5, n // d)
        )
    return [write, blocking, read]


def connect_groups(kafka: LocalKafka, rounds: int) -> list[Group]:
    bootstrap = _address(kafka)
    g = Group("connect", "Connect time by partitions", "s", n_rounds=rounds)
    for partitions in PARTITIONS:
        t = f"b-conn-{partitions}"
        kafka.create_topic(t, partitions=partitions)
        prefill(bootstrap, t, partitions, 100, partitions=partitions)  # one message in each
        g.systems[str(partitions)] = lambda d, t=t: worker("connect_time", "msgbus", bootstrap=bootstrap, topic=t)  # type: ignore[misc]
    return [g]


def backlog_groups(kafka: LocalKafka, sizes: Sizes, rounds: int) -> list[Group]:
    bootstrap = _address(kafka)
    backlogs = BACKLOGS if _full(sizes) else (100, 1_000)
    g = Group("backlog_memory", "Reader RSS by backlog, 100 B", "MB", n_rounds=rounds)
    for backlog in backlogs:
        t = f"b-backlog-{backlog}"
        kafka.create_topic(t)
        prefill(bootstrap, t, backlog, 100)
        idle = 3.0 if _full(sizes) else 0.3
        g.systems[str(backlog)] = lambda d, t=t, b=backlog, idle=idle: worker(  # type: ignore[misc]
            "backlog_memory", "msgbus", bootstrap=bootstrap, topic=t, n=b, idle=idle
        )
    return [g]


def cli_groups(kafka: LocalKafka, sizes: Sizes) -> list[Group]:
    bootstrap = _address(kafka)
    n = sizes.cli
    g = Group("cli_write", f"CLI write of {n:,} lines (100 B), Blocking, every line acknowledged", "msg/s")
    for system in ("write_lines", "cli"):
        t = f"b-cli-{system}"
        kafka.create_topic(t)
        g.systems[system] = lambda d, s=system, t=t: worker(  # type: ignore[misc]
            "cli_write", s, bootstrap=bootstrap, topic=t, n=max(10, n // d)
        )
    return [g]


Runner = Callable[[list[Group]], None]


def run_scaling(kafka: LocalKafka, sizes: Sizes, run: Runner, log: Callable[[str], None]) -> list[Group]:
    """Every scaling, on ``kafka`` and on the extra brokers it starts; returns the groups measured."""
    rounds = sizes.scale_rounds
    done: list[Group] = []
    builders: list[Callable[[], list[Group]]] = [
        lambda: size_groups(kafka, sizes, rounds),
        lambda: connect_groups(kafka, rounds),
        lambda: backlog_groups(kafka, sizes, rounds),
        lambda: cli_groups(kafka, sizes),
    ]
    for build in builders:
        groups = build()
        run(groups)
        done += groups
    if not _full(sizes):
        # The smoke run exercises the same code on the one broker, without starting four more JVMs.
        for groups in (reader_groups(kafka, sizes, rounds), cluster_groups(kafka, kafka, sizes, rounds)):
            run(groups)
            done += groups
        return done
    started = time.monotonic()
    with readers_broker() as rk:
        log(f"readers broker up in {time.monotonic() - started:.0f} s")
        groups = reader_groups(rk, sizes, rounds)
        run(groups)
        done += groups
    started = time.monotonic()
    with cluster() as three:
        log(f"3-node cluster up in {time.monotonic() - started:.0f} s")
        groups = cluster_groups(kafka, three, sizes, rounds)
        run(groups)
        done += groups
    return done
