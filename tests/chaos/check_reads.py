"""The checks of what a read style says besides the text: a Record's place, a ``HandlerError``'s, a dead letter's.

Each place is compared with the topic as it is on the broker (``Offsets``: what is at each offset).
Also counted here: the promises the actors saw broken themselves (``Recorder.broken``).
"""

from __future__ import annotations

import collections
from typing import Protocol

from .record import Recorder

#: (topic, partition) -> offset -> text, of what is in the topics.
Offsets = dict[tuple[str, int], dict[int, str]]


class Sink(Protocol):
    def add(self, anomaly: str, example: str, count: int = 1, kinds: tuple[str, ...] = ("run",)) -> None: ...


WRONG = "wrong record"
BROKEN = "broken promise"


def at(offsets: Offsets, topic: str, partition: int, offset: int) -> str | None:
    return offsets.get((topic, partition), {}).get(offset)


def check_reads(rec: Recorder, offsets: Offsets, found: Sink) -> None:
    for rid, text, partition, offset in rec.records:
        r = rec.readers[rid]
        there = at(offsets, r.topic, partition, offset)
        if there != text:
            found.add(
                WRONG,
                f"r{rid} read_record gave {text!r} at {r.topic}[{partition}]@{offset}, where the topic has {there!r}",
                kinds=(r.kind,),
            )
    for stop in rec.stops:
        r = rec.readers[stop.rid]
        there = at(offsets, stop.topic, stop.partition, stop.offset)
        if there != stop.text or stop.topic != r.topic:
            found.add(
                WRONG,
                f"r{stop.rid} stopped with HandlerError at {stop.topic}[{stop.partition}]@{stop.offset} "
                f"({there!r}), but its handler last failed on {stop.text!r}",
                kinds=(r.kind,),
            )
    given_up: dict[int, set[str]] = collections.defaultdict(set)
    for rid, text, _ in rec.gave_up:
        given_up[rid].add(text)
    for rid, deads in rec.dead.items():
        r = rec.readers[rid]
        for d in deads:
            if d.text not in given_up[rid]:
                found.add(BROKEN, f"r{rid}'s dead-letter topic has {d.text!r}, never given up on", kinds=(r.kind,))
            there = at(offsets, d.topic, d.partition, d.offset)
            if there != d.text or d.topic != r.topic:
                found.add(
                    WRONG,
                    f"r{rid}'s dead letter {d.text!r} says {d.topic}[{d.partition}]@{d.offset}, where the topic "
                    f"has {there!r}",
                    kinds=(r.kind,),
                )
            if d.attempts != r.policy_attempts:
                found.add(
                    BROKEN,
                    f"r{rid}'s dead letter {d.text!r} says {d.attempts} attempt(s), the policy has {r.policy_attempts}",
                    kinds=(r.kind,),
                )
    for rid, anomaly, what in rec.broken:
        found.add(anomaly, f"r{rid}: {what}", kinds=(rec.readers[rid].kind,))
