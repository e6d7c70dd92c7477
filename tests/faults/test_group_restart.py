"""A named group's reader across a broker restart (issue 21): what it reads twice, and why.

The reader commits what the application finished every ``auto.commit.interval.ms``
(msgbus: 1 s). The broker going away loses the group's state in flight; the reader
rejoins and starts at the last commit, so it reads again what it had finished since:
at most the last commit interval before the broker went. A shorter interval shrinks
that window, at the cost of one commit request per interval. Measured for both.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid

import pytest
from integration.helpers import BusFactory

import msgbus
from msgbus.testing import LocalKafka

from .conftest import FaultReport
from .helpers import Figures, lost_and_duplicated, seq_msg, seq_of

N = 3000
OUTAGE = 12.0
# What may separate a read from the commit that covers it: the interval, plus the
# time the store and the commit request take (the consumer loop, a round trip).
_SLACK = 0.5


@pytest.mark.parametrize("commit_ms", [1000, 100])
def test_group_reader_rereads_at_most_the_last_commit_interval(
    private_kafka: LocalKafka, fault_report: FaultReport, commit_ms: int
) -> None:
    topic = "group-restart"
    private_kafka.create_topic(topic)
    started = time.monotonic()
    with BusFactory(private_kafka) as buses:
        reader = buses.reader(
            topic,
            group_id=f"g-{uuid.uuid4().hex}",
            connect_timeout=5,
            connect_retries=0,
            kafka_settings={"auto.commit.interval.ms": commit_ms},
        )
        writer = buses.writer(topic, msgbus.Blocking, write_timeout=30)
        reads: list[tuple[int, float]] = []  # (seq, when it was read)
        stop = threading.Event()

        def read() -> None:
            while not stop.is_set():
                msg = reader.message_read(timeout=0.2)
                if msg is not None:
                    reads.append((seq_of(msg), time.monotonic()))

        acked: list[int] = []

        def write() -> None:
            for seq in range(N):
                try:
                    writer.message_write(seq_msg(topic, seq))
                    acked.append(seq)
                except msgbus.DeliveryError:
                    pass
                time.sleep(0.003)

        threads = [threading.Thread(target=f, daemon=True) for f in (read, write)]
        for thread in threads:
            thread.start()
        while len(reads) < N // 3:
            time.sleep(0.01)
        went = time.monotonic()
        # A crash, and an outage longer than the group's session (10 s): the member is
        # gone when the broker is back, so the group rebalances and restarts at the commits.
        private_kafka.kill_node(1)
        time.sleep(OUTAGE)
        private_kafka.start_node(1)
        threads[1].join(120)
        deadline = time.monotonic() + 90
        while not set(acked) <= {seq for seq, _ in reads} and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # anything read twice late comes now
        stop.set()
        threads[0].join(5)
    seqs = [seq for seq, _ in reads]
    lost, duplicated = lost_and_duplicated(acked, seqs)
    assert lost == 0
    first_read: dict[int, float] = {}
    for seq, when in reads:
        first_read.setdefault(seq, when)
    twice = [seq for seq, count in collections.Counter(seqs).items() if count > 1]
    # Each message read twice was first read within the last commit interval before the broker went.
    window = commit_ms / 1000 + _SLACK
    early = [seq for seq in twice if first_read[seq] < went - window]
    assert not early, f"{len(early)} message(s) read again from before the last commit interval: {early[:5]}"
    fault_report.record(
        Figures(
            f"1 broker restart, group reader, commit every {commit_ms} ms",
            N,
            len(acked),
            len(seqs),
            lost,
            duplicated,
            time.monotonic() - started,
        )
    )
