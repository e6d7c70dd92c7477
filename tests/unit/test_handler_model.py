"""The loops' retry bookkeeping (issue 13) against a model: random takes, hand-backs, finishes, reads.

One loop at a time (the documented use) takes messages with ``take_for_loop``; it either
finishes the one it holds or leaves the loop (``loop_left``: a failed attempt), and
``message_read`` may take messages in between. Policy: 3 attempts, then Drop. Invariants:

- order: every take returns the oldest message not yet finished, per partition;
- attempts: a message is handed out again after each of its first two failures, and
  finished (dropped) at its third; ``retried`` and ``dropped`` count exactly that;
- commits never pass a message that is not finished, and reach the end once all are.
"""

from __future__ import annotations

import collections

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import msgbus
from msgbus import _loops
from msgbus._inbox import Inbox, Item

PARTITIONS = 2
POLICY = msgbus.Retry(attempts=3, backoff=1e-6, max_backoff=1e-6)


class LoopRetries(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.inbox = Inbox(1000, name="model")
        cfg = msgbus.MsgBusConfig(topic="model", direction=msgbus.BusReader, on_handler_error=POLICY)
        self.inbox.failures.configure(cfg, lambda _cfg: (_ for _ in ()).throw(AssertionError("no dead letters")))
        self.next_offset = [0] * PARTITIONS
        # The model: per partition, offsets not finished yet, oldest first; failures per message.
        self.open: dict[int, collections.deque[int]] = {p: collections.deque() for p in range(PARTITIONS)}
        self.failures: collections.Counter[tuple[int, int]] = collections.Counter()
        self.finished: set[tuple[int, int]] = set()
        self.held: Item | None = None
        self.committed = [0] * PARTITIONS
        self.retried = 0
        self.dropped = 0

    @rule(partition=st.integers(0, PARTITIONS - 1), count=st.integers(1, 3))
    def put(self, partition: int, count: int) -> None:
        items = []
        for _ in range(count):
            offset = self.next_offset[partition]
            self.next_offset[partition] += 1
            items.append((f"{partition}:{offset}", partition, offset, 0))
            self.open[partition].append(offset)
        self.inbox.put_many(items)

    def _check_oldest(self, item: Item) -> None:
        oldest = [self.open[p][0] for p in range(PARTITIONS) if self.open[p]]
        assert item[2] == self.open[item[1]][0], (item, self.open)
        assert oldest, item

    @precondition(lambda self: self.held is None)
    @rule()
    def loop_take(self) -> None:
        item = self.inbox.take_for_loop(0)
        if item is None:
            assert not any(self.open.values())
            return
        self._check_oldest(item)
        self.held = item

    @precondition(lambda self: self.held is not None)
    @rule()
    def loop_finishes(self) -> None:
        assert self.held is not None
        item, self.held = self.held, None
        self.inbox.failures.succeeded(item)
        self.inbox.finish(item)
        self._finished(item)

    @precondition(lambda self: self.held is not None)
    @rule()
    def loop_left(self) -> None:
        assert self.held is not None
        item, self.held = self.held, None
        key = (item[1], item[2])
        self.failures[key] += 1
        _loops.loop_left(self.inbox, item)
        if self.failures[key] < POLICY.attempts:
            self.retried += 1
        else:
            self.dropped += 1
            self._finished(item)

    @precondition(lambda self: self.held is None)
    @rule()
    def message_read(self) -> None:
        item = self.inbox.read_item(0)
        if item is None:
            assert not any(self.open.values())
            return
        self._check_oldest(item)
        self._finished(item)

    def _finished(self, item: Item) -> None:
        self.open[item[1]].remove(item[2])
        self.finished.add((item[1], item[2]))

    @rule()
    def commit(self) -> None:
        for partition, offset in self.inbox.take_done().items():
            self.committed[partition] = max(self.committed[partition], offset)

    @invariant()
    def commits_never_pass_an_unfinished_message(self) -> None:
        pending = dict(self.inbox.done)
        for partition in range(PARTITIONS):
            upto = max(self.committed[partition], pending.get(partition, 0))
            if self.open[partition]:
                assert upto <= self.open[partition][0], (partition, upto, self.open[partition])

    @invariant()
    def counters_match(self) -> None:
        counts = self.inbox.failures.counts()
        assert (counts["retried"], counts["dropped"]) == (self.retried, self.dropped)

    def teardown(self) -> None:
        # Everything left is handled now: the commits reach the end of every partition.
        if self.held is not None:
            self.loop_finishes()
        while True:
            item = self.inbox.take_for_loop(0)
            if item is None:
                break
            self._check_oldest(item)
            self.inbox.finish(item)
            self._finished(item)
        assert not any(self.open.values())
        for partition, offset in self.inbox.take_done().items():
            self.committed[partition] = max(self.committed[partition], offset)
        assert self.committed == self.next_offset
        self.inbox.close()


TestLoopRetries = LoopRetries.TestCase
TestLoopRetries.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
