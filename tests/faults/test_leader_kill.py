"""Scenario 2: the partition leader of a 3-node cluster SIGKILLed mid-stream."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from integration.helpers import BusFactory

import msgbus
from msgbus.testing import LocalKafka

from .conftest import FaultReport
from .helpers import Collector, Figures, lost_and_duplicated, raw_topic_seqs, seq_msg, wait_brokers, wait_in_sync

COUNTS = {msgbus.Blocking: 1500, msgbus.NonBlocking: 20000}


@pytest.mark.parametrize("blocking", [msgbus.Blocking, msgbus.NonBlocking], ids=["Blocking", "NonBlocking"])
def test_leader_killed_mid_stream(
    cluster3: LocalKafka, fault_report: FaultReport, blocking: msgbus.BlockingMode
) -> None:
    n = COUNTS[blocking]
    topic = f"leader-kill-{blocking.name.lower()}"
    wait_brokers(cluster3, 3)
    cluster3.create_topic(topic)
    wait_in_sync(cluster3, topic, 3)
    started = time.monotonic()
    killed: int | None = None
    with BusFactory(cluster3) as buses:
        common: dict[str, Any] = {"bootstrap_servers": cluster3.bootstrap_servers, "connect_timeout": 10}
        reader = buses.reader(topic, **common)
        writer = buses.writer(topic, blocking, write_timeout=60, flush_timeout=60, **common)
        collector = Collector(reader)
        acked: list[int] = []
        raised: dict[int, BaseException] = {}
        written = [0]

        def write_all() -> None:
            for seq in range(n):
                try:
                    writer.message_write(seq_msg(topic, seq))
                    acked.append(seq)
                except msgbus.DeliveryError as exc:
                    raised[seq] = exc
                written[0] += 1
                if blocking is msgbus.NonBlocking and seq % 100 == 99:
                    time.sleep(0.01)

        thread = threading.Thread(target=write_all, name="test-writer", daemon=True)
        thread.start()
        try:
            while written[0] < n // 3:
                assert thread.is_alive()
                time.sleep(0.005)
            killed = cluster3.leader(topic)
            assert killed > 0
            cluster3.kill_node(killed)
            thread.join(180)
            assert not thread.is_alive(), "the writer hangs after the leader was killed"
            undelivered = 0
            if blocking is msgbus.NonBlocking:
                # NonBlocking: a write is acknowledged unless reported failed (stats) or left at disconnect.
                try:
                    writer.disconnect()
                except msgbus.FlushError as exc:
                    undelivered = exc.undelivered
                failed = writer.stats().failed
                acknowledged = n - len(raised) - failed - undelivered
                assert failed == 0 and undelivered == 0, (failed, undelivered)
            else:
                acknowledged = len(acked)
            collector.wait_for(set(acked), timeout=90)
            assert reader.status() == msgbus.StatusOpen
        finally:
            collector.stop()
            if killed is not None:
                cluster3.start_node(killed)
        lost, duplicated = lost_and_duplicated(acked, collector.seqs)
        in_topic = raw_topic_seqs(cluster3.bootstrap_servers, topic)
        topic_lost, topic_duplicated = lost_and_duplicated(acked, in_topic)
        assert raised == {}, f"{len(raised)} writes raised: {next(iter(raised.values()))}"
        assert lost == 0 and topic_lost == 0, (lost, topic_lost)
        assert topic_duplicated == 0, f"{topic_duplicated} duplicates in the topic"
        assert duplicated == 0
        assert collector.seqs == sorted(collector.seqs)
    wait_brokers(cluster3, 3)
    fault_report.record(
        Figures(
            f"2 leader SIGKILL, 3 nodes, {blocking.name.title().replace('_', '')}",
            n,
            acknowledged,
            len(collector.seqs),
            lost,
            max(duplicated, topic_duplicated),
            time.monotonic() - started,
        )
    )
