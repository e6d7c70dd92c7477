"""Scenario 1: a single broker stopped and restarted under a Blocking writer and a reader."""

from __future__ import annotations

import threading
import time

from integration.helpers import BusFactory

import msgbus
from msgbus.testing import LocalKafka

from .conftest import FaultReport
from .helpers import Collector, Figures, lost_and_duplicated, seq_msg, status_sampler

N = 600


def test_broker_restart_under_a_blocking_writer(private_kafka: LocalKafka, fault_report: FaultReport) -> None:
    topic = "restart"
    private_kafka.create_topic(topic)
    started = time.monotonic()
    with BusFactory(private_kafka) as buses:
        reader = buses.reader(topic, connect_timeout=5)
        writer = buses.writer(topic, write_timeout=30)
        collector = Collector(reader)
        acked: list[int] = []
        raised: dict[int, BaseException] = {}

        def write_all() -> None:
            for seq in range(N):
                try:
                    writer.message_write(seq_msg("restart", seq))
                    acked.append(seq)
                except msgbus.DeliveryError as exc:
                    raised[seq] = exc
                time.sleep(0.002)

        stop_sampling = threading.Event()
        statuses: list[msgbus.BusStatus] = []
        sampler = status_sampler([writer, reader], stop_sampling, statuses)
        thread = threading.Thread(target=write_all, name="test-writer", daemon=True)
        thread.start()
        try:
            while len(acked) < N // 3:
                assert thread.is_alive()
                time.sleep(0.01)
            private_kafka.stop_node(1)
            time.sleep(2.0)  # writes wait meanwhile
            private_kafka.start_node(1)
            thread.join(120)
            assert not thread.is_alive(), "the writer hangs after the broker came back"
            collector.wait_for(set(acked), timeout=60)
        finally:
            stop_sampling.set()
            sampler.join(5)
            collector.stop()

        lost, duplicated = lost_and_duplicated(acked, collector.seqs)
        # Each write either returned (acknowledged) or raised (reported): nothing in between.
        assert len(acked) + len(raised) == N
        assert lost == 0, f"{lost} acknowledged messages never read"
        assert duplicated == 0
        # The reader resumed by itself, in order.
        assert collector.seqs == sorted(collector.seqs)
        # status() stayed truthful: the buses are open (and recovering) the whole time.
        assert statuses and set(statuses) == {msgbus.StatusOpen}
        assert writer.status() == msgbus.StatusOpen and reader.status() == msgbus.StatusOpen
        # A write that raised may or may not have reached the broker; it is read at most once.
        extra = set(collector.seqs) - set(acked)
        assert extra <= set(raised)
        fault_report.record(
            Figures(
                f"1 broker restart, Blocking ({len(raised)} raised)",
                N,
                len(acked),
                len(collector.seqs),
                lost,
                duplicated,
                time.monotonic() - started,
            )
        )
