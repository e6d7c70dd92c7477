"""How one measurement runs: a worker process (``python -m bench.workers``), a latency pair of
processes, a group's interleaved rounds, and a topic filled beforehand."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from confluent_kafka import Producer

from . import tools
from .common import ROOT, WORKER_TIMEOUT, Group, Measure, Result, Sizes

Log = Callable[[str], None]


def worker(kind: str, system: str, **args: Any) -> Result:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.workers", kind, system, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT,
        cwd=ROOT,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} {system} failed ({proc.returncode}): {proc.stderr[-3000:]}")
    result: Result = json.loads(proc.stdout.strip().splitlines()[-1])
    if "skipped" in result:
        # The system does not exist here (yet): reported as n/a, not a failure.
        raise tools.ToolMissing(str(result["skipped"]))
    return result


def latency_pair(system: str, bootstrap: str, topic: str, rate: int, n: int) -> Result:
    """A reader process (callback) and a writer process at ``rate`` msg/s."""
    args = json.dumps({"bootstrap": bootstrap, "topic": topic, "n": n, "rate": rate})
    reader = subprocess.Popen(
        [sys.executable, "-m", "bench.workers", "latency_reader", system, args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert reader.stdout is not None
        line = reader.stdout.readline()
        if line.strip() != "READY":
            raise RuntimeError(
                f"latency reader {system} did not start: {line}{reader.stderr.read() if reader.stderr else ''}"
            )
        worker("latency_writer", system, bootstrap=bootstrap, topic=topic, n=n, rate=rate)
        out, err = reader.communicate(timeout=WORKER_TIMEOUT)
        if reader.returncode != 0:
            raise RuntimeError(f"latency reader {system} failed: {err[-3000:]}")
        result: Result = json.loads(out.strip().splitlines()[-1])
        return result
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()


def _attempt(group: Group, name: str, measure: Measure, divisor: int, when: str, log: Log) -> Result | None:
    """One measurement; a system that is missing or fails is marked skipped (and not measured again)."""
    try:
        return measure(divisor)
    except tools.ToolMissing as exc:
        group.skipped[name] = str(exc)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        # One broken measurement (the tree is shared, and edited while a run lasts)
        # must not throw away the rest of a 25-minute run: reported, and not retried.
        group.skipped[name] = f"FAILED in {when}: {str(exc).strip().splitlines()[-1][:300]}"
        log(f"  {group.name} {when} {name}: {group.skipped[name]}")
    return None


def run_group(group: Group, sizes: Sizes, log: Log) -> None:
    """The group's systems, each warmed up (untimed, smaller), then measured interleaved round by round."""
    if sizes.warmup_divisor:
        for name, measure in group.systems.items():
            _attempt(group, name, measure, sizes.warmup_divisor, "the warm-up", log)
    for round_no in range(group.n_rounds or sizes.rounds):
        for name, measure in group.systems.items():
            if name in group.skipped:
                continue
            result = _attempt(group, name, measure, 1, f"round {round_no + 1}", log)
            if result is not None:
                group.rounds.setdefault(name, []).append(result)
                shown = {k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}
                log(f"  {group.name} round {round_no + 1} {name}: {shown}")


def prefill(bootstrap: str, topic: str, n: int, size: int, partitions: int | None = None) -> None:
    """``n`` messages of ``size`` bytes in ``topic``, where librdkafka puts them or spread over ``partitions``."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1_000_000})
    data = b"r" * size
    for i in range(n):
        # -1: librdkafka's partitioner chooses (produce()'s own default).
        partition = -1 if partitions is None else i % partitions
        while True:
            try:
                producer.produce(topic, data, partition=partition)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    if producer.flush(300) != 0:
        raise RuntimeError("prefill did not complete")
