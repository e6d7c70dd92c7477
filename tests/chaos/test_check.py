"""The checker on made-up histories (no broker): each anomaly is found, and what is allowed is not flagged."""

from __future__ import annotations

import collections
import threading
import time

from .check import Checker, Findings
from .record import ACKED, ReaderRec, Recorder
from .schedule import make_plan

T = "chaos-pre"


def _history(group: str = "") -> Recorder:
    """Reader 1 connected at 1 s, alive to the end; writes w1:0..9 at 2..2.9 s to partition 0, offsets 0..9."""
    rec = Recorder()
    rec.t0 = 0.0
    for i in range(10):
        w = rec.write_started(f"w1:{i}", T, 1)
        w.start, w.end, w.status = 2 + i / 10, 2 + i / 10 + 0.01, ACKED
    r = ReaderRec(1, T, group, "read", False, "latest", attempts=[(0.5, 1.0)], connected=1.0)
    rec.readers[1] = r
    rec.drain_start = 100.0
    return rec


def _check(rec: Recorder, order: list[int], times: list[float] | None = None, rid: int = 1) -> Findings:
    times = times or [10 + i for i in range(len(order))]
    rec.deliveries += [(rid, f"w1:{o}", t) for o, t in zip(order, times, strict=True)]
    positions = {f"w1:{i}": (T, 0, i) for i in range(10)}
    offsets = {(T, 0): {i: f"w1:{i}" for i in range(10)}}
    return Checker(rec, positions, offsets, collections.Counter(list(positions))).run()


def test_a_clean_history_has_no_anomaly() -> None:
    assert _check(_history(), list(range(10))).total == 0


def test_an_undelivered_write_is_lost_and_a_jump_is_a_poll_skip() -> None:
    found = _check(_history(), [0, 1, 2, 5, 6, 7, 8, 9])
    assert found.counts["lost write"] == 2
    assert found.counts["poll skip"] == 1


def test_a_private_duplicate_is_never_allowed() -> None:
    found = _check(_history(), [*range(10), 9])
    assert found.counts == {**found.counts, "duplicate": 1}
    assert found.total == 1


def test_a_step_back_is_non_monotonic() -> None:
    found = _check(_history(), [0, 1, 2, 3, 4, 5, 3, 6, 7, 8, 9])
    assert found.counts["non-monotonic"] == 1


def test_two_consumers_of_one_reader_recording_out_of_turn_is_no_step_back() -> None:
    # aio-waitfor: two tasks take 3 and 4 in order, the one with 4 records first.
    times = [10.0, 10.1, 10.2, 10.3, 10.3, 10.4]
    rec = _history()
    rec.readers[1].kind = "aio-waitfor"
    assert _check(rec, [0, 1, 2, 4, 3, 5, 6, 7, 8, 9], [*times, 10.5, 10.6, 10.7, 10.8]).counts["non-monotonic"] == 0
    # The same with one consumer is a real step back; and two consumers do not excuse a long one.
    assert (
        _check(_history(), [0, 1, 2, 4, 3, 5, 6, 7, 8, 9], [*times, 10.5, 10.6, 10.7, 10.8]).counts["non-monotonic"]
        == 1
    )
    rec = _history()
    rec.readers[1].kind = "aio-waitfor"
    assert _check(rec, [0, 1, 2, 3, 4, 5, 6, 7, 8, 2, 9]).counts["non-monotonic"] == 1


def test_a_shared_group_duplicate_is_allowed_only_around_a_membership_change() -> None:
    rec = _history("g")
    found = _check(rec, [*range(10), 4], [10 + i for i in range(11)])
    assert found.counts["duplicate"] == 1
    rec = _history("g")
    # A second member joined between the two deliveries of w1:4: the at-least-once window.
    rec.readers[2] = ReaderRec(2, T, "g", "read", False, "latest", attempts=[(16.0, 16.5)], connected=16.5)
    found = _check(rec, [*range(10), 4], [10 + i for i in range(11)])
    assert found.counts["duplicate"] == 0 and found.total == 0


def test_a_duplicate_long_after_a_fault_is_excused_only_within_the_protocols_session() -> None:
    # A member that closed while the broker was down keeps its partitions for its session: 10 s
    # with the classic protocol (msgbus's setting), 45 s with KIP-848's (the broker's default).
    from .record import FaultRec

    def run(protocol: str) -> Findings:
        rec = _history("g")
        rec.group_protocol = protocol
        rec.faults.append(FaultRec("kill", 1, 5.0, 6.0))
        # Both copies of w1:4 come after the classic slack (fault end + 20 s), within the consumer one's.
        return _check(rec, [*range(10), 4], [30 + i for i in range(11)])

    assert run("classic").counts["duplicate"] == 1
    assert run("consumer").counts["duplicate"] == 0


def test_a_reader_that_left_early_need_not_see_the_last_writes() -> None:
    rec = _history()
    rec.readers[1].disc_start = rec.readers[1].disc_end = 10.0
    assert _check(rec, [0, 1, 2], [3, 4, 5]).total == 0
    rec = _history()
    rec.readers[1].disc_start = rec.readers[1].disc_end = 30.0  # 27 s after the writes: it must have them
    assert _check(rec, [0, 1, 2], [3, 4, 5]).counts["lost write"] == 7


def test_the_plan_depends_on_the_seed_only() -> None:
    assert make_plan(5, 60, 3) == make_plan(5, 60, 3)
    assert make_plan(5, 60, 1) != make_plan(6, 60, 1)


def test_the_drain_waits_for_a_group_whose_member_is_still_connecting() -> None:
    # Seed 696397: a group's members were still rejoining after a fault when the drain began; the
    # drain, seeing no member in, ended at once, and the check then counted their backlog lost.
    from .runner import Run

    run = Run(make_plan(1, 30.0, 1), drain_timeout=30.0)
    rec = run.rec
    for i in range(10):
        w = rec.write_started(f"w1:{i}", T, 1)
        w.start, w.end, w.status = 2 + i / 10, 2 + i / 10 + 0.01, ACKED
    joining = ReaderRec(1, T, "g", "read", False, "earliest", attempts=[(time.monotonic(), None)])
    rec.readers[1] = joining
    rec.drain_start = time.monotonic()
    delivered = threading.Event()

    def join_then_deliver() -> None:
        time.sleep(0.3)
        now = time.monotonic()
        joining.attempts[-1] = (joining.attempts[-1][0], now)
        joining.connected = 1.0  # before the writes: every one is the group's to deliver
        time.sleep(0.7)
        with rec.lock:
            rec.deliveries += [(1, f"w1:{i}", time.monotonic()) for i in range(10)]
        delivered.set()

    thread = threading.Thread(target=join_then_deliver, daemon=True)
    thread.start()
    run._drain()
    ended_after_delivery = delivered.is_set()
    thread.join()
    assert ended_after_delivery, "the drain ended before the group's late member delivered"
    assert rec.stuck == []
