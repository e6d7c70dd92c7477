"""The Inbox against a reference model: random interleavings, checked invariants.

Hypothesis drives puts, reads (finished at once, or later as iteration and
msgbus.aio do), reads with a timeout, callbacks registered and unregistered,
rebalances (forget), commits (take_done) and close. The model is a plain list
per inbox; the invariants are the promises of docs/behaviour.md and docs/reliability.md:

- a message reaches the application at most once, except a message of a
  revoked partition that was not committed yet (its new owner reads it again);
- order is kept within a partition (and the inbox is one FIFO);
- nothing is stuck: a read finds a message whenever one is queued;
- a committed offset is never past what the application has finished.
"""

from __future__ import annotations

import collections
import threading
import time

import pytest
from confluent_kafka import Message
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from msgbus import BusClosedError, CallbackError
from msgbus._inbox import Inbox, Item
from msgbus._kafka._reader import _MessageCodec

PARTITIONS = 3
CAPACITY = 8
# Bound on waiting for the callback thread; reached only when the inbox is broken.
WAIT = 5.0


def wait_until(predicate: collections.abc.Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


class InboxMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.inbox = Inbox(CAPACITY, name="model")
        self.queue: list[Item] = []  # the model: what the inbox holds, in order
        self.next_offset = [0] * PARTITIONS  # where the feeder is in each partition
        self.committed = [0] * PARTITIONS  # what take_done() reported so far (next offset)
        self.finished: list[set[int]] = [set() for _ in range(PARTITIONS)]
        self.held: list[Item] = []  # taken with finished=False, not finished yet (oldest first)
        self.deliveries: collections.Counter[tuple[int, int]] = collections.Counter()
        self.allowed: collections.Counter[tuple[int, int]] = collections.Counter()
        self.last: list[int] = [-1] * PARTITIONS  # last offset delivered per partition since its last rebalance
        self.got: list[str] = []  # what the callback received
        self.got_lock = threading.Lock()
        self.registered = False
        self.closed = False

    def teardown(self) -> None:
        self.inbox.close()

    # -- helpers ------------------------------------------------------------

    def _delivered(self, item: Item) -> None:
        key = (item[1], item[2])
        self.deliveries[key] += 1
        assert self.deliveries[key] <= 1 + self.allowed[key], f"{key} delivered {self.deliveries[key]} times"
        assert item[2] > self.last[item[1]], f"partition {item[1]} went back from {self.last[item[1]]} to {item[2]}"
        self.last[item[1]] = item[2]

    def _take_front(self, item: Item | None) -> None:
        assert self.queue, f"read {item} from an empty inbox"
        assert item == self.queue[0], f"read {item}, the front is {self.queue[0]}"
        self.queue.pop(0)
        self._delivered(item)

    def _callback(self, msg: str) -> None:
        with self.got_lock:
            self.got.append(msg)

    def _absorb_callback(self) -> None:
        """Check what the callback got so far against the front of the model; it finished those."""
        with self.got_lock:
            got, self.got = self.got, []
        assert got == [item[0] for item in self.queue[: len(got)]]
        for item in self.queue[: len(got)]:
            self._delivered(item)
            self.finished[item[1]].add(item[2])
        del self.queue[: len(got)]

    def _settle_callback(self) -> None:
        """Wait until the callback thread is idle and has taken everything, then check what it got."""
        assert wait_until(lambda: self.inbox.available() == 0 and not self.inbox._holding)
        self._absorb_callback()
        assert not self.queue, "the callback left messages behind"

    # -- rules ----------------------------------------------------------------

    @precondition(lambda self: not self.closed)
    @rule(partition=st.integers(0, PARTITIONS - 1), count=st.integers(1, 4))
    def put(self, partition: int, count: int) -> None:
        # The feeder puts only what fits (free()), as the backends do.
        count = min(count, self.inbox.free())
        if count <= 0:
            return
        start = self.next_offset[partition]
        items = [(f"p{partition}o{o}", partition, o, -1) for o in range(start, start + count)]
        self.next_offset[partition] += count
        self.queue.extend(items)
        self.inbox.put_many(items)

    @precondition(lambda self: not self.closed)
    @rule(partitions=st.lists(st.integers(0, PARTITIONS - 1), min_size=1, max_size=5), ends=st.booleans())
    def put_kafka_batch(self, partitions: list[int], ends: bool) -> None:
        # As the Kafka reader does: confluent-kafka Messages, converted only when read.
        partitions = partitions[: self.inbox.free()]
        if not partitions:
            return
        batch = []
        for partition in partitions:
            offset = self.next_offset[partition]
            self.next_offset[partition] += 1
            self.queue.append((f"p{partition}o{offset}", partition, offset, 0))
            batch.append(Message(value=f"p{partition}o{offset}".encode(), partition=partition, offset=offset))
        codec = _MessageCodec("model")
        self.inbox.put_raw(batch, codec, codec.ends(batch) if ends else None)

    @precondition(lambda self: not self.closed and not self.registered)
    @rule(finished=st.booleans(), timeout=st.sampled_from([0.0, 0.01]))
    def read(self, finished: bool, timeout: float) -> None:
        expected_none = not self.queue
        item = self.inbox.read_item(timeout, finished=finished)
        if expected_none:
            assert item is None
            return
        assert item is not None, "a message was queued, but the read found none"
        self._take_front(item)
        if finished:
            self.finished[item[1]].add(item[2])
        else:
            self.held.append(item)

    @precondition(lambda self: not self.closed and not self.registered)
    @rule(most=st.integers(1, 5), timeout=st.sampled_from([0.0, 0.01]))
    def read_many(self, most: int, timeout: float) -> None:
        expected = [item[0] for item in self.queue[:most]]
        texts = self.inbox.read_many(most, timeout)
        assert texts == expected, f"read_many({most}) gave {texts}, the front is {expected}"
        for _ in texts:
            item = self.queue[0]
            self._take_front(item)
            self.finished[item[1]].add(item[2])

    @precondition(lambda self: not self.closed and not self.registered)
    @rule()
    def read_text(self) -> None:
        text = self.inbox.read(0)
        if not self.queue:
            assert text is None
            return
        front = self.queue[0]
        assert text == front[0]
        self._take_front(front)
        self.finished[front[1]].add(front[2])

    @precondition(lambda self: bool(self.held))
    @rule(pick=st.integers(0, 7))
    def finish(self, pick: int) -> None:
        # Not always the oldest: several reader tasks finish in any order.
        item = self.held.pop(pick % len(self.held))
        self.inbox.finish(item)
        self.finished[item[1]].add(item[2])

    @precondition(lambda self: bool(self.held))
    @rule()
    def abandon_oldest(self) -> None:
        """A loop left with a message in hand (break): it is released, not finished."""
        item = self.held.pop(0)
        self.inbox.release(item)
        # Later messages of its partition may be committed past it, as before it was held.
        self.finished[item[1]].add(item[2])

    @rule()
    def commit(self) -> None:
        done = self.inbox.take_done()
        # After take_done: the callback records a message as done only after it got it.
        self._absorb_callback()
        for partition, offset in done.items():
            self.committed[partition] = max(self.committed[partition], offset)

    @precondition(lambda self: not self.closed and not self.registered)
    @rule()
    def register(self) -> None:
        self.inbox.register(self._callback)
        self.registered = True

    @precondition(lambda self: not self.closed and self.registered)
    @rule()
    def read_while_registered_is_refused(self) -> None:
        with pytest.raises(CallbackError):
            self.inbox.read_item(0)

    @precondition(lambda self: not self.closed and self.registered)
    @rule()
    def unregister(self) -> None:
        self._settle_callback()
        self.inbox.unregister()
        self.registered = False

    @precondition(lambda self: not self.closed)
    @rule(partitions=st.sets(st.integers(0, PARTITIONS - 1), min_size=1))
    def rebalance(self, partitions: set[int]) -> None:
        """The partitions are revoked and come back: queued messages are forgotten and read again from the commit."""
        if self.registered:
            self._settle_callback()
        self.inbox.forget(partitions)
        self.commit()  # the reader commits on revoke
        self.queue = [item for item in self.queue if item[1] not in partitions]
        for partition in partitions:
            start = self.committed[partition]
            # What was delivered but not committed may come again, once more.
            for offset in range(start, self.next_offset[partition]):
                if self.deliveries[(partition, offset)]:
                    self.allowed[(partition, offset)] += 1
            self.next_offset[partition] = start
            self.last[partition] = start - 1

    @precondition(lambda self: not self.closed)
    @rule()
    def close(self) -> None:
        if self.registered:
            self._settle_callback()
        self.inbox.close()
        self.closed = True

    @precondition(lambda self: self.closed)
    @rule()
    def read_after_close_is_refused(self) -> None:
        with pytest.raises(BusClosedError):
            self.inbox.read_item(0)

    # -- invariants ---------------------------------------------------------------

    @invariant()
    def committed_is_never_past_what_was_finished(self) -> None:
        for partition in range(PARTITIONS):
            unfinished = [o for o in range(self.committed[partition]) if o not in self.finished[partition]]
            assert not unfinished, f"partition {partition} committed to {self.committed[partition]}: {unfinished}"

    @invariant()
    def the_counts_agree(self) -> None:
        if not self.registered:
            assert self.inbox.available() == len(self.queue)


TestInbox = InboxMachine.TestCase
TestInbox.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
