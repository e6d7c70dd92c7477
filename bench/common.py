"""What every part of the benchmarks shares: the run's sizes, a comparison (Group), the scalings'
axes, the results' shape and where things live. It imports nothing of bench, so every other
module may import it and no import runs the other way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Where a full run writes results.md, results.json and the charts (the README links there).
RESULTS = Path(__file__).resolve().parent / "results"
#: Full JIT for the broker (LocalKafka's default stops at C1 for a fast start).
PERF_JVM_FLAGS = ("-XX:+UseSerialGC", "-Xss512k", "-Djava.awt.headless=true")
#: Seconds one worker process may take.
WORKER_TIMEOUT = 600

#: A worker's arguments and its result (one JSON object each way).
Args = dict[str, Any]
Result = dict[str, Any]
#: results.json: the machine, the versions and every group's rounds.
Outcome = dict[str, Any]
#: One measurement of one system; the argument divides the sizes (a warm-up runs smaller).
Measure = Callable[[int], Result]


@dataclass
class Sizes:
    rounds: int
    nb: int  # NonBlocking writes of 100 B (1 KB: half)
    blocking: int  # Blocking writes on the fast paths
    blocking_slow: int  # on the default-settings paths (~5 ms each)
    read: int  # reads by the slow systems (kafka-python, aiokafka, Go)
    read_fast: int  # by msgbus, raw and Java: a second or more each, so that the ratios are not noise
    latency_seconds: float
    memory: int
    warmup_divisor: int
    scale_rounds: int  # for the scalings (bench/scale.py), which check no target
    cli: int  # lines of the CLI write


FULL = Sizes(
    rounds=5,
    nb=400_000,
    blocking=2_000,
    blocking_slow=300,
    read=300_000,
    read_fast=1_000_000,
    latency_seconds=3.0,
    memory=1_000_000,
    warmup_divisor=10,
    scale_rounds=3,
    cli=100_000,
)
SMOKE = Sizes(
    rounds=1,
    nb=2_000,
    blocking=50,
    blocking_slow=10,
    read=2_000,
    read_fast=2_000,
    latency_seconds=0.3,
    memory=10_000,
    warmup_divisor=0,
    scale_rounds=1,
    cli=200,
)


@dataclass
class Group:
    """One comparison: systems measured interleaved, round after round."""

    name: str
    title: str
    unit: str
    systems: dict[str, Measure] = field(default_factory=dict)
    rounds: dict[str, list[Result]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    n_rounds: int | None = None  # instead of Sizes.rounds


# The scalings' axes (bench/scale.py measures them, bench/report/scaling.py shows them).
#: Message sizes of the size scaling, and the bytes each write or read moves (counts capped at Sizes.nb).
SIZES = (10, 100, 1024, 10 * 1024, 100 * 1024, 900 * 1024)
BYTES_PER_ROUND = 200_000_000
READERS = (1, 2, 4)
PARTITIONS = (1, 16, 128)
BACKLOGS = (1_000, 10_000, 100_000, 1_000_000)


def size_label(size: int) -> str:
    return f"{size // 1024} KB" if size >= 1024 else f"{size} B"
