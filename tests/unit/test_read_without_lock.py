"""``message_read`` takes the front run's next text without the Inbox's lock (``Front``).

The deterministic cases pin the rule that makes this safe: whatever must stop
plain reads (a callback, close, a stopped reader) first turns the run's rest
into Items under the lock, so a read without the lock finds nothing left to
take. The seeded runs race every kind of take against each other, a callback
that comes and goes, commits and the feeder; a failure names its seed, and
``MSGBUS_SEED=<seed>`` runs that one again.
"""

from __future__ import annotations

import collections
import os
import random
import sys
import threading
import time

import pytest

from msgbus import BusClosedError, CallbackError, _queue
from msgbus._inbox import Inbox, Item

WAIT = 10.0


def _items(partition: int, start: int, count: int) -> list[Item]:
    return [(f"{partition}:{offset}", partition, offset, -1) for offset in range(start, start + count)]


def test_reads_stop_the_moment_a_callback_is_set_mid_run() -> None:
    inbox = Inbox(100, name="t")
    inbox.put_many(_items(0, 0, 4))
    assert inbox.read(0) == "0:0"
    inbox.set_callback(lambda msg: None)  # as register does, before its thread takes anything
    with pytest.raises(CallbackError):
        inbox.read(0)
    inbox.set_callback(None)
    assert [inbox.read(0) for _ in range(3)] == ["0:1", "0:2", "0:3"]
    assert inbox.take_done() == {0: 4}


def test_a_callback_registered_mid_run_gets_the_rest_and_reads_stop() -> None:
    inbox = Inbox(100, name="t")
    inbox.put_many(_items(0, 0, 10))
    assert [inbox.read(0) for _ in range(3)] == ["0:0", "0:1", "0:2"]  # a run, read without the lock
    got: list[str] = []
    done = threading.Event()

    def on_message(msg: str) -> None:
        got.append(msg)
        if len(got) == 7:
            done.set()

    inbox.register(on_message)
    try:
        with pytest.raises(CallbackError):
            inbox.read(0)
        assert done.wait(WAIT)
        assert got == [f"0:{i}" for i in range(3, 10)]
        assert inbox.take_done() == {0: 10}
    finally:
        inbox.close()


def test_close_mid_run_stops_reads_and_commits_only_what_was_read() -> None:
    inbox = Inbox(100, name="t")
    inbox.put_many(_items(0, 0, 10))
    assert inbox.read(0) == "0:0"
    assert inbox.read(0) == "0:1"
    inbox.close()
    with pytest.raises(BusClosedError):
        inbox.read(0)
    assert inbox.take_done() == {0: 2}
    assert [item[0] for item in inbox.remaining()] == [f"0:{i}" for i in range(2, 10)]


def test_every_take_after_reads_without_the_lock_goes_on_from_there() -> None:
    inbox = Inbox(100, name="t")
    inbox.put_many(_items(0, 0, 6))
    assert inbox.read(0) == "0:0"
    assert inbox.read_many(2, 0) == ["0:1", "0:2"]
    assert inbox.read(0) == "0:3"
    item = inbox.read_item(0, finished=False)  # the run's rest becomes Items; this one is held
    assert item is not None and item[0] == "0:4"
    assert inbox.take_done() == {0: 4}
    assert inbox.read(0) == "0:5"
    assert inbox.take_done().get(0, 4) == 4  # 0:4 is still held: nothing after it is committed
    inbox.finish(item)
    assert inbox.take_done() == {0: 6}
    assert inbox.taken == 6


def test_a_waiting_feeder_sees_room_made_by_reads_without_the_lock() -> None:
    inbox = Inbox(10, name="t")
    inbox.put_many(_items(0, 0, 10))
    assert inbox.read(0) == "0:0"  # starts the run; the rest is read without the lock
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(inbox.wait_room(5, WAIT)))
    thread.start()
    try:
        for _ in range(5):
            assert inbox.read(0) is not None
        thread.join(WAIT / 2)
        assert result == [True], "the feeder did not see the room it waited for"
    finally:
        inbox.close()
        thread.join(WAIT)


def _seeds() -> list[int]:
    seed = os.environ.get("MSGBUS_SEED")
    return [int(seed)] if seed else [1, 2, 3, 4, 5, 6]


