"""Scenario 3: a grouped reader in a subprocess SIGKILLed mid-stream, then started again in the same group."""

from __future__ import annotations

import collections
import subprocess
import sys
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from integration.helpers import BusFactory

import msgbus
from msgbus.testing import LocalKafka

from .conftest import FaultReport
from .helpers import Figures, seq_msg

N = 6000
SCRIPT = Path(__file__).with_name("_proc_reader.py")
# auto.commit.interval.ms (_settings.py): a reader's finished offsets are committed this often.
COMMIT_INTERVAL = 1.0


def _lines(path: Path) -> list[tuple[int, float]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="ascii").splitlines():
        parts = line.split()
        if len(parts) == 2:  # a line cut by the SIGKILL is not complete: not counted as read
            out.append((int(parts[0]), float(parts[1])))
    return out


def _committed(bootstrap: str, group: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        (tp,) = consumer.committed([TopicPartition(topic, 0)], timeout=10)
        return int(tp.offset)
    finally:
        consumer.close()


def _start(kafka: LocalKafka, topic: str, group: str, out: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "read", kafka.bootstrap_servers, topic, group, str(out)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", f"the reader process did not connect: {line!r}"
    return proc


def test_grouped_reader_killed_and_restarted(
    kafka: LocalKafka, fault_report: FaultReport, topic: str, tmp_path: Path
) -> None:
    group = f"crash-{uuid.uuid4().hex[:8]}"
    kafka.create_topic(topic)
    started = time.monotonic()
    with BusFactory(kafka) as buses:
        writer = buses.writer(topic, msgbus.NonBlocking)
        for seq in range(N):
            writer.message_write(seq_msg("crash", seq))
        writer.disconnect()  # flushed: all N are in the topic
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    procs: list[subprocess.Popen[str]] = []
    try:
        procs.append(_start(kafka, topic, group, first))
        deadline = time.monotonic() + 120
        ready_at = time.monotonic()
        # Mid-stream, after several periodic commits.
        while len(_lines(first)) < N // 2 or time.monotonic() - ready_at < 3 * COMMIT_INTERVAL:
            assert procs[0].poll() is None, "the reader process died by itself"
            assert time.monotonic() < deadline, "the reader process reads nothing"
            time.sleep(0.05)
        procs[0].kill()
        killed_at = time.monotonic()
        procs[0].wait(10)
        read_first = _lines(first)
        committed = _committed(kafka.bootstrap_servers, group, topic)

        procs.append(_start(kafka, topic, group, second))
        deadline = time.monotonic() + 120
        while len(_lines(second)) < N - committed:
            assert procs[1].poll() is None, "the restarted reader process died"
            assert time.monotonic() < deadline, f"restarted reader read {len(_lines(second))} of {N - committed}"
            time.sleep(0.05)
        time.sleep(1.0)  # anything beyond would be a duplicate too
        read_second = _lines(second)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)

    seqs = [s for s, _ in read_first] + [s for s, _ in read_second]
    counts = collections.Counter(seqs)
    lost = sum(1 for seq in range(N) if counts[seq] == 0)
    duplicated = sum(c - 1 for c in counts.values() if c > 1)
    assert lost == 0, f"{lost} messages never read"
    # The restarted reader starts at the group's commit, in order, and reads each once.
    assert [s for s, _ in read_second] == list(range(committed, N))
    # The duplicates are exactly what the crashed reader had finished after the
    # group's last commit...
    assert duplicated == len(read_first) - committed
    # ...and that is bounded: stored offsets are committed every COMMIT_INTERVAL,
    # so every duplicate was returned by message_read in the last interval before the kill.
    dup_times = [t for s, t in read_first if s >= committed]
    assert all(t >= killed_at - COMMIT_INTERVAL - 1.0 for t in dup_times), (killed_at, dup_times[:3])
    fault_report.record(
        Figures(
            f"3 grouped reader SIGKILL + restart (commit at {committed})",
            N,
            N,
            len(seqs),
            lost,
            duplicated,
            time.monotonic() - started,
        )
    )
