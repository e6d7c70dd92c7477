"""``python -m bench.rebalance`` (``make bench-rebalance``): what a join and a leave cost a group, per protocol.

Four msgbus readers of one group read a steady stream (10k msg/s over 8 partitions,
written by a process of its own) while a fifth joins and, later, leaves. Every reader
is a process of its own and records when each message reached its application
(CLOCK_MONOTONIC, shared by every process). From that, per group protocol:

* each steady member's longest pause (no message for that long) around the join and the leave;
* the time from the join (the leave) until every partition flows again: the end of each
  partition's longest gap, taken across the group, after the event;
* duplicates (read more than once by the group) and lost messages (never read).

Results: bench/results/rebalance.{md,json,png}.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from msgbus.testing import LocalKafka

from .report_rebalance import write_report

RESULTS = Path(__file__).resolve().parent / "results"
PROTOCOLS = ("classic", "classic-cooperative", "consumer")
PARTITIONS = 8
STEADY = 4
#: A partition or member that got nothing for this long was stopped (at 10k msg/s a partition gets
#: 1250 messages a second; on a loaded 2-core machine every reader sees ~0.3 s hiccups anyway,
#: which the "quiet" column measures).
STALL_S = 0.5


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bench.rebalance_worker", *args], stdin=subprocess.PIPE)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()  # the worker's cue to disconnect and write its record
    if proc.wait(120) != 0:
        raise RuntimeError(f"worker {proc.args!r} failed with {proc.returncode}")


def _wait_ready(out: Path, timeout: float = 90) -> float:
    """Wait for a member to connect; when it began to."""
    path = out.parent / f"{out.name}.ready"
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text().strip():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path.name} did not connect within {timeout:g} s")
        time.sleep(0.05)
    return float(path.read_text())


def run_protocol(kafka: LocalKafka, protocol: str, rate: int, settle: float, work: Path) -> dict[str, Any]:
    topic = f"rebalance-{protocol}-{uuid.uuid4().hex[:6]}"
    kafka.create_topic(topic, partitions=PARTITIONS)
    group = f"bench-{uuid.uuid4().hex[:8]}"
    boot = kafka.bootstrap_servers
    produced = work / f"{topic}.produced"
    writer = _spawn("write", boot, topic, str(rate), str(PARTITIONS), str(produced))
    members = []
    try:
        for i in range(STEADY):
            out = work / f"{topic}.m{i}"
            members.append((out, _spawn("read", boot, topic, group, protocol, str(out))))
            _wait_ready(out)
        time.sleep(settle)
        out5 = work / f"{topic}.m{STEADY}"
        fifth = _spawn("read", boot, topic, group, protocol, str(out5))
        # The join: when the fifth called connect() (its process start is no part of it).
        join_at = _wait_ready(out5)
        time.sleep(settle)
        leave_at = time.monotonic()
        _stop(fifth)
        time.sleep(settle)
    finally:
        _stop(writer)
        time.sleep(2.0)  # the members read the tail
        for _, proc in members:
            _stop(proc)
    return analyse(
        protocol,
        [out for out, _ in members] + [out5],
        produced,
        join_at,
        leave_at,
        settle,
    )


def _load(path: Path) -> list[tuple[float, int, int]]:
    with path.open() as f:
        return [(float(t), int(p), int(s)) for t, p, s in (line.split() for line in f)]


def _longest_gap(times: list[float], start: float, end: float) -> tuple[float, float]:
    """The longest stretch without a delivery within [start, end]: (its length, when it ended)."""
    inside = [start] + [t for t in times if start < t < end] + [end]
    best, ended = 0.0, start
    for a, b in itertools.pairwise(inside):
        if b - a > best:
            best, ended = b - a, b
    return best, ended


def analyse(
    protocol: str, outs: list[Path], produced: Path, join_at: float, leave_at: float, settle: float
) -> dict[str, Any]:
    records = [_load(p) for p in outs]
    with produced.open() as f:
        written = int(f.read().split()[0])
    seen: dict[int, int] = {}
    for rec in records:
        for _, _, seq in rec:
            seen[seq] = seen.get(seq, 0) + 1
    duplicates = sum(n - 1 for n in seen.values())
    lost = written - sum(1 for s in seen if s < written)
    events: dict[str, Any] = {}
    for name, at in (("join", join_at), ("leave", leave_at)):
        window = (at - 0.5, at + settle)
        pauses = [_longest_gap([t for t, _, _ in rec], *window)[0] for rec in records[:STEADY]]
        # The same length of time before the join, when nothing happened: the machine's own hiccups.
        calm = (join_at - 0.5 - settle * 0.8, join_at - 0.5)
        quiet = [_longest_gap([t for t, _, _ in rec], *calm)[0] for rec in records[:STEADY]]
        flows_again = 0.0
        stalled = 0
        for partition in range(PARTITIONS):
            times = sorted(t for rec in records for t, p, _ in rec if p == partition)
            gap, ended = _longest_gap(times, *window)
            if gap >= STALL_S:
                stalled += 1
                flows_again = max(flows_again, ended - at)
        events[name] = {
            "member_pauses_s": [round(p, 3) for p in pauses],
            "longest_member_pause_s": round(max(pauses), 3),
            "quiet_longest_pause_s": round(max(quiet), 3),
            "members_paused": sum(1 for p in pauses if p >= STALL_S),
            "partitions_stalled": stalled,
            "all_partitions_flow_after_s": round(flows_again, 3),
        }
    return {
        "protocol": protocol,
        "written": written,
        "read": sum(len(r) for r in records),
        "duplicates": duplicates,
        "lost": lost,
        "events": events,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rebalance", description=__doc__)
    parser.add_argument("--rate", type=int, default=10_000, help="messages a second (default 10000)")
    parser.add_argument("--settle", type=float, default=15.0, help="seconds between the events (default 15)")
    parser.add_argument("--rounds", type=int, default=1, help="runs per protocol (default 1)")
    parser.add_argument("--protocols", default=",".join(PROTOCOLS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"msgbus-bench-rebalance-{uuid.uuid4().hex[:6]}"
    work.mkdir(parents=True)
    results: list[dict[str, Any]] = []
    kafka = LocalKafka(heap_mb=512)
    kafka.start()
    try:
        for round_ in range(args.rounds):
            for protocol in args.protocols.split(","):
                print(f"round {round_ + 1}: {protocol}", flush=True)
                result = run_protocol(kafka, protocol, args.rate, args.settle, work)
                result["round"] = round_ + 1
                print(json.dumps(result), flush=True)
                results.append(result)
        version = kafka.kafka_version
    finally:
        kafka.stop()
    meta = {"rate": args.rate, "partitions": PARTITIONS, "steady_members": STEADY, "settle_s": args.settle}
    meta["kafka"] = str(version)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in write_report(results, meta, args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
