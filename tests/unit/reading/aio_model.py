"""A Hypothesis stateful test of msgbus.aio's reads against a simple reference model.

An AsyncMsgBus over a stub reader whose Inbox the test feeds itself, driven
by random interleavings of: put, read, read with a timeout, reads by several
tasks at once, reads left waiting and then cancelled (also after a put woke
them and before they ran), async iteration (and leaving the loop), register
and unregister of a callback, a rebalance (commit, then ``forget`` and feed again from the
commit), a commit, and disconnect. The model is the queue as it must be:
everything fed in the current epoch of a partition and not yet delivered, in
order. Invariants:

- a message reaches the application at most once, except again after a
  rebalance of work that was not committed;
- every take is from the front of the queue (so order is kept within a partition);
- nothing is stuck: a read that returns None, and a task still waiting, leave nothing queued;
- a committed offset (``take_done``) is never past what the application finished,
  and reaches it once the application holds no unfinished message of the partition.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import AsyncGenerator, Awaitable
from typing import TypeVar, cast

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from reading_support import Key, StubReader, key_of

from msgbus import BusClosedError, CallbackError
from msgbus._reading.item import Item
from msgbus.aio import AsyncMsgBus

T = TypeVar("T")
PARTITIONS = (0, 1)
# Bound on a wait for the callback thread; reached only when something is broken.
WAIT = 5.0


class _Waiting:
    def __init__(self, task: asyncio.Task[str | None], registered: bool) -> None:
        self.task = task
        # A callback was registered at some time while it waited: it may end with CallbackError.
        self.may_see_callback = registered
        self.cancelled = False


class AioModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.stub = StubReader()
        self.inbox = self.stub.inbox
        self.bus = AsyncMsgBus(self.stub)
        # The reference model.
        self.queue: collections.deque[Key] = collections.deque()
        self.next_put = dict.fromkeys(PARTITIONS, 0)
        self.delivered: set[Key] = set()
        self.redeliverable: set[Key] = set()
        self.finished: set[Key] = set()
        # partition -> the furthest offset finished since its last rebalance.
        self.epoch_finished: dict[int, int] = {}
        self.commit: dict[int, int] = {}
        self.deliveries = 0
        # The application's side.
        self.waiting: list[_Waiting] = []
        self.callback_got: list[str] = []
        self.callback_seen = 0
        self.registered = False
        self.closed = False
        self.messages = cast(AsyncGenerator[str, None], aiter(self.bus))
        self.released: set[Key] = set()
        self.stale: set[Key] = set()  # leased before its partition was revoked
        self.outstanding: Key | None = None  # the async iterator's message, not finished yet
        self.iteration_over = False

    # -- helpers -------------------------------------------------------------------

    def run(self, coro: Awaitable[T]) -> T:
        # Bounded: a read that hangs fails the test instead.
        return self.loop.run_until_complete(asyncio.wait_for(coro, WAIT))

    def spin(self, iterations: int = 20) -> None:
        """Let the loop run its tasks ``iterations`` steps on (20: as far as they go)."""

        async def spin() -> None:
            for _ in range(iterations):
                await asyncio.sleep(0)

        self.run(spin())

    def take(self, got: list[str]) -> None:
        """Account for messages the application got since the last call: the front of the queue."""
        keys = [key_of(text) for text in got]
        front = list(self.queue)[: len(keys)]
        assert sorted(keys) == sorted(front), f"took {keys}, but the front of the queue is {front}"
        for key in keys:
            self.queue.popleft()
            if key in self.delivered:
                assert key in self.redeliverable, f"{key} delivered twice"
                self.redeliverable.discard(key)
            self.delivered.add(key)
            self.deliveries += 1

    def harvest(self, also: list[str] | None = None) -> None:
        """Account for the waiting tasks that ended (and ``also``, read meanwhile)."""
        got = list(also or [])
        still: list[_Waiting] = []
        for waiting in self.waiting:
            task = waiting.task
            if not task.done():
                still.append(waiting)
            elif task.cancelled():
                assert waiting.cancelled
            elif isinstance(task.exception(), CallbackError):
                assert waiting.may_see_callback
            elif isinstance(task.exception(), BusClosedError):
                assert self.closed
            else:
                msg = task.result()
                assert msg is not None, "a read without a deadline returned None"
                got.append(msg)
        self.waiting = still
        self.take(got)
        self.finish(got)

    def settle_callback(self) -> None:
        """Wait until the callback thread has had everything queued, and is idle."""
        if not self.registered:
            return
        expected = self.callback_seen + len(self.queue)
        deadline = time.monotonic() + WAIT
        # held beyond the async iterator's message: the callback thread still has one in hand.
        loop_holds = 1 if self.outstanding is not None else 0
        while (
            len(self.callback_got) < expected
            or self.inbox.taken < self.deliveries + len(self.queue)
            or self.inbox.progress().held > loop_holds
        ):
            assert time.monotonic() < deadline, "the callback did not get the queued messages"
            time.sleep(0.001)
        got = self.callback_got[self.callback_seen :]
        self.callback_seen = len(self.callback_got)
        self.take(got)
        self.finish(got)

    def finish(self, got: list[str]) -> None:
        for key in map(key_of, got):
            self.finished.add(key)
            if key in self.stale:
                # Taken before its partition was revoked: finishing it moves no commit (the new
                # owner's reads decide those), so the commit is not expected to reach it.
                self.stale.discard(key)
                continue
            self.epoch_finished[key[0]] = max(self.epoch_finished.get(key[0], -1), key[1])

    def check_done(self) -> None:
        """A commit never passes what the application finished, and reaches it once nothing is in hand."""
        for partition, offset in self.inbox.feed.take_done().items():
            for earlier in range(offset):
                # A message of a loop that was left (released) may be passed.
                key = (partition, earlier)
                assert key in self.finished or key in self.released, f"commit {offset} of {partition} before {key}"
            self.commit[partition] = offset
        for partition, furthest in self.epoch_finished.items():
            if self.outstanding is None or self.outstanding[0] != partition:
                assert self.commit.get(partition, 0) > furthest, f"partition {partition}'s commit is stuck"

    # -- rules -----------------------------------------------------------------------

    @precondition(lambda self: not self.closed)
    @rule(partition=st.sampled_from(PARTITIONS), count=st.integers(1, 3))
    def put(self, partition: int, count: int) -> None:
        start = self.next_put[partition]
        keys = [(partition, offset) for offset in range(start, start + count)]
        self.next_put[partition] += count
        self.queue.extend(keys)
        self.inbox.feed.put_items([Item(f"{p}:{o}", p, o, -1) for p, o in keys])
        self.settle_callback()

    @rule(timeout=st.sampled_from([0.0, 0.005]))
    def read(self, timeout: float) -> None:
        try:
            msg = self.run(self.bus.message_read(timeout=timeout))
        except CallbackError:
            assert self.registered
            msg = None
        except BusClosedError:
            assert self.closed
            msg = None
        else:
            assert not (self.closed or self.registered)
        self.harvest([msg] if msg is not None else [])
        if msg is None and not (self.closed or self.registered):
            assert not self.queue, "a read returned None while messages were queued"

    @rule(most=st.integers(1, 4), timeout=st.sampled_from([0.0, 0.005]))
    def read_many(self, most: int, timeout: float) -> None:
        queued = len(self.queue)
        try:
            msgs = self.run(self.bus.message_read_many(most, timeout=timeout))
        except CallbackError:
            assert self.registered
            msgs = []
        except BusClosedError:
            assert self.closed
            msgs = []
        else:
            assert not (self.closed or self.registered)
            # Up to ``most`` of what was queued, never fewer than that while some were queued.
            assert len(msgs) <= most
            if queued and not self.waiting:
                assert len(msgs) == min(most, queued), f"read_many({most}) gave {msgs} with {queued} queued"
        self.harvest(msgs)
        if not msgs and not (self.closed or self.registered):
            assert not self.queue, "read_many returned [] while messages were queued"

    @precondition(lambda self: not (self.closed or self.registered))
    @rule(tasks=st.integers(2, 4))
    def read_concurrently(self, tasks: int) -> None:
        async def reads() -> list[str | None]:
            return await asyncio.gather(*(self.bus.message_read(timeout=0.005) for _ in range(tasks)))

        results = self.run(reads())
        self.harvest([msg for msg in results if msg is not None])
        if None in results:
            assert not self.queue, "a read returned None while messages were queued"

    @precondition(lambda self: not self.closed and len(self.waiting) < 4)
    @rule(timeout=st.sampled_from([None, 60.0]), start=st.booleans())
    def start_waiting_read(self, timeout: float | None, start: bool) -> None:
        task = self.loop.create_task(self.bus.message_read(timeout=timeout))
        self.waiting.append(_Waiting(task, self.registered))
        if start:
            # Into its wait now (else it starts whenever the loop runs next).
            self.spin(3)
            self.harvest()

    @precondition(lambda self: bool(self.waiting))
    @rule(data=st.data(), later=st.integers(0, 3))
    def cancel_waiting_read(self, data: st.DataObject, later: int) -> None:
        self.cancel(data.draw(st.sampled_from(self.waiting)), later)

    @precondition(lambda self: bool(self.waiting) and not self.closed)
    @rule(partition=st.sampled_from(PARTITIONS), later=st.integers(0, 3))
    def put_and_cancel_reads(self, partition: int, later: int) -> None:
        # Defect 3's moment: a message comes in just as the waiting reads are given up
        # (each at another point of its wake-up).
        self.spin(3)
        self.harvest()
        self.put(partition, 1)
        for index, waiting in enumerate(self.waiting):
            self.cancel(waiting, (later + index) % 4)
        self.run_loop()

    def cancel(self, waiting: _Waiting, later: int) -> None:
        waiting.cancelled = True
        if later == 0:
            # Before the loop runs again: maybe after a put woke it, before it took anything.
            waiting.task.cancel()
            return

        # From inside the loop, ``later`` callbacks on: it may land between any two steps of the read.
        def cancel_in(count: int) -> None:
            if count:
                self.loop.call_soon(cancel_in, count - 1)
            else:
                waiting.task.cancel()

        self.loop.call_soon(cancel_in, later - 1)

    @rule(iterations=st.integers(1, 3))
    def run_loop_a_little(self, iterations: int) -> None:
        # Leaves tasks between two steps: a cancel may then come right after a take.
        self.spin(iterations)
        self.harvest()

    @rule()
    def run_loop(self) -> None:
        self.spin()
        self.harvest()
        if self.waiting and not (self.closed or self.registered):
            assert not self.queue, f"{len(self.waiting)} reads wait while {len(self.queue)} messages are queued"

    @precondition(lambda self: not (self.closed or self.registered or self.iteration_over))
    @rule()
    def iterate(self) -> None:
        self.spin()
        self.harvest()
        if not self.queue:
            return  # the iterator would wait; a timeout would end it
        # Asking for the next message finishes the one before.
        if self.outstanding is not None:
            self.finish([f"{self.outstanding[0]}:{self.outstanding[1]}"])
            self.outstanding = None
        msg = self.run(anext(self.messages))
        self.take([msg])
        self.outstanding = key_of(msg)

    @precondition(lambda self: self.outstanding is not None and not self.iteration_over)
    @rule()
    def leave_iteration(self) -> None:
        # break out of ``async for``: the message in hand is not finished, and a new loop starts.
        self.run(self.messages.aclose())
        self.harvest()  # waiting reads ran meanwhile
        assert self.outstanding is not None
        self.released.add(self.outstanding)
        self.outstanding = None
        self.messages = cast(AsyncGenerator[str, None], aiter(self.bus))

    @precondition(lambda self: not (self.closed or self.registered))
    @rule()
    def register(self) -> None:
        self.spin()
        self.harvest()
        lock = threading.Lock()

        def callback(msg: str) -> None:
            with lock:
                self.callback_got.append(msg)

        self.stub.register_cb(callback)
        self.registered = True
        for waiting in self.waiting:
            waiting.may_see_callback = True
        self.settle_callback()

    @precondition(lambda self: self.registered and not self.closed)
    @rule()
    def unregister(self) -> None:
        self.settle_callback()
        self.stub.unregister_cb()
        self.registered = False

    @precondition(lambda self: not self.closed)
    @rule(partition=st.sampled_from(PARTITIONS))
    def rebalance(self, partition: int) -> None:
        # The backend commits what was finished, the partition's queued messages are
        # dropped, and the next owner (here the same reader) reads on from the commit.
        self.settle_callback()
        self.check_done()
        queued = [key for key in self.queue if key[0] == partition]
        assert self.inbox.feed.forget([partition]) == len(queued)
        self.queue = collections.deque(key for key in self.queue if key[0] != partition)
        start = self.commit.get(partition, 0)
        self.redeliverable |= {key for key in self.delivered if key[0] == partition and key[1] >= start}
        self.next_put[partition] = start
        self.epoch_finished.pop(partition, None)
        if self.outstanding is not None and self.outstanding[0] == partition:
            self.stale.add(self.outstanding)

    @rule()
    def commit_done(self) -> None:
        self.check_done()

    @precondition(lambda self: not self.closed)
    @rule()
    def disconnect(self) -> None:
        self.settle_callback()
        self.run(self.bus.disconnect())
        self.closed = True
        self.registered = False
        self.spin()
        self.harvest()
        assert not self.waiting, "a read still waits after disconnect"
        if not self.iteration_over:
            if self.outstanding is not None:
                self.finish([f"{self.outstanding[0]}:{self.outstanding[1]}"])
                self.outstanding = None
            with pytest.raises(StopAsyncIteration):
                self.run(anext(self.messages))
            self.iteration_over = True
        self.check_done()

    # -- invariants ----------------------------------------------------------------

    @invariant()
    def the_inbox_holds_what_the_model_says(self) -> None:
        if not self.closed:
            assert [key_of(item[0]) for item in self.inbox.remaining()] == list(self.queue)
        assert self.inbox.taken == self.deliveries

    def teardown(self) -> None:
        try:
            for waiting in self.waiting:
                waiting.task.cancel()
            self.spin()
            self.run(self.loop.shutdown_asyncgens())
            self.stub.disconnect()
            self.run(self.loop.shutdown_default_executor())
        finally:
            self.loop.close()
