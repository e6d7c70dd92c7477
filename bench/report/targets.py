"""The targets a full run is checked against, each computed from results.json."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..common import Outcome
from .numbers import median

Value = Callable[[Outcome], "float | None"]


@dataclass(frozen=True)
class Target:
    text: str
    value: Value
    limit: float
    unit: str = "x"  # how the measured value is shown: "x" for a ratio, else its unit
    at_most: bool = False  # the value must be <= limit (else >=)

    def met(self, value: float) -> bool:
        return value <= self.limit if self.at_most else value >= self.limit


def _ratio(group: str, a: str, b: str, key: str = "rate") -> Value:
    def compute(outcome: Outcome) -> float | None:
        x, y = median(outcome, group, a, key), median(outcome, group, b, key)
        return None if x is None or y is None or y == 0 else x / y

    return compute


def _min_round_ratio(group: str, a: str, b: str) -> Value:
    """The lowest a/b over the rounds, paired as they ran (round i of a with round i of b)."""

    def compute(outcome: Outcome) -> float | None:
        rounds = outcome["groups"].get(group, {}).get("rounds", {})
        xs, ys = rounds.get(a), rounds.get(b)
        if not xs or not ys:
            return None
        return float(min(x["rate"] / y["rate"] for x, y in zip(xs, ys, strict=False)))

    return compute


def _value(group: str, system: str, key: str) -> Value:
    return lambda outcome: median(outcome, group, system, key)


def _growth(group: str, system: str) -> Value:
    def compute(outcome: Outcome) -> float | None:
        tenth, end = median(outcome, group, system, "tenth_mb"), median(outcome, group, system, "end_mb")
        return None if tenth is None or end is None else end - tenth

    return compute


_NB = (("write_nb_100", "100 B"), ("write_nb_1024", "1 KB"))

TARGETS: list[Target] = [
    *(Target(f"NonBlocking write {s}: msgbus / raw confluent >= 0.9", _ratio(g, "msgbus", "raw"), 0.9) for g, s in _NB),
    *(
        Target(
            f"NonBlocking write {s}: msgbus / raw confluent >= 0.9 in EVERY round (lowest paired round)",
            _min_round_ratio(g, "msgbus", "raw"),
            0.9,
        )
        for g, s in _NB
    ),
    Target("asyncio NonBlocking write 100 B: msgbus.aio / aiokafka >= 5", _ratio("write_nb_100", "aio", "aiokafka"), 5),
    Target(
        "asyncio NonBlocking write 100 B: msgbus.aio / sync message_write >= 0.8",
        _ratio("write_nb_100", "aio", "msgbus"),
        0.8,
    ),
    Target(
        "asyncio Blocking write: msgbus.aio / aiokafka send_and_wait >= 1",
        _ratio("write_blocking", "aio", "aiokafka_wait"),
        1,
    ),
    Target("asyncio read: msgbus.aio / aiokafka >= 2", _ratio("read", "aio", "aiokafka"), 2),
    Target("Read: message_read_many / raw consume() >= 0.95", _ratio("read", "msgbus_read_many", "raw"), 0.95),
    Target("Read: msgbus.aio message_read_many / raw consume() >= 0.95", _ratio("read", "aio_many", "raw"), 0.95),
    Target(
        "CLI write, every line acknowledged: pipelined writer >= 50,000 lines/s",
        _value("cli_write", "write_lines", "rate"),
        50_000,
        "lines/s",
    ),
    Target(
        "CLI write: `msgbus write` < 100k lines, whole command >= 50,000 lines/s",
        _value("cli_write", "cli", "rate"),
        50_000,
        "lines/s",
    ),
    *(
        Target(f"NonBlocking write {s}: msgbus / kafka-python >= 3", _ratio(g, "msgbus", "kafka_python"), 3)
        for g, s in _NB
    ),
    *(
        Target(f"message_write_many {s}: / ProducerPerformance >= 0.5", _ratio(g, "msgbus_many", "producer_perf"), 0.5)
        for g, s in _NB
    ),
    Target("Blocking write: msgbus p50 <= 2 ms", _value("write_blocking", "msgbus", "p50_ms"), 2.0, "ms", at_most=True),
    Target("Blocking write: msgbus / default-settings path >= 5", _ratio("write_blocking", "msgbus", "raw_default"), 5),
    Target("Read: message_read / raw consume() >= 0.8", _ratio("read", "msgbus_read", "raw"), 0.8),
    Target("Read: callback / raw consume() >= 0.8", _ratio("read", "msgbus_cb", "raw"), 0.8),
    Target(
        "Latency at 10k msg/s: msgbus p99 <= 10 ms", _value("latency_10000", "msgbus", "p99_ms"), 10, "ms", at_most=True
    ),
    Target(
        "Memory: reader RSS growth from 10% to 100% of the messages <= 20 MB",
        _growth("memory", "msgbus_reader"),
        20,
        "MB",
        at_most=True,
    ),
    Target(
        "Memory: NonBlocking writer RSS growth from 10% to 100% <= 20 MB",
        _growth("memory", "msgbus_writer"),
        20,
        "MB",
        at_most=True,
    ),
]
