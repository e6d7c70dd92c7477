"""Scenario 6: a hung broker (SIGSTOP) under a Blocking writer, then resumed."""

from __future__ import annotations

import threading
import time

import pytest
from integration.helpers import BusFactory, run_bounded

import msgbus
from msgbus.testing import LocalKafka

from .conftest import FaultReport
from .helpers import Collector, Figures, lost_and_duplicated, raw_topic_seqs, seq_msg, status_sampler


def test_hung_broker_under_a_blocking_writer(private_kafka: LocalKafka, fault_report: FaultReport) -> None:
    write_timeout = 3.0
    topic = "hung"
    private_kafka.create_topic(topic)
    started = time.monotonic()
    acked: list[int] = []
    raised: list[int] = []
    with BusFactory(private_kafka) as buses:
        reader = buses.reader(topic)
        writer = buses.writer(topic, write_timeout=write_timeout)
        collector = Collector(reader)
        stop_sampling = threading.Event()
        statuses: list[msgbus.BusStatus] = []
        sampler = status_sampler([writer, reader], stop_sampling, statuses)
        seq = 0
        try:
            for _ in range(50):
                writer.message_write(seq_msg("hung", seq))
                acked.append(seq)
                seq += 1
            private_kafka.pause_node(1)
            try:
                t0 = time.monotonic()
                with pytest.raises(msgbus.DeliveryError) as info:
                    run_bounded(lambda: writer.message_write(seq_msg("hung", 50)), write_timeout + 30)
                elapsed = time.monotonic() - t0
                raised.append(seq)
                seq += 1
                assert info.value.code == "_MSG_TIMED_OUT", info.value
                assert elapsed < write_timeout + 3, f"message_write raised after {elapsed:.1f} s"
            finally:
                private_kafka.resume_node(1)
            # The same bus works again (the first writes after resume may still meet the broker waking up).
            deadline = time.monotonic() + 60
            while len(acked) < 100:
                try:
                    writer.message_write(seq_msg("hung", seq))
                    acked.append(seq)
                except msgbus.DeliveryError:
                    raised.append(seq)
                    assert time.monotonic() < deadline, "the writer does not recover after resume"
                seq += 1
            collector.wait_for(set(acked), timeout=60)
        finally:
            stop_sampling.set()
            sampler.join(5)
            collector.stop()
        assert set(statuses) == {msgbus.StatusOpen}
    lost, duplicated = lost_and_duplicated(acked, collector.seqs)
    in_topic = raw_topic_seqs(private_kafka.bootstrap_servers, topic)
    _, topic_duplicated = lost_and_duplicated(acked, in_topic)
    assert lost == 0 and duplicated == 0 and topic_duplicated == 0, (lost, duplicated, topic_duplicated)
    # A write that timed out may still have reached the broker once it woke: reported, never doubled.
    assert set(in_topic) - set(acked) <= set(raised)
    fault_report.record(
        Figures(
            f"6 hung broker (SIGSTOP), Blocking ({len(raised)} raised, "
            f"{len(set(in_topic) & set(raised))} of them in the topic)",
            seq,
            len(acked),
            len(collector.seqs),
            lost,
            max(duplicated, topic_duplicated),
            time.monotonic() - started,
        )
    )
