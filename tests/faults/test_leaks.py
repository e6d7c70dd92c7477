"""Scenario 8: leaks. Connect/disconnect cycles leave nothing behind; a reader far behind keeps bounded memory."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from integration.helpers import BusFactory, make_config, wait_until

import msgbus
from msgbus.testing import LocalKafka

from .conftest import FaultReport
from .helpers import Figures, seq_msg

WRITERS, READERS, PARALLEL = 1000, 200, 4
BEHIND = 1_000_000
SCRIPT = Path(__file__).with_name("_proc_reader.py")
# librdkafka's prefetch is capped at 8 MB (queued.max.messages.kbytes) and the reader's queue
# holds read_queue_size messages: a reader 1M messages behind must stay well inside this.
RSS_GROWTH_LIMIT = 96 * 1024 * 1024


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _cycle(kafka: LocalKafka, topic: str, direction: msgbus.BusDir, index: int) -> None:
    bus = msgbus.connect(
        make_config(kafka, topic, direction, blocking=msgbus.NonBlocking if index % 2 else msgbus.Blocking)
    )
    try:
        if direction is msgbus.BusWriter:
            bus.message_write(seq_msg("leak", index))
        if index % 10 == 0:
            bus.healthy()
            bus.stats()
    finally:
        bus.disconnect()


def test_connect_disconnect_cycles_leave_nothing(kafka: LocalKafka, fault_report: FaultReport, topic: str) -> None:
    kafka.create_topic(topic)
    # Warm up: one of each, so that one-time globals (librdkafka's, logging's) are not counted.
    _cycle(kafka, topic, msgbus.BusWriter, 0)
    _cycle(kafka, topic, msgbus.BusReader, 0)
    threads_before = set(threading.enumerate())
    fds_before = _fds()
    started = time.monotonic()
    jobs = [(msgbus.BusWriter, i) for i in range(WRITERS)] + [(msgbus.BusReader, i) for i in range(READERS)]
    errors: list[BaseException] = []

    def worker(part: int) -> None:
        try:
            for direction, index in jobs[part::PARALLEL]:
                _cycle(kafka, topic, direction, index)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=worker, args=(p,), name=f"test-cycles-{p}") for p in range(PARALLEL)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(600)
    assert errors == [] and not any(w.is_alive() for w in workers), errors
    elapsed = time.monotonic() - started
    wait_until(lambda: set(threading.enumerate()) <= threads_before, 15, "no new thread")
    wait_until(lambda: _fds() <= fds_before, 15, f"no new file descriptor ({sorted(_fds() - fds_before)})")
    fault_report.record(
        Figures(f"8 {WRITERS} writer + {READERS} reader connect/disconnect cycles", WRITERS, WRITERS, 0, 0, 0, elapsed)
    )


def test_reader_behind_by_1m_keeps_bounded_memory(kafka: LocalKafka, fault_report: FaultReport, topic: str) -> None:
    kafka.create_topic(topic)
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "hold", kafka.bootstrap_servers, topic, "100"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        baseline = _rss(proc.pid)
        peak = baseline
        with BusFactory(kafka) as buses:
            writer = buses.writer(topic, msgbus.NonBlocking, flush_timeout=120, write_timeout=60)
            for start in range(0, BEHIND, 50_000):
                writer.message_write_many(seq_msg("m", seq) for seq in range(start, start + 50_000))
                peak = max(peak, _rss(proc.pid))
            writer.disconnect()
        # The reader sits behind the whole 1M for a while: its fetches fill what they may, no more.
        for _ in range(20):
            time.sleep(0.25)
            peak = max(peak, _rss(proc.pid))
        growth = peak - baseline
        assert growth < RSS_GROWTH_LIMIT, f"RSS grew by {growth / 2**20:.0f} MB"
        # Then it reads all of it, in order: pausing on a full queue lost nothing.
        proc.stdin.write("go\n")
        proc.stdin.flush()
        line = proc.stdout.readline().split()
        assert proc.wait(300) == 0
        assert line[0] == "read", line
        count, in_order = int(line[1]), line[2] == "1"
        assert count == BEHIND and in_order, line
    finally:
        proc.kill()
        proc.wait(10)
    fault_report.record(
        Figures(
            f"8 reader 1M behind, queue 100: RSS +{growth / 2**20:.0f} MB (limit {RSS_GROWTH_LIMIT // 2**20} MB)",
            BEHIND,
            BEHIND,
            count,
            BEHIND - count,
            0,
            time.monotonic() - started,
        )
    )
