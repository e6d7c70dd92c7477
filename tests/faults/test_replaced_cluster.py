"""A cluster replaced under a Blocking writer (issue 21): stopped with its data deleted, a new one on its port.

The writer notices the new cluster id, moves to a new producer and writes again at
once; meanwhile healthy() is False; a writer opened afterwards never fails because of
the cluster that was there before.
"""

from __future__ import annotations

import socket

from integration.helpers import BusFactory

import msgbus
from msgbus.testing import LocalKafka

from .helpers import raw_topic_seqs, seq_msg

WRITE_TIMEOUT = 3.0
# Writes that may fail once the new cluster is up: the one in flight when it came, and one more.
# Before issue 21 every write failed for ~50 s after it was back (about 16 of these).
MAX_FAILED_AFTER_RETURN = 3


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_blocking_writer_moves_to_a_replacing_cluster_by_itself() -> None:
    topic = "replaced"
    port = free_port()
    seq = 0
    with LocalKafka(port=port, heap_mb=384) as first:
        first.create_topic(topic)
        old_id = first.cluster_id
        buses = BusFactory(first)
        writer = buses.writer(topic, write_timeout=WRITE_TIMEOUT, connect_retries=1)
        for _ in range(5):
            writer.message_write(seq_msg(topic, seq))
            seq += 1
        assert writer.healthy()
    # The first cluster and its data are gone. Writes fail; the writer does not claim to be well.
    failures: list[msgbus.DeliveryError] = []
    for _ in range(2):
        try:
            writer.message_write(seq_msg(topic, seq))
        except msgbus.DeliveryError as exc:
            failures.append(exc)
        seq += 1
    assert len(failures) == 2
    assert not writer.healthy()
    assert writer.status() is msgbus.StatusOpen  # still trying, not given up
    with LocalKafka(port=port, heap_mb=384) as second:
        assert second.cluster_id != old_id
        failed_after_return = 0
        delivered: list[int] = []
        while len(delivered) < 20:
            try:
                writer.message_write(seq_msg(topic, seq))
                delivered.append(seq)
            except msgbus.DeliveryError as exc:
                failed_after_return += 1
                assert failed_after_return <= MAX_FAILED_AFTER_RETURN, f"still failing: {exc}"
            seq += 1
        assert writer.healthy()
        # A writer that comes later is not hurt by the producer id the first cluster gave the old one.
        with BusFactory(second) as later:
            newcomer = later.writer(topic, write_timeout=WRITE_TIMEOUT, connect_retries=1)
            for extra in range(5):
                newcomer.message_write(seq_msg(topic, 1_000_000 + extra))
        buses.close()
        on_new_cluster = raw_topic_seqs(second.bootstrap_servers, topic)
    assert set(delivered) <= set(on_new_cluster)
    assert {1_000_000 + i for i in range(5)} <= set(on_new_cluster)
