"""The writer's gate (issue 18): an exact count of produce() calls, and a close that waits without spinning."""

from __future__ import annotations

import threading
from pathlib import Path

from msgbus._backends.kafka._gate import ProduceGate


def voluntary_switches(thread: threading.Thread) -> int:
    """How often ``thread`` gave up the CPU of its own accord (Linux): each sleep or wait is one."""
    status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("voluntary_ctxt_switches")).split()[1])


def test_the_count_is_exact_under_concurrent_writers() -> None:
    producer = object()
    gate = ProduceGate(producer)
    threads, rounds = 8, 5000

    def write() -> None:
        for i in range(rounds):
            got = gate.enter()
            assert got is producer
            gate.leave(got, accepted=i % 5 != 0)  # every fifth "refused"

    workers = [threading.Thread(target=write) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert gate.accepted == threads * rounds * 4 // 5
    gate.close()  # nothing in flight: returns at once
    assert gate.enter() is None


def test_close_waits_for_a_write_in_produce_and_sleeps_meanwhile() -> None:
    gate = ProduceGate(object())
    producer = gate.enter()  # a write inside produce()
    closed = threading.Event()

    def close() -> None:
        gate.close()
        closed.set()

    closer = threading.Thread(target=close)
    closer.start()
    # The closer is waiting: new writes are refused, and it does not return.
    while not gate.closed:
        pass
    assert gate.enter() is None
    before = voluntary_switches(closer)
    assert not closed.wait(0.5)
    # Blocked on the Condition, it did not wake in the meantime (a spin with sleeps would, hundreds of times).
    assert voluntary_switches(closer) - before <= 1
    gate.leave(producer, accepted=True)
    assert closed.wait(5)
    closer.join()
    assert gate.accepted == 1


def test_swap_waits_for_calls_in_the_old_producer_and_counts_them_there() -> None:
    old, new = object(), object()
    gate = ProduceGate(old)
    in_old = gate.enter()
    swapped: list[object | None] = []
    swapper = threading.Thread(target=lambda: swapped.append(gate.swap(new)))
    swapper.start()
    while gate.producer is not new:
        pass
    # New writes go to the new producer while the old one drains; their leaving does not end the wait.
    in_new = gate.enter()
    assert in_new is new
    gate.leave(in_new, accepted=True)
    assert not swapped
    gate.leave(in_old, accepted=True)
    swapper.join(5)
    assert swapped == [old]
    assert gate.accepted == 2
    gate.close()
    assert gate.swap(object()) is None  # closed: nothing changes
