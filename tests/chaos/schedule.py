"""The plan of one run, derived from the seed alone (so a failing run replays it)."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

#: Created by the harness before anything connects.
TOPIC_PRE = "chaos-pre"
#: Never created by the harness: readers connect before it exists, writers auto-create it.
TOPIC_LATE = "chaos-late"
TOPICS = (TOPIC_PRE, TOPIC_LATE)

#: Reader kinds; see actors.py and aio_reader.py.
SYNC_KINDS = ("read", "read-nonblocking", "callback", "iter")
AIO_KINDS = ("aio-one", "aio-many", "aio-waitfor")
KINDS = SYNC_KINDS + AIO_KINDS
FAULT_KINDS = ("kill", "stop", "pause")


@dataclasses.dataclass(frozen=True)
class WriterPlan:
    wid: int
    topic: str
    blocking: bool
    rate: float  # messages per second
    start: float  # seconds after the run's start
    stop: float
    session: float  # each connection lives about this long, then the writer reconnects


@dataclasses.dataclass(frozen=True)
class ReaderPlan:
    rid: int
    topic: str
    group: str  # "" is a private group
    offset_reset: str
    kind: str
    slow: float  # seconds slept per message until the drain (0: fast)
    queue: int  # read_queue_size
    start: float
    stop: float | None  # None: stays until the end of the run
    toggles: tuple[float, ...]  # callback readers: unregister/register at these times


@dataclasses.dataclass(frozen=True)
class FaultPlan:
    kind: str
    node: int
    start: float
    length: float


@dataclasses.dataclass(frozen=True)
class GrowPlan:
    topic: str
    at: float
    add: int


@dataclasses.dataclass(frozen=True)
class Plan:
    seed: int
    duration: float
    nodes: int
    pre_partitions: int
    writers: tuple[WriterPlan, ...]
    readers: tuple[ReaderPlan, ...]
    faults: tuple[FaultPlan, ...]
    grows: tuple[GrowPlan, ...]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _group_name(topic: str, index: int) -> str:
    return f"g-{topic}-{index}"


def make_plan(seed: int, duration: float, nodes: int) -> Plan:
    """Everything a run does and when; the same for the same (seed, duration, nodes)."""
    if duration < 10:
        raise ValueError("duration must be at least 10 s")
    if nodes not in (1, 3):
        raise ValueError("nodes must be 1 or 3")
    # A string seed is hashed with SHA-512 by random.seed: stable across processes.
    rng = random.Random(f"msgbus-chaos:{seed}:{nodes}")
    d = float(duration)
    late_writes_at = rng.uniform(0.1, 0.25) * d
    writers = _writers(rng, d, late_writes_at)
    readers = _readers(rng, d)
    faults = _faults(rng, d, nodes)
    grows = []
    for topic in TOPICS:
        if rng.random() < 0.7:
            # The late topic exists only once a writer (or a subscribing reader) made it.
            lo = max(0.3 * d, late_writes_at + 5) if topic == TOPIC_LATE else 0.3 * d
            grows.append(GrowPlan(topic, round(rng.uniform(lo, max(lo, 0.7 * d)), 2), rng.choice((1, 2))))
    return Plan(
        seed=seed,
        duration=d,
        nodes=nodes,
        pre_partitions=rng.choice((1, 2, 3)),
        writers=tuple(writers),
        readers=tuple(readers),
        faults=tuple(faults),
        grows=tuple(sorted(grows, key=lambda g: g.at)),
    )


def _writers(rng: random.Random, d: float, late_writes_at: float) -> list[WriterPlan]:
    count = rng.randint(2, 4)
    # Both topics get a writer; the rest go anywhere.
    topics = [TOPIC_PRE, TOPIC_LATE] + [rng.choice(TOPICS) for _ in range(count - 2)]
    out = []
    for wid, topic in enumerate(topics, start=1):
        blocking = rng.random() < 0.5
        rate = rng.uniform(60, 200) if blocking else rng.uniform(200, 700)
        start = late_writes_at if topic == TOPIC_LATE and wid == 2 else rng.uniform(0, 0.3 * d)
        if topic == TOPIC_LATE:
            start = max(start, late_writes_at)
        stop = d if rng.random() < 0.6 else rng.uniform(start + 5, d)
        out.append(
            WriterPlan(
                wid,
                topic,
                blocking,
                round(rate, 1),
                round(start, 2),
                round(min(stop, d), 2),
                round(rng.uniform(4, 15), 2),
            )
        )
    return out


def _readers(rng: random.Random, d: float) -> list[ReaderPlan]:
    out: list[ReaderPlan] = []
    groups: dict[str, tuple[str, str]] = {}
    for topic in TOPICS:
        # One shared group per topic. A group starting at "latest" gets an anchor
        # member for the whole run: if it emptied, a partition added meanwhile would
        # legitimately start at its end, and the check could not tell that from a loss.
        reset = rng.choice(("latest", "earliest"))
        groups[topic] = (_group_name(topic, 1), reset)
        if reset == "latest":
            out.append(_reader(rng, len(out) + 1, topic, groups[topic][0], reset, 0.0, None, d, anchor=True))
    # The usual order: a private reader of the late topic connects before the topic exists.
    out.append(_reader(rng, len(out) + 1, TOPIC_LATE, "", "latest", 0.0, None, d, anchor=True))
    for _ in range(max(4, min(12, round(d / 8)))):
        topic = rng.choice(TOPICS)
        shared = rng.random() < 0.5
        group, reset = groups[topic] if shared else ("", "latest")
        start = rng.uniform(0, 0.8 * d)
        stop = None if rng.random() < 0.5 else min(0.95 * d, start + rng.uniform(5, 0.5 * d))
        out.append(_reader(rng, len(out) + 1, topic, group, reset, start, stop, d, anchor=False))
    return out


def _reader(
    rng: random.Random,
    rid: int,
    topic: str,
    group: str,
    reset: str,
    start: float,
    stop: float | None,
    d: float,
    *,
    anchor: bool,
) -> ReaderPlan:
    kind = rng.choice(KINDS)
    slow = 0.0 if anchor and rng.random() < 0.5 else rng.choice((0.0, 0.0, 0.002, 0.005, 0.01))
    queue = rng.choice((10, 30, 100)) if slow else rng.choice((50, 200, 1000))
    toggles: list[float] = []
    if kind == "callback":
        t = start + rng.uniform(1, 6)
        end = d if stop is None else stop
        while t < end - 1:
            toggles.append(round(t, 2))
            t += rng.uniform(0.5, 6)
    return ReaderPlan(
        rid,
        topic,
        group,
        reset,
        kind,
        slow,
        queue,
        round(start, 2),
        None if stop is None else round(stop, 2),
        tuple(toggles),
    )


def _faults(rng: random.Random, d: float, nodes: int) -> list[FaultPlan]:
    out: list[FaultPlan] = []
    t = rng.uniform(4, 10)
    while True:
        length = rng.uniform(1.5, 6)
        if t + length > 0.85 * d:
            return out
        out.append(FaultPlan(rng.choice(FAULT_KINDS), rng.randint(1, nodes), round(t, 2), round(length, 2)))
        # Room for the node to come back (a 3-node cluster must be whole before the next fault).
        t += length + rng.uniform(6, 15)
