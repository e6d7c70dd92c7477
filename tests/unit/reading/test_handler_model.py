"""The failure policy's steps (``Steps``) against a model: random takes, failures, hand-backs, reads.

One loop at a time (the documented use) leases messages and drives ``Steps``
as ``run(handler)`` and ``for msg in reader`` do: the handler succeeds, raises
(``failed``), or the loop is left while it holds the message (``left``); plain
reads may take messages in between. Policy: 3 attempts, then Drop. Invariants:

- order: every take returns the oldest message not yet finished, per partition;
- attempts: a message is handed out again after each of its first two failures,
  and finished (dropped) at its third; ``retried`` and ``dropped`` count exactly that;
- commits never pass a message that is not finished, and reach the end once all are.

``test_planted_bugs`` plants a bug in the steps and checks the model finds it.
"""

from __future__ import annotations

import collections
import time

import pytest
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

import msgbus
from msgbus._reading import leases
from msgbus._reading.inbox import Inbox
from msgbus._reading.item import Item
from msgbus._reading.steps import Do, Step, Steps

PARTITIONS = 2
POLICY = msgbus.Retry(attempts=3, backoff=0.001, max_backoff=0.001)
SETTINGS = settings(max_examples=150, stateful_step_count=40, deadline=None)


def no_dead_letters(_cfg: msgbus.MsgBusConfig) -> object:
    raise AssertionError("no dead letters under Retry-then-Drop")


