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

#: Reader kinds, one per way to read (see readers.py and aio_reader.py):
#: ``available-*`` poll ``message_available()`` and then ``message_read()`` (the Go services' idiom);
#: ``read`` reads with a timeout, ``read-forever`` without (Blocking), ``read-nonblocking`` on a
#: NonBlocking bus; ``run-<policy>`` is ``reader.run(handler)`` with a handler that fails on a seeded
#: fraction of the payloads, under that failure policy; ``aio-*`` are the same through ``msgbus.aio``.
SYNC_KINDS = (
    "available-blocking",
    "available-nonblocking",
    "read",
    "read-forever",
    "read-nonblocking",
    "read-many",
    "read-record",
    "callback",
    "iter",
    "run-retry",
    "run-deadletter",
    "run-drop",
    "run-stop",
)
AIO_KINDS = (
    "aio-one",
    "aio-many",
    "aio-waitfor",
    "aio-read-many",
    "aio-read-record",
    "aio-for",
    "aio-run-retry",
    "aio-run-deadletter",
    "aio-run-drop",
    "aio-run-stop",
)
KINDS = SYNC_KINDS + AIO_KINDS
#: The handler's failure policy of each ``run`` kind ("retry": retried, then it succeeds).
POLICY_OF = {kind: kind.rsplit("-", 1)[1] for kind in KINDS if kind.startswith(("run-", "aio-run-"))}
#: A stopped reader's messages are taken over by the next reader of its group, so these need a named group.
STOP_KINDS = tuple(kind for kind, policy in POLICY_OF.items() if policy == "stop")
#: A reader that stopped is replaced by a new one at most this many times (then its handler stops failing).
MAX_STOPS = 3
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
    batch: int = 1  # read-many kinds: max_messages
    #: run kinds: the handler fails on payloads whose seeded hash falls below this fraction...
    fail_rate: float = 0.0
    #: ...that many times in a row (retry: fewer than ``attempts``, so it then succeeds; else every time).
    fail_times: int = 0
    #: run kinds: 1 is the bare outcome (Drop(), DeadLetter(t), Stop()), more is Retry(attempts, then=it).
    attempts: int = 1
    salt: int = 0  # the failure hash's salt (from the seed)

    def dead_letter_topic(self) -> str:
        return f"chaos-dlq-r{self.rid}"


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
    readers = _readers(rng, seed, d)
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
        # Enough partitions that most members of a shared group have one to read (idle ones still occur).
        pre_partitions=rng.choice((2, 3, 4)),
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
        if wid <= len(TOPICS):
            # Each topic's first writer writes to the end, so every reader, however late, has messages to read.
            stop = d
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


def readers_per_run(d: float) -> int:
    """How many readers (besides the anchors) a run of ``d`` seconds plans: the stride of the kinds' rotation."""
    return max(8, min(12, round(d / 8)))


def kinds_of_run(seed: int, d: float) -> list[str]:
    """The kinds a run draws, in order: KINDS from ``seed * readers_per_run(d)`` on, round and round.

    So consecutive seeds take consecutive slices of KINDS, and any ``ceil(len(KINDS) / stride)``
    consecutive seeds cover every kind (anchors only add to a run's slice).
    """
    stride = readers_per_run(d)
    return [KINDS[(seed * stride + i) % len(KINDS)] for i in range(stride + len(TOPICS) + 1)]


def _readers(rng: random.Random, seed: int, d: float) -> list[ReaderPlan]:
    out: list[ReaderPlan] = []
    kinds = kinds_of_run(seed, d)
    groups: dict[str, tuple[str, str]] = {}
    slots: list[tuple[str, str | None, str, float, float | None, bool]] = []
    for topic in TOPICS:
        # One shared group per topic. A group starting at "latest" gets an anchor
        # member for the whole run: if it emptied, a partition added meanwhile would
        # legitimately start at its end, and the check could not tell that from a loss.
        reset = rng.choice(("latest", "earliest"))
        groups[topic] = (_group_name(topic, 1), reset)
        if reset == "latest":
            slots.append((topic, groups[topic][0], reset, 0.0, None, True))
    # The usual order: a private reader of the late topic connects before the topic exists.
    slots.append((TOPIC_LATE, "", "latest", 0.0, None, True))
    for _ in range(readers_per_run(d)):
        topic = rng.choice(TOPICS)
        shared = rng.random() < 0.5
        start = rng.uniform(0, 0.8 * d)
        stop = None if rng.random() < 0.5 else min(0.95 * d, start + rng.uniform(5, 0.5 * d))
        # None: shared unless the kind needs a named group anyway (decided with the kind, below).
        slots.append((topic, None if shared else "", "latest", start, stop, False))
    for topic, group, reset, start, stop, anchor in slots:
        # A private slot cannot take a Stop kind: the next slot gets it instead. When only Stop
        # kinds are left, the slot takes one and becomes a member of the topic's group (below).
        index = next((i for i, k in enumerate(kinds) if group != "" or k not in STOP_KINDS), 0)
        kind = kinds.pop(index)
        if group is None or kind in STOP_KINDS:
            group, reset = groups[topic]
        out.append(_reader(rng, len(out) + 1, kind, topic, group, reset, start, stop, d, anchor=anchor))
    return out


def _reader(
    rng: random.Random,
    rid: int,
    kind: str,
    topic: str,
    group: str,
    reset: str,
    start: float,
    stop: float | None,
    d: float,
    *,
    anchor: bool,
) -> ReaderPlan:
    slow = 0.0 if anchor and rng.random() < 0.5 else rng.choice((0.0, 0.0, 0.002, 0.005, 0.01))
    queue = rng.choice((10, 30, 100)) if slow else rng.choice((50, 200, 1000))
    toggles: list[float] = []
    if kind == "callback":
        t = start + rng.uniform(1, 6)
        end = d if stop is None else stop
        while t < end - 1:
            toggles.append(round(t, 2))
            t += rng.uniform(0.5, 6)
    policy = POLICY_OF.get(kind)
    fail_rate, fail_times, attempts = 0.0, 0, 1
    if policy is not None:
        # Stop: a few stops a run (each one costs a reconnect); the others: a few percent of the payloads.
        fail_rate = rng.choice((0.002, 0.005)) if policy == "stop" else rng.choice((0.005, 0.02, 0.05))
        attempts = rng.choice((1, 2, 3)) if policy != "retry" else rng.choice((2, 3))
        fail_times = rng.randint(1, attempts - 1) if policy == "retry" else attempts
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
        batch=rng.choice((1, 7, 100, 500)) if kind.endswith("read-many") else 1,
        fail_rate=fail_rate,
        fail_times=fail_times,
        attempts=attempts,
        salt=rng.randrange(1 << 30),
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
