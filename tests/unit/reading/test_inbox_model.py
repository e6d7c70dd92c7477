"""The inbox's parts against a reference model: random interleavings, checked invariants.

Hypothesis drives the feeding side (puts of Items and of confluent-kafka
batches, ``forget`` on a rebalance, ``take_done``), the application's reads
(``read``, ``read_many``, ``read_record``), leases (take, finish, release,
hand back), a callback registered and unregistered, and close. The model is a
plain list of what is queued; the invariants are the README's promises:

- a message reaches the application at most once, except a message of a
  revoked partition that was not committed yet (its new owner reads it again),
  and a message handed back (it is read again);
- order is kept: every take is from the front (the inbox is one FIFO);
- nothing is stuck: a read finds a message whenever one is queued;
- a committed offset is never past a message the application has not finished;
- ``progress()`` counts what the model counts.

``test_planted_bugs`` plants one bug in each part and checks the model finds it.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

import pytest
from confluent_kafka import Message
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from msgbus import BusClosedError, CallbackError
from msgbus._backends.kafka._codec import MessageCodec
from msgbus._reading import dispatcher, feed, leases, offsets, reads
from msgbus._reading.inbox import Inbox
from msgbus._reading.item import Item

PARTITIONS = 3
CAPACITY = 8
# Bound on waiting for the callback thread; reached only when the inbox is broken.
WAIT = 5.0
SETTINGS = settings(max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=list(HealthCheck))


def wait_until(predicate: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def key(item: Item) -> tuple[int, int]:
    return item.partition, item.offset


class InboxMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.inbox = Inbox(CAPACITY, name="model")
        self.queue: list[Item] = []  # the model: what the inbox holds, in order
        self.next_offset = [0] * PARTITIONS  # where the feeder is in each partition
        self.committed = [0] * PARTITIONS  # what take_done() reported so far (next offset)
        self.finished: list[set[int]] = [set() for _ in range(PARTITIONS)]
        self.released: list[set[int]] = [set() for _ in range(PARTITIONS)]
        self.held: list[Item] = []  # leased, not finished yet (oldest first)
        # Of those, the leases taken before their partition was revoked (by identity): stale.
        self.stale: list[Item] = []
        self.deliveries: collections.Counter[tuple[int, int]] = collections.Counter()
        self.allowed: collections.Counter[tuple[int, int]] = collections.Counter()
        self.taken = 0  # messages handed out, less those handed back
        self.got: list[str] = []  # what the callback received
        self.got_lock = threading.Lock()
        self.registered = False
        self.closed = False

    def teardown(self) -> None:
        self.inbox.close()

    # -- helpers ------------------------------------------------------------

    def _delivered(self, item: Item) -> None:
        k = key(item)
        self.deliveries[k] += 1
        self.taken += 1
        assert self.deliveries[k] <= 1 + self.allowed[k], f"{k} delivered {self.deliveries[k]} times"

    def _take_front(self, item: Item) -> None:
        assert self.queue, f"read {item} from an empty inbox"
        front = self.queue.pop(0)
        assert key(item) == key(front) and item.text == front.text, f"read {item}, the front is {front}"
        self._delivered(front)

    def _callback(self, msg: str) -> None:
        with self.got_lock:
            self.got.append(msg)

    def _absorb_callback(self) -> None:
        """Check what the callback got so far against the front of the model; it finished those."""
        with self.got_lock:
            got, self.got = self.got, []
        assert got == [item.text for item in self.queue[: len(got)]], (got, self.queue)
        for item in self.queue[: len(got)]:
            self._delivered(item)
            self.finished[item.partition].add(item.offset)
        del self.queue[: len(got)]

    def _settle_callback(self) -> None:
        """Wait until the callback thread is idle and has taken everything, then check what it got."""
        leased = len(self.held)
        assert wait_until(lambda: self.inbox.reads.available() == 0 and self.inbox.progress().held == leased), (
            "the callback thread did not take everything"
        )
        self._absorb_callback()
        assert not self.queue, f"the callback left {self.queue} behind"

    # -- the feeding side ------------------------------------------------------------

    @precondition(lambda self: not self.closed)
    @rule(partition=st.integers(0, PARTITIONS - 1), count=st.integers(1, 4))
    def put_items(self, partition: int, count: int) -> None:
        # The feeder puts only what fits (free()), as the backends do.
        count = min(count, self.inbox.feed.free())
        if count <= 0:
            return
        start = self.next_offset[partition]
        items = [Item(f"p{partition}o{o}", partition, o, -1, ((f"h{o}", None),)) for o in range(start, start + count)]
        self.next_offset[partition] += count
        self.queue.extend(items)
        self.inbox.feed.put_items(items)

    @precondition(lambda self: not self.closed)
    @rule(partitions=st.lists(st.integers(0, PARTITIONS - 1), min_size=1, max_size=5), ends=st.booleans())
    def put_kafka_batch(self, partitions: list[int], ends: bool) -> None:
        # As the Kafka reader does: confluent-kafka Messages, decoded only when read.
        partitions = partitions[: self.inbox.feed.free()]
        if not partitions:
            return
        batch = []
        for partition in partitions:
            offset = self.next_offset[partition]
            self.next_offset[partition] += 1
            self.queue.append(Item(f"p{partition}o{offset}", partition, offset, 0))
            batch.append(Message(value=f"p{partition}o{offset}".encode(), partition=partition, offset=offset))
        codec = MessageCodec("model")
        self.inbox.feed.put(batch, codec, codec.ends(batch) if ends else None)

    @rule()
    def commit(self) -> None:
        done = self.inbox.feed.take_done()
        # After take_done: the callback's message counts as finished only once its call returned.
        self._absorb_callback()
        for partition, offset in done.items():
            self.committed[partition] = max(self.committed[partition], offset)

    @precondition(lambda self: not self.closed)
    @rule(partitions=st.sets(st.integers(0, PARTITIONS - 1), min_size=1))
    def rebalance(self, partitions: set[int]) -> None:
        """Revoked and assigned again: queued messages are forgotten and read again from the commit."""
        if self.registered:
            self._settle_callback()
        dropped = self.inbox.feed.forget(partitions)
        assert dropped == sum(1 for item in self.queue if item.partition in partitions)
        self.commit()  # the reader commits on revoke
        self.queue = [item for item in self.queue if item.partition not in partitions]
        self.stale += [item for item in self.held if item.partition in partitions]
        for partition in partitions:
            start = self.committed[partition]
            # What was delivered but not committed may come again, once more.
            for offset in range(start, self.next_offset[partition]):
                if self.deliveries[(partition, offset)]:
                    self.allowed[(partition, offset)] += 1
            self.next_offset[partition] = start

    # -- the application's reads ---------------------------------------------------------

    @precondition(lambda self: not self.closed and not self.registered)
    @rule(timeout=st.sampled_from([0.0, 0.01]))
    def read(self, timeout: float) -> None:
        text = self.inbox.reads.read(timeout)
        if not self.queue:
            assert text is None
            return
        assert text is not None, "a message was queued, but the read found none"
        front = self.queue[0]
        assert text == front.text, f"read {text}, the front is {front}"
        self._take_front(front)
        self.finished[front.partition].add(front.offset)

    @precondition(lambda self: not self.closed and not self.registered)
    @rule(most=st.integers(1, 5), timeout=st.sampled_from([0.0, 0.01]))
    def read_many(self, most: int, timeout: float) -> None:
        expected = [item.text for item in self.queue[:most]]
        texts = self.inbox.reads.read_many(most, timeout)
        assert texts == expected, f"read_many({most}) gave {texts}, the front is {expected}"
        for _ in texts:
            item = self.queue[0]
            self._take_front(item)
            self.finished[item.partition].add(item.offset)

    @precondition(lambda self: not self.closed and not self.registered)
    @rule()
    def read_record(self) -> None:
        record = self.inbox.reads.read_record(0)
        if not self.queue:
            assert record is None
            return
        assert record is not None
        front = self.queue[0]
        assert (record.text, record.partition, record.offset, record.headers) == (
            front.text,
            front.partition,
            front.offset,
            front.headers,
        )
        self._take_front(front)
        self.finished[front.partition].add(front.offset)

    # -- leases -------------------------------------------------------------------------------

    @precondition(lambda self: not self.closed and not self.registered and len(self.held) < 4)
    @rule()
    def lease(self) -> None:
        item = self.inbox.leases.take(0)
        if not self.queue:
            assert item is None
            return
        assert item is not None
        self._take_front(item)
        self.held.append(item)

    @precondition(lambda self: bool(self.held))
    @rule(pick=st.integers(0, 7))
    def finish(self, pick: int) -> None:
        # Not always the oldest: several aio tasks finish in any order.
        item = self.held.pop(pick % len(self.held))
        self.inbox.leases.finish(item)
        self.finished[item.partition].add(item.offset)

    @precondition(lambda self: bool(self.held))
    @rule(pick=st.integers(0, 7))
    def release(self, pick: int) -> None:
        """A loop left with a message in hand (break): later messages may be committed past it."""
        item = self.held.pop(pick % len(self.held))
        self.inbox.leases.release(item)
        self.released[item.partition].add(item.offset)

    @precondition(lambda self: bool(self.held) and not self.closed)
    @rule(pick=st.integers(0, 7))
    def hand_back(self, pick: int) -> None:
        """A failed attempt: the message goes back in front (after the callback's, if it has one), read again."""
        if self.registered:
            self._settle_callback()
        item = self.held.pop(pick % len(self.held))
        self.inbox.leases.hand_back(item)
        if any(item is stale for stale in self.stale):
            # Its partition was revoked since: the new owner reads it from the commit.
            self.stale = [stale for stale in self.stale if stale is not item]
            return
        self.queue.insert(0, item)
        self.allowed[key(item)] += 1
        self.taken -= 1

    # -- the callback ------------------------------------------------------------------------

    @precondition(lambda self: not self.closed and not self.registered)
    @rule()
    def register(self) -> None:
        self.inbox.register(self._callback)
        self.registered = True

    @precondition(lambda self: not self.closed and self.registered)
    @rule()
    def reads_while_registered_are_refused(self) -> None:
        with pytest.raises(CallbackError):
            self.inbox.reads.read(0)
        with pytest.raises(CallbackError):
            self.inbox.leases.take(0)

    @precondition(lambda self: not self.closed and self.registered)
    @rule()
    def unregister(self) -> None:
        self._settle_callback()
        self.inbox.unregister()
        self.registered = False

    @precondition(lambda self: not self.closed)
    @rule()
    def close(self) -> None:
        if self.registered:
            self._settle_callback()
        self.inbox.close()
        self.closed = True

    @precondition(lambda self: self.closed)
    @rule()
    def reads_after_close_are_refused(self) -> None:
        with pytest.raises(BusClosedError):
            self.inbox.reads.read(0)
        with pytest.raises(BusClosedError):
            self.inbox.leases.take(0)

    # -- invariants ---------------------------------------------------------------

    @invariant()
    def committed_is_never_past_what_was_finished(self) -> None:
        self.commit()
        for partition in range(PARTITIONS):
            done = self.finished[partition] | self.released[partition]
            # A released message may be passed; one never finished (held, or queued), never.
            behind = [o for o in range(self.committed[partition]) if o not in done]
            assert not behind, f"partition {partition} committed to {self.committed[partition]} past {behind}"

    @invariant()
    def progress_agrees(self) -> None:
        if self.registered:
            return  # the callback thread moves on its own
        progress = self.inbox.progress()
        assert progress.queued == len(self.queue) == self.inbox.reads.available()
        assert progress.held == len(self.held)
        assert progress.taken == self.taken, (progress, self.taken)
        assert (progress.oldest_held_at is None) == (not self.held)


TestInbox = InboxMachine.TestCase
TestInbox.settings = SETTINGS


def _plant(monkeypatch: pytest.MonkeyPatch, bug: str) -> None:
    """Break one part the way a careless change would."""
    if bug == "reads: read_many skips a message":
        take = reads.Reads._take_texts

        def skipping(self: reads.Reads, most: int) -> list[str] | None:
            got = take(self, most)
            return got[1:] or None if got and len(got) > 1 else got

        monkeypatch.setattr(reads.Reads, "_take_texts", skipping)
    elif bug == "offsets: a hold does not hold back the commit":
        monkeypatch.setattr(offsets.DoneOffsets, "hold", lambda self, item: None)
    elif bug == "leases: a handed-back message is not held any more":
        hand_back = leases.Leases.hand_back

        def unheld(self: leases.Leases, item: Item, stop: object = None) -> None:
            self._store.offsets.release(item)
            hand_back(self, item)

        monkeypatch.setattr(leases.Leases, "hand_back", unheld)
    elif bug == "feed: forget leaves the revoked partitions' messages queued":
        monkeypatch.setattr(feed.Feed, "forget", lambda self, partitions: 0)
    elif bug == "dispatcher: the message in hand is never taken":
        next_ = dispatcher.Dispatcher._next
        monkeypatch.setattr(dispatcher.Dispatcher, "_next", lambda self, finished: next_(self, False))
    else:
        raise AssertionError(bug)


@pytest.mark.parametrize(
    "bug",
    [
        "reads: read_many skips a message",
        "offsets: a hold does not hold back the commit",
        "leases: a handed-back message is not held any more",
        "feed: forget leaves the revoked partitions' messages queued",
        "dispatcher: the message in hand is never taken",
    ],
)
def test_planted_bugs(monkeypatch: pytest.MonkeyPatch, bug: str) -> None:
    _plant(monkeypatch, bug)
    # Generation only: a bug found is enough (no shrinking, whose replays the threads make flaky).
    with pytest.raises((AssertionError, Flaky)):
        run_state_machine_as_test(
            InboxMachine,
            settings=settings(
                SETTINGS,
                max_examples=3000,
                database=None,
                print_blob=False,
                report_multiple_bugs=False,
                phases=[Phase.generate],
            ),
        )