class LoopRetries(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.inbox = Inbox(1000, name="model")
        cfg = msgbus.MsgBusConfig(topic="model", direction=msgbus.BusReader, on_handler_error=POLICY)
        self.inbox.failures.configure(cfg, no_dead_letters)  # type: ignore[arg-type]
        self.next_offset = [0] * PARTITIONS
        # The model: per partition, offsets not finished yet, oldest first; failures per message.
        self.open: dict[int, collections.deque[int]] = {p: collections.deque() for p in range(PARTITIONS)}
        self.failures: collections.Counter[tuple[int, int]] = collections.Counter()
        self.held: Steps | None = None
        self.committed = [0] * PARTITIONS
        self.retried = 0
        self.dropped = 0

    @rule(partition=st.integers(0, PARTITIONS - 1), count=st.integers(1, 3))
    def put(self, partition: int, count: int) -> None:
        items = []
        for _ in range(count):
            offset = self.next_offset[partition]
            self.next_offset[partition] += 1
            items.append(Item(f"{partition}:{offset}", partition, offset, 0))
            self.open[partition].append(offset)
        self.inbox.feed.put_items(items)

    def _check_oldest(self, item: Item) -> None:
        assert self.open[item.partition], item
        assert item.offset == self.open[item.partition][0], (item, self.open)

    def _carry_out(self, steps: Steps, step: Step) -> Step:
        while step.do is Do.WAIT:
            time.sleep(step.delay)
            step = steps.waited(True)
        return step

    @precondition(lambda self: self.held is None)
    @rule()
    def loop_take(self) -> None:
        item = self.inbox.leases.take(0)
        if item is None:
            assert not any(self.open.values())
            return
        self._check_oldest(item)
        steps = self.inbox.steps(item, "the model")
        step = self._carry_out(steps, steps.first())
        if step.do is Do.DONE:
            # Its attempts ran out in an earlier loop (a leave): dropped now.
            assert self.failures[(item.partition, item.offset)] >= POLICY.attempts
            self._finished(item)
            return
        assert step.do is Do.CALL, step
        self.held = steps

    @precondition(lambda self: self.held is not None)
    @rule()
    def handler_succeeds(self) -> None:
        assert self.held is not None
        steps, self.held = self.held, None
        assert steps.succeeded().do is Do.DONE
        self._finished(steps.item)

    @precondition(lambda self: self.held is not None)
    @rule()
    def handler_fails(self) -> None:
        """``run``: the handler raised; retried in place until its attempts run out, then dropped."""
        assert self.held is not None
        steps = self.held
        item = steps.item
        key = (item.partition, item.offset)
        self.failures[key] += 1
        step = self._carry_out(steps, steps.failed(ValueError("model")))
        if self.failures[key] < POLICY.attempts:
            self.retried += 1
            assert step.do is Do.CALL, step
        else:
            self.dropped += 1
            assert step.do is Do.DONE, step
            self.held = None
            self._finished(item)

    @precondition(lambda self: self.held is not None)
    @rule()
    def loop_left(self) -> None:
        """``for``: the loop was left while it held the message: a failed attempt, handed back."""
        assert self.held is not None
        steps, self.held = self.held, None
        item = steps.item
        key = (item.partition, item.offset)
        self.failures[key] += 1
        steps.left()
        if self.failures[key] < POLICY.attempts:
            self.retried += 1
        else:
            self.dropped += 1
            self._finished(item)

    @precondition(lambda self: self.held is None)
    @rule()
    def message_read(self) -> None:
        record = self.inbox.reads.read_record(0)
        if record is None:
            assert not any(self.open.values())
            return
        item = Item(record.text, record.partition, record.offset, record.timestamp)
        self._check_oldest(item)
        self._finished(item)

    def _finished(self, item: Item) -> None:
        self.open[item.partition].remove(item.offset)

    @rule()
    def commit(self) -> None:
        for partition, offset in self.inbox.feed.take_done().items():
            self.committed[partition] = max(self.committed[partition], offset)

    @invariant()
    def commits_never_pass_an_unfinished_message(self) -> None:
        self.commit()
        for partition in range(PARTITIONS):
            if self.open[partition]:
                assert self.committed[partition] <= self.open[partition][0], (partition, self.committed, self.open)

    @invariant()
    def counters_match(self) -> None:
        counts = self.inbox.failures.counts()
        assert (counts["retried"], counts["dropped"]) == (self.retried, self.dropped)

    def teardown(self) -> None:
        try:
            # Everything left is handled now: the commits reach the end of every partition.
            if self.held is not None:
                self.handler_succeeds()
            while any(self.open.values()):
                self.loop_take()
                if self.held is not None:
                    self.handler_succeeds()
            self.commit()
            assert self.committed == self.next_offset
        finally:
            self.inbox.close()


TestLoopRetries = LoopRetries.TestCase
TestLoopRetries.settings = SETTINGS


def _plant(monkeypatch: pytest.MonkeyPatch, bug: str) -> None:
    if bug == "steps: leaving the loop finishes the message":
        monkeypatch.setattr(Steps, "left", lambda self: self._leases.finish(self.item))
    elif bug == "steps: a retried failure is not counted":
        failed = Steps.failed

        def uncounted(self: Steps, exc: Exception) -> Step:
            step = failed(self, exc)
            if step.do is not Do.DONE:
                self._failures.retried -= 1
            return step

        monkeypatch.setattr(Steps, "failed", uncounted)
    elif bug == "steps: a handed-back message is released instead":
        monkeypatch.setattr(leases.Leases, "hand_back", lambda self, item, stop=None: self.release(item))
    else:
        raise AssertionError(bug)


@pytest.mark.parametrize(
    "bug",
    [
        "steps: leaving the loop finishes the message",
        "steps: a retried failure is not counted",
        "steps: a handed-back message is released instead",
    ],
)
def test_planted_bugs(monkeypatch: pytest.MonkeyPatch, bug: str) -> None:
    _plant(monkeypatch, bug)
    # Generation only: a bug found is enough (no shrinking, whose replays the threads make flaky).
    with pytest.raises((AssertionError, Flaky)):
        run_state_machine_as_test(
            LoopRetries,
            settings=settings(
                SETTINGS,
                max_examples=1000,
                database=None,
                print_blob=False,
                report_multiple_bugs=False,
                phases=[Phase.generate],
            ),
        )
