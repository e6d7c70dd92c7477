"""Each group protocol on a real broker: members join and leave a group while a writer writes.

Eager ("classic") revokes every partition at every join and leave; the incremental
protocols ("classic-cooperative", "consumer") move only what changes hands. In all of
them, every message must reach the group at least once. Joins and leaves here are
clean (connect, disconnect), so each revoke commits what the member finished; what the
group reads twice is what members had taken in but not finished when a partition moved:
at most one message per member per rebalance (docs/rebalances.md).

Except with "classic-cooperative": librdkafka's commit on revoke is refused
(ILLEGAL_GENERATION) when the rebalance's second round has already begun, and then the
new owner reads again what the old one finished since the last periodic commit: at most
one commit interval's (1 s) worth of the moved partitions' messages per rebalance.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid

import pytest

import msgbus
from msgbus.testing import LocalKafka

from .helpers import BusFactory, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROTOCOLS = ["classic", "classic-cooperative", "consumer"]
_PARTITIONS = 6
#: librdkafka's periodic commit (auto.commit.interval.ms in msgbus._backends.kafka._settings).
_COMMIT_INTERVAL_S = 1.0


class Member:
    """A reader of the group and the thread reading it; records what it got."""

    def __init__(self, buses: BusFactory, topic: str, group: str, protocol: str) -> None:
        self.bus = buses.reader(topic, group_id=group, group_protocol=protocol, connect_timeout=15)
        self.got: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="test-member", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            msg = self.bus.message_read(timeout=0.1)
            if msg is not None:
                self.got.append(msg)

    def leave(self) -> None:
        self._stop.set()
        self._thread.join(10)
        assert not self._thread.is_alive()
        self.bus.disconnect()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_members_join_and_leave_while_messages_flow(
    buses: BusFactory, kafka: LocalKafka, topic: str, protocol: str
) -> None:
    kafka.create_topic(topic, partitions=_PARTITIONS)
    group = f"g-{uuid.uuid4().hex}"
    writer = buses.writer(topic, blocking=msgbus.NonBlocking)
    sent: list[str] = []
    writing = threading.Event()
    writing.set()

    def write() -> None:
        i = 0
        while writing.is_set():
            for _ in range(20):
                text = f"m{i:06d}"
                writer.message_write(text)
                sent.append(text)
                i += 1
            time.sleep(0.01)

    members = [Member(buses, topic, group, protocol)]
    everyone = list(members)
    feeder = threading.Thread(target=write, name="test-writer", daemon=True)
    started = time.monotonic()
    feeder.start()
    rebalances = 1
    # Joins, then leaves, each while messages stream in: three members at most.
    for step in ("join", "join", "leave", "join", "leave", "leave"):
        time.sleep(2.0)
        if step == "join":
            members.append(Member(buses, topic, group, protocol))
            everyone.append(members[-1])
        else:
            members.pop(0).leave()
        rebalances += 1
    time.sleep(1.0)
    writing.clear()
    feeder.join(10)
    rate = len(sent) / (time.monotonic() - started)
    writer.disconnect()  # flushes: every message in ``sent`` is on the broker

    def all_read() -> bool:
        return set().union(*(m.got for m in everyone)).issuperset(sent)

    wait_until(all_read, 60, "the group to read every message written")
    time.sleep(1.0)  # room for late duplicates
    for member in members:
        member.leave()
    counts = collections.Counter(text for m in everyone for text in m.got)
    assert not set(sent) - counts.keys()
    duplicates = sum(n - 1 for n in counts.values())
    # At most one message per member per rebalance was taken in, unfinished, when its partition moved.
    allowed = 3 * rebalances
    if protocol == "classic-cooperative":
        allowed += int(rebalances * rate * _COMMIT_INTERVAL_S)
    assert duplicates <= allowed, (
        f"{duplicates} duplicates over {rebalances} rebalances ({allowed} allowed), {len(sent)} messages"
    )
