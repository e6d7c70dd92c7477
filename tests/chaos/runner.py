"""One run: start a cluster, play the plan, stop, drain, disconnect, read the topics back, check."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Sequence
from typing import Any

from msgbus.testing import LocalKafka

from . import cluster
from .actors import HUNG_AFTER, Ctx, Writer
from .aio_reader import AioReader
from .check import Checker, Findings, Positions, connecting, drain_targets, fault_slack
from .check_reads import Offsets
from .readers import ReaderActor
from .record import Recorder
from .schedule import AIO_KINDS, POLICY_OF, TOPIC_PRE, TOPICS, Plan, make_plan

#: A group that has undelivered acknowledged messages and delivers nothing for this long in the drain is stuck.
DRAIN_TIMEOUT = 150.0
#: How long msgbus threads may take to end after the last disconnect returned.
THREADS_GRACE = 15.0


def msgbus_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("msgbus-") and t.is_alive()}


class Run:
    def __init__(self, plan: Plan, drain_timeout: float = DRAIN_TIMEOUT, group_protocol: str = "classic") -> None:
        self.plan = plan
        self.group_protocol = group_protocol
        self.drain_timeout = drain_timeout
        self.rec = Recorder()
        self.rec.group_protocol = group_protocol
        self.writers: list[Writer] = []
        self.readers: list[ReaderActor] = []
        self.helpers: list[threading.Thread] = []
        self.findings = Findings()
        self.topic_sizes: dict[str, int] = {}

    def execute(self) -> Findings:
        plan = self.plan
        baseline = msgbus_threads()
        kafka = LocalKafka(nodes=plan.nodes, heap_mb=512 if plan.nodes == 1 else 384)
        kafka.start()
        try:
            admin = cluster.admin_client(kafka)
            kafka.create_topic(TOPIC_PRE, partitions=plan.pre_partitions)
            self.rec = Recorder()  # times count from here: the cluster is up
            self.rec.group_protocol = self.group_protocol
            ctx = Ctx(self.rec, kafka.bootstrap_servers, self.group_protocol)
            try:
                self._play(ctx, kafka, admin)
            finally:
                self._stop(ctx, kafka, admin, baseline)
            positions, offsets, copies = self._read_back(kafka)
            for r in plan.readers:
                if POLICY_OF.get(r.kind) == "deadletter":
                    self.rec.dead[r.rid] = cluster.read_dead_letters(kafka.bootstrap_servers, r.dead_letter_topic())
        finally:
            kafka.stop()
        self.findings = Checker(self.rec, positions, offsets, copies).run()
        return self.findings

    # -- the run itself ---------------------------------------------------------------

    def _play(self, ctx: Ctx, kafka: LocalKafka, admin: Any) -> None:
        plan = self.plan
        faults = threading.Thread(
            target=cluster.run_faults, args=(ctx, kafka, admin, plan.faults), name="chaos-faults", daemon=True
        )
        faults.start()
        self.helpers.append(faults)
        events: list[tuple[float, int, Any]] = []
        events += [(w.start, 0, w) for w in plan.writers]
        events += [(r.start, 1, r) for r in plan.readers]
        events += [(g.at, 2, g) for g in plan.grows]
        # Stable order for equal times: the plan's order, so the schedule replays exactly.
        for at, kind, item in sorted(events, key=lambda e: (e[0], e[1])):
            self._sleep_until(ctx.at(at))
            if kind == 0:
                writer = Writer(ctx, item)
                self.writers.append(writer)
                writer.start()
            elif kind == 1:
                actor = AioReader(ctx, item) if item.kind in AIO_KINDS else ReaderActor(ctx, item)
                self.readers.append(actor)
                actor.start()
            else:
                thread = threading.Thread(target=cluster.grow, args=(ctx, admin, item), name="chaos-grow", daemon=True)
                self.helpers.append(thread)
                thread.start()
        self._sleep_until(ctx.at(plan.duration))

    @staticmethod
    def _sleep_until(t: float) -> None:
        while (left := t - time.monotonic()) > 0:
            time.sleep(min(left, 0.1))

    def _stop(self, ctx: Ctx, kafka: LocalKafka, admin: Any, baseline: set[threading.Thread]) -> None:
        rec = self.rec
        ctx.ending.set()
        self._join(self.helpers, 120, "fault/partition thread")
        cluster.restore(kafka)
        if not cluster.wait_whole(admin, kafka.nodes, 90):
            rec.note("the cluster was not whole 90 s after the last fault")
        # Writers end their session: disconnect flushes, so every write is now acknowledged or not.
        self._join(self.writers, HUNG_AFTER + 40, "writer")
        rec.drain_start = time.monotonic()
        ctx.draining.set()
        self._drain()
        rec.drain_end = time.monotonic()
        ctx.shutdown.set()
        self._join(self.readers, HUNG_AFTER + 20, "reader")
        for what in ctx.overdue(0):
            rec.add_hung(what)
        deadline = time.monotonic() + THREADS_GRACE
        while (left := msgbus_threads() - baseline) and time.monotonic() < deadline:
            time.sleep(0.1)
        rec.leaked.extend(
            f"thread {t.name} alive {THREADS_GRACE:g} s after every bus was disconnected"
            for t in sorted(left, key=lambda t: t.name)
        )

    def _join(self, threads: Sequence[threading.Thread], bound: float, what: str) -> None:
        deadline = time.monotonic() + bound
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                self.rec.add_hung(f"{what} {thread.name} did not finish within {bound:g} s")

    def _drain(self) -> None:
        """Let every group left deliver what it must; a group that stops delivering meanwhile is stuck.

        The groups to wait for are looked at again every round: a member still connecting when
        the drain began (a group rejoining after a fault may take tens of seconds) makes its
        group one to wait for once it is in, and the drain does not end while one is connecting.
        """
        rec = self.rec
        assert rec.drain_start is not None
        # A group with a member that left during a fault gets its partitions only once that session ran out.
        stuck_after = fault_slack(rec.group_protocol)
        delivered: dict[str, set[str]] = collections.defaultdict(set)
        last: dict[str, float] = {}
        #: Groups waited for -> when the drain began waiting for them.
        pending: dict[str, float] = {}
        judged: set[str] = set()
        seen = seen_given_up = 0
        deadline = rec.drain_start + self.drain_timeout
        while True:
            now = time.monotonic()
            targets = drain_targets(rec)
            for key, wanted in targets.items():
                if wanted and key not in judged and key not in pending:
                    pending[key] = now
            if not pending and not connecting(rec):
                return
            time.sleep(0.5)
            with rec.lock:
                batch = rec.deliveries[seen:]
                # A dropped or dead-lettered message counts as delivered.
                given_up = list(rec.gave_up[seen_given_up:])
            seen += len(batch)
            seen_given_up += len(given_up)
            for rid, text, t in batch + given_up:
                key = rec.readers[rid].key  # a replacement reader may have joined since the drain began
                delivered[key].add(text)
                last[key] = t
            now = time.monotonic()
            for key, since in sorted(pending.items()):
                missing = len(targets[key] - delivered[key])
                if missing == 0:
                    del pending[key]
                    judged.add(key)
                elif now - max(last.get(key, 0.0), since) > stuck_after:
                    rec.stuck.append(
                        f"{key}: {missing} of {len(targets[key])} acknowledged messages undelivered and nothing "
                        f"delivered for {stuck_after:g} s (drain started {rec.rel(rec.drain_start)})"
                    )
                    del pending[key]
                    judged.add(key)
            if now > deadline:
                for key in sorted(pending):
                    rec.note(f"drain timed out after {self.drain_timeout:g} s, {key} still delivering")
                for r in connecting(rec):
                    rec.note(f"drain timed out after {self.drain_timeout:g} s, r{r.rid} still connecting")
                return

    def _read_back(self, kafka: LocalKafka) -> tuple[Positions, Offsets, collections.Counter[str]]:
        positions: Positions = {}
        offsets: Offsets = collections.defaultdict(dict)
        copies: collections.Counter[str] = collections.Counter()
        for topic in TOPICS:
            rows = cluster.read_back(kafka.bootstrap_servers, topic)
            self.topic_sizes[topic] = len(rows)
            for partition, offset, text in rows:
                copies[text] += 1
                positions.setdefault(text, (topic, partition, offset))
                offsets[(topic, partition)][offset] = text
        return positions, dict(offsets), copies


def run_chaos(
    seed: int, duration: float, nodes: int, drain_timeout: float = DRAIN_TIMEOUT, group_protocol: str = "classic"
) -> Run:
    """Plan and execute one run; the caller reports (see report.py)."""
    run = Run(make_plan(seed, duration, nodes), drain_timeout, group_protocol)
    run.execute()
    return run
