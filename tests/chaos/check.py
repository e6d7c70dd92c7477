"""The anomalies of a recorded history (issue 9's table), judged against the topic as it is on the broker.

Rebalances cannot be seen through the public API, so what may cause one stands
in for it: a member's connect or disconnect (plus a slack), a fault (plus a
recovery slack) and a partition added to the topic. Only those excuse a
duplicate in a shared group, a skip or a step back; a private reader's
duplicate is never excused.

A message a failure policy dropped, or dead-lettered (and it is on the
dead-letter topic), counts as delivered; a failed attempt counts as passing its
offset (no skip). Each anomaly is counted under a reader kind (``Findings.by_kind``):
a group's lost write under the kind of the member that delivered the message
before it in its partition, a duplicate under the second reader's, a stuck group
under each kind still in it; the writers' and the harness's own under "writer"
and "run". The checks of records, stops and dead letters are in check_reads.py.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import itertools
import math
import re

from .check_reads import Offsets, check_reads
from .record import ACKED, CONSUMER_TASKS, ReaderRec, Recorder, WriteRec
from .schedule import POLICY_OF

# How close two deliveries of concurrent consumers must be for a step back to be their race.
_RACE_WINDOW = 0.5

ANOMALIES = (
    "lost write",
    "duplicate",
    "poll skip",
    "non-monotonic",
    "stuck reader",
    "hung or leaked",
    "wrong record",
    "broken promise",
)
#: A reader that leaves must have seen writes acknowledged this long (fault time not counted) before it left.
MARGIN = 15.0
#: A rebalance a member's connect/disconnect causes completes within this long of the call's return.
MEMBER_SLACK = 3.0
#: How long a group's coordinator keeps a member that left without a word (it closed while the
#: broker was down): its session. msgbus sets 10 s for the classic protocol; KIP-848's "consumer"
#: protocol uses the broker's group.consumer.session.timeout.ms (45 s by default), which a client
#: cannot change. Until then the member's partitions stay with it, unread.
SESSION = {"classic": 10.0, "classic-cooperative": 10.0, "consumer": 45.0}


def fault_slack(group_protocol: str) -> float:
    """After a node comes back, groups may still rejoin (sessions expired, coordinator moved) for this long."""
    return SESSION[group_protocol] + 10.0


_EXAMPLES = 5

Interval = tuple[float, float]
#: text -> (topic, partition, offset), and (topic, partition) -> offset -> text, of what is in the topics.
Positions = dict[str, tuple[str, int, int]]


@dataclasses.dataclass
class Findings:
    counts: dict[str, int] = dataclasses.field(default_factory=lambda: dict.fromkeys(ANOMALIES, 0))
    examples: dict[str, list[str]] = dataclasses.field(default_factory=lambda: {a: [] for a in ANOMALIES})
    #: kind -> anomaly -> count (a stuck group counts under each of its kinds, so rows may sum to more).
    by_kind: dict[str, collections.Counter[str]] = dataclasses.field(
        default_factory=lambda: collections.defaultdict(collections.Counter)
    )

    def add(self, anomaly: str, example: str, count: int = 1, kinds: tuple[str, ...] = ("run",)) -> None:
        self.counts[anomaly] += count
        for kind in kinds:
            self.by_kind[kind][anomaly] += count
        if len(self.examples[anomaly]) < _EXAMPLES:
            self.examples[anomaly].append(f"[{'/'.join(kinds)}] {example}")

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def groups(rec: Recorder) -> dict[str, list[ReaderRec]]:
    """Judged groups (a private reader is one of its own) -> members that connected."""
    out: dict[str, list[ReaderRec]] = collections.defaultdict(list)
    for r in rec.readers.values():
        if r.connected is not None:
            out[r.key].append(r)
    return dict(out)


def alive_at_end(rec: Recorder, r: ReaderRec) -> bool:
    """Still connected when the drain started (so it had the drain to catch up)."""
    return r.disc_start is None or (rec.drain_start is not None and r.disc_start >= rec.drain_start)


def acked_by_topic(rec: Recorder) -> dict[str, list[WriteRec]]:
    out: dict[str, list[WriteRec]] = collections.defaultdict(list)
    for w in rec.writes.values():
        if w.status == ACKED:
            out[w.topic].append(w)
    return out


def kind_named(rec: Recorder, text: str) -> str:
    """The kind of the reader a harness line names ("r12 connect", "chaos-reader-12"), else "run"."""
    m = re.search(r"\br(\d+)\b|chaos-(?:reader|consume)-(\d+)", text)
    if m:
        r = rec.readers.get(int(m.group(1) or m.group(2)))
        if r is not None:
            return r.kind
    return "writer" if re.search(r"\bw\d+\b|chaos-writer", text) else "run"


def consumed(rec: Recorder, dead: dict[int, set[str]] | None = None) -> list[tuple[int, str, float]]:
    """(reader id, text, time) of what a policy dropped, or dead-lettered onto the topic (``dead``: reader -> texts)."""
    out = []
    for rid, text, t in rec.gave_up:
        policy = POLICY_OF.get(rec.readers[rid].kind)
        if policy == "drop" or (policy == "deadletter" and (dead is None or text in dead.get(rid, set()))):
            out.append((rid, text, t))
    return out


def connecting(rec: Recorder) -> list[ReaderRec]:
    """Readers inside a connect() attempt now (their group may be one to drain once they are in)."""
    return [r for r in list(rec.readers.values()) if r.attempts and r.attempts[-1][1] is None]


def drain_targets(rec: Recorder) -> dict[str, set[str]]:
    """For every group with a member left for the drain: the acknowledged writes it must deliver."""
    acked = acked_by_topic(rec)
    targets = {}
    for key, members in groups(rec).items():
        if any(alive_at_end(rec, m) for m in members):
            first = min(m.connected for m in members if m.connected is not None)
            targets[key] = {w.text for w in acked[members[0].topic] if w.start >= first}
    return targets


class Checker:
    def __init__(self, rec: Recorder, positions: Positions, offsets: Offsets, copies: collections.Counter[str]) -> None:
        self.rec = rec
        self.pos = positions
        self.offsets = offsets
        self.copies = copies
        self.found = Findings()
        self.groups = groups(rec)
        self.dead = {rid: {d.text for d in deads} for rid, deads in rec.dead.items()}
        #: What each reader consumed (delivered, dropped, dead-lettered), by time; and what it passed
        #: on the way (those and its failed attempts), for the order checks.
        self.by_reader: dict[int, list[tuple[str, float]]] = collections.defaultdict(list)
        self.passed: dict[int, list[tuple[str, float]]] = collections.defaultdict(list)
        done = rec.deliveries + consumed(rec, self.dead) + self._interrupted_dead_letters()
        for rid, text, t in sorted(done, key=lambda d: d[2]):
            self.by_reader[rid].append((text, t))
        for rid, text, t in sorted(done + rec.failures, key=lambda d: d[2]):
            self.passed[rid].append((text, t))
        self.fault_spans = [(f.start, (f.end or math.inf)) for f in rec.faults]
        self.fault_slack = fault_slack(rec.group_protocol)

    def _interrupted_dead_letters(self) -> list[tuple[int, str, float]]:
        """A dead letter not on its topic is excused only as the write a disconnect interrupted (README:
        it is tried "until it is acknowledged or the reader disconnects"): the reader's last failure,
        nothing consumed after it."""
        out = []
        last_fail: dict[int, tuple[str, float]] = {}
        for rid, text, t in self.rec.gave_up:
            last_fail[rid] = (text, t)
        for rid, (text, t) in last_fail.items():
            r = self.rec.readers[rid]
            later = any(r2 == rid and t2 > t for r2, _, t2 in itertools.chain(self.rec.deliveries, self.rec.failures))
            missing = POLICY_OF.get(r.kind) == "deadletter" and text not in self.dead.get(rid, set())
            if missing and not later and r.disc_start is not None and r.disc_start >= t:
                out.append((rid, text, t))
        return out

    def run(self) -> Findings:
        self._in_topic()
        for key, members in self.groups.items():
            self._lost(key, members)
            self._duplicates(key, members)
        for r in self.rec.readers.values():
            if r.connected is not None:
                self._order(r)
        for text in self.rec.stuck:
            key = text.split(":", 1)[0]
            kinds = {m.kind for m in self.groups.get(key, []) if alive_at_end(self.rec, m)}
            self.found.add("stuck reader", text, kinds=tuple(sorted(kinds)) or ("run",))
        for text in self.rec.hung + self.rec.leaked:
            self.found.add("hung or leaked", text, kinds=(kind_named(self.rec, text),))
        check_reads(self.rec, self.offsets, self.found)
        return self.found

    # -- helpers ------------------------------------------------------------------

    def _excuses(self, key: str, members: list[ReaderRec]) -> list[Interval]:
        """When a rebalance may have happened in this group."""
        spans = [(a, b + self.fault_slack) for a, b in self.fault_spans]
        topic = members[0].topic
        spans += [(g.start, (g.end or math.inf) + self.fault_slack) for g in self.rec.grows if g.topic == topic]
        if members[0].group:
            for m in members:
                spans += [(a, (b or math.inf) + MEMBER_SLACK) for a, b in m.attempts]
                if m.disc_start is not None:
                    spans.append((m.disc_start, (m.disc_end or math.inf) + MEMBER_SLACK))
        return spans

    @staticmethod
    def _between(spans: list[Interval], t1: float, t2: float) -> bool:
        return any(a < t2 and b > t1 for a, b in spans)

    def _settled(self, acked_at: float, left_at: float) -> bool:
        """Acknowledged long enough before ``left_at``, time under a fault not counted."""
        faulted = sum(max(0.0, min(b + self.fault_slack, left_at) - max(a, acked_at)) for a, b in self.fault_spans)
        return left_at - acked_at - faulted >= MARGIN

    def _describe(self, text: str) -> str:
        pos = self.pos.get(text)
        w = self.rec.writes.get(text)
        where = f"{pos[0]}[{pos[1]}]@{pos[2]}" if pos else "not in the topic"
        when = f", written {self.rec.rel(w.start)}-{self.rec.rel(w.end)}" if w else ""
        return f"{text} ({where}{when})"

    def _who(self, key: str, members: list[ReaderRec]) -> str:
        parts = [
            f"r{m.rid} {m.kind}{' slow' if m.slow else ''} {self.rec.rel(m.connected)}-{self.rec.rel(m.disc_start)}"
            for m in members
        ]
        group = f"group {members[0].group} ({members[0].offset_reset})" if members[0].group else "private"
        return f"{key} {group}: " + ", ".join(parts)

    # -- the anomalies --------------------------------------------------------------

    def _in_topic(self) -> None:
        for w in self.rec.writes.values():
            if w.status == ACKED and w.text not in self.pos:
                self.found.add(
                    "lost write", f"acknowledged {self._describe(w.text)} is not in the topic at all", kinds=("writer",)
                )
        for text, n in self.copies.items():
            if n > 1:
                self.found.add("duplicate", f"{self._describe(text)} is in the topic {n} times", n - 1, ("writer",))

    def _lost(self, key: str, members: list[ReaderRec]) -> None:
        topic = members[0].topic
        first = min(m.connected for m in members if m.connected is not None)
        alive = any(alive_at_end(self.rec, m) for m in members)
        left = max((m.disc_start for m in members if m.disc_start is not None), default=math.inf)
        # A slow member may be any distance behind when it leaves; a callback member may have left unregistered.
        slow = any(m.slow or m.kind == "callback" for m in members)
        delivered: set[str] = set()
        furthest: dict[int, int] = {}
        #: partition -> sorted (offset, kind of the member that consumed it), to name a loss's kind.
        by_offset: dict[int, list[tuple[int, str]]] = collections.defaultdict(list)
        for m in members:
            for text, _ in self.by_reader[m.rid]:
                delivered.add(text)
                pos = self.pos.get(text)
                if pos is not None and pos[0] == topic:
                    furthest[pos[1]] = max(furthest.get(pos[1], -1), pos[2])
                    by_offset[pos[1]].append((pos[2], m.kind))
        for entries in by_offset.values():
            entries.sort()
        missing = []
        for w in self.rec.writes.values():
            if w.status != ACKED or w.topic != topic or w.start < first or w.text in delivered:
                continue
            pos = self.pos.get(w.text)
            if pos is None:
                continue  # counted once, in _in_topic
            assert w.end is not None
            # Alive for the drain: it must have everything. Gone: what it had time for
            # (a slow reader may be any distance behind), and whatever it went past.
            if alive or (not slow and self._settled(w.end, left)) or pos[2] < furthest.get(pos[1], -1):
                missing.append(w.text)
        by_kind: dict[str, list[str]] = collections.defaultdict(list)
        for text in missing:
            _, p, o = self.pos[text]
            entries = by_offset.get(p, [])
            i = bisect.bisect_left(entries, (o, ""))
            # The member that consumed the message before it (else after it) in its partition.
            near = entries[i - 1] if i > 0 else entries[i] if i < len(entries) else (0, members[0].kind)
            by_kind[near[1]].append(text)
        for kind, texts in sorted(by_kind.items()):
            sample = ", ".join(self._describe(t) for t in sorted(texts, key=lambda t: self.pos[t])[:3])
            self.found.add(
                "lost write",
                f"{len(texts)} never delivered to {self._who(key, members)}; e.g. {sample}",
                len(texts),
                (kind,),
            )

    def _duplicates(self, key: str, members: list[ReaderRec]) -> None:
        times: dict[str, list[tuple[float, int]]] = collections.defaultdict(list)
        for m in members:
            for text, t in self.by_reader[m.rid]:
                times[text].append((t, m.rid))
        spans = self._excuses(key, members) if members[0].group else []
        for text, seen in times.items():
            if len(seen) <= self.copies.get(text, 1):
                continue
            seen.sort()
            for (t1, r1), (t2, r2) in itertools.pairwise(seen):
                if members[0].group and self._between(spans, t1, t2):
                    continue
                self.found.add(
                    "duplicate",
                    f"{self._describe(text)} delivered to r{r1} at {self.rec.rel(t1)} and r{r2} at "
                    f"{self.rec.rel(t2)} in {self._who(key, members)}",
                    kinds=(self.rec.readers[r2].kind,),
                )

    def _order(self, r: ReaderRec) -> None:
        spans = self._excuses(r.key, self.groups[r.key])
        mine = self.passed[r.rid]
        seen = {self.pos[text][1:] for text, _ in mine if text in self.pos}
        last: dict[int, tuple[int, float]] = {}
        # Several consumers of one reader: a step back by fewer than their number, at
        # about the same moment, is two of them recording in another order than they took.
        consumers = CONSUMER_TASKS.get(r.kind, 1)
        for text, t in mine:
            pos = self.pos.get(text)
            if pos is None or pos[0] != r.topic:
                self.rec.note(f"r{r.rid} delivered {text!r}, which is not in its topic")
                continue
            _, p, o = pos
            if p in last:
                o1, t1 = last[p]
                if o == o1:
                    continue  # a failed attempt, then the next attempt (or the outcome) of the same message
                racing = o1 - o < consumers and t - t1 < _RACE_WINDOW
                if o < o1 and not racing and not self._between(spans, t1, t):
                    self.found.add(
                        "non-monotonic",
                        f"r{r.rid} ({r.kind}) went from {r.topic}[{p}]@{o1} at {self.rec.rel(t1)} back to @{o} "
                        f"at {self.rec.rel(t)}",
                        kinds=(r.kind,),
                    )
                elif o > o1 + 1 and not self._between(spans, t1, t):
                    here = self.offsets.get((r.topic, p), {})
                    gap = [x for x in range(o1 + 1, o) if x in here and (p, x) not in seen]
                    if gap:
                        self.found.add(
                            "poll skip",
                            f"r{r.rid} ({r.kind}{', slow' if r.slow else ''}) went from {r.topic}[{p}]@{o1} at "
                            f"{self.rec.rel(t1)} to @{o} at {self.rec.rel(t)}, never delivering {len(gap)} "
                            f"message(s) between (e.g. @{gap[0]})",
                            kinds=(r.kind,),
                        )
            last[p] = (o, t)