class _Race:
    """One seeded race: a feeder, reader threads with random takes, a callback that comes and goes."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.partitions = self.rng.choice([1, 3])
        self.total = self.rng.choice([3_000, 8_000])
        self.inbox = Inbox(self.rng.choice([1, 5, 64, 1000]), name=f"race-{seed}")
        self.lock = threading.Lock()
        self.delivered: collections.Counter[str] = collections.Counter()
        self.count = 0
        self.sequences: list[list[str]] = []  # per taker, in the order each one got them
        self.commits: dict[int, list[int]] = collections.defaultdict(list)
        self.held: set[tuple[int, int]] = set()  # taken with finished=False, not finished yet
        self.errors: list[BaseException] = []
        self.stop = threading.Event()

    def got(self, sequence: list[str], texts: list[str]) -> None:
        sequence.extend(texts)
        with self.lock:
            self.delivered.update(texts)
            self.count += len(texts)

    def feed(self) -> None:
        rng = random.Random(self.seed * 7919)
        offsets = [0] * self.partitions
        sent = 0
        while sent < self.total:
            size = min(self.total - sent, rng.choice([1, 2, 17, 300]))
            if not self.inbox.wait_room(min(size, self.inbox.capacity), WAIT):
                self.errors.append(AssertionError(f"seed {self.seed}: the feeder waited for room in vain"))
                return
            partition = rng.randrange(self.partitions)
            self.inbox.put_many(_items(partition, offsets[partition], size))
            offsets[partition] += size
            sent += size

    def take(self, number: int) -> None:
        rng = random.Random(self.seed * 104729 + number)
        sequence: list[str] = []
        self.sequences.append(sequence)
        inbox = self.inbox
        while not self.stop.is_set():
            try:
                kind = rng.random()
                if kind < 0.7:
                    text = inbox.read(0.01)
                    if text is not None:
                        self.got(sequence, [text])
                elif kind < 0.85:
                    self.got(sequence, inbox.read_many(rng.choice([1, 5, 1000]), 0.01))
                else:
                    item = inbox.read_item(0.01, finished=False)
                    if item is not None:
                        with self.lock:
                            self.held.add((item[1], item[2]))
                        self.got(sequence, [item[0]])
                        time.sleep(rng.choice([0, 0.0002]))  # handling it, as a loop's body would
                        with self.lock:
                            self.held.discard((item[1], item[2]))
                        inbox.finish(item)
            except CallbackError:
                time.sleep(0.0005)
            except BusClosedError:
                return
            except BaseException as exc:  # reported by the test
                self.errors.append(exc)
                return

    def run(self) -> None:
        threads = [threading.Thread(target=self.feed)]
        threads += [threading.Thread(target=self.take, args=(i,)) for i in range(self.rng.choice([1, 2, 3]))]
        for thread in threads:
            thread.start()
        callback_sequence: list[str] = []
        self.sequences.append(callback_sequence)
        deadline = time.monotonic() + WAIT * 3
        try:
            while self.count < self.total and time.monotonic() < deadline and not self.errors:
                step = self.rng.random()
                if step < 0.3:
                    self.inbox.register(lambda msg: self.got(callback_sequence, [msg]))
                    time.sleep(self.rng.choice([0, 0.0005, 0.003]))
                    self.inbox.unregister()
                elif step < 0.6:
                    with self.lock:
                        done = self.inbox.take_done()
                        passed = [(p, o) for p, o in self.held if done.get(p, -1) > o]
                    assert not passed, f"seed {self.seed}: committed {done}, past held messages {passed}"
                    for partition, offset in done.items():
                        self.commits[partition].append(offset)
                time.sleep(self.rng.choice([0, 0.0002, 0.001]))
        finally:
            self.stop.set()
            self.inbox.close()
            for thread in threads:
                thread.join(WAIT)
        for partition, offset in self.inbox.take_done().items():
            self.commits[partition].append(offset)

    def check(self) -> None:
        where = f"seed {self.seed} (MSGBUS_SEED={self.seed} runs it again)"
        assert not self.errors, f"{where}: {self.errors[0]!r}"
        twice = [text for text, n in self.delivered.items() if n > 1]
        assert not twice, f"{where}: delivered more than once: {twice[:5]}"
        assert self.count == self.total, f"{where}: {self.count} of {self.total} delivered (some stranded)"
        for sequence in self.sequences:
            last: dict[int, int] = {}
            for text in sequence:
                partition, offset = map(int, text.split(":"))
                assert offset > last.get(partition, -1), f"{where}: one taker got {partition}:{offset} after {last}"
                last[partition] = offset
        ends = collections.Counter(int(text.split(":")[0]) for text in self.delivered)
        for partition, offsets in self.commits.items():
            assert offsets == sorted(offsets), f"{where}: partition {partition}'s commit went back: {offsets}"
            assert offsets[-1] == ends[partition], f"{where}: partition {partition} committed to {offsets[-1]}"


@pytest.fixture
def switch_often() -> collections.abc.Iterator[None]:
    """Threads switch every few microseconds (not every 5 ms): the races happen, not only may."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


@pytest.mark.parametrize("seed", _seeds())
def test_seeded_races_deliver_each_message_once_in_order_and_commit_all(seed: int, switch_often: None) -> None:
    race = _Race(seed)
    race.run()
    race.check()


def test_without_a_gil_every_read_takes_the_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_queue, "FAST_READS", False)  # as on a free-threaded build
    inbox = Inbox(100, name="t")
    inbox.put_many(_items(0, 0, 5))
    assert inbox.read(0) == "0:0"
    with pytest.raises(StopIteration):
        inbox.front.next()  # no run is open to reads without the lock
    assert [inbox.read(0) for _ in range(4)] == ["0:1", "0:2", "0:3", "0:4"]
    assert inbox.read(0) is None
    assert inbox.take_done() == {0: 5}
