"""disconnect() racing the other calls: a write either raises BusClosedError or
is flushed and counted; a healthy() leaves no client behind (issue 9, defects 6 and 7).

The deterministic tests hold one thread at the exact point of the race with a
stand-in around the librdkafka client; the seeded one hammers the real thing.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest

import msgbus
from msgbus._backends.kafka import _errors, _reader
from msgbus.testing import LocalKafka

from .helpers import BusFactory, watermarks

pytestmark = pytest.mark.integration

# How long the stand-ins hold a thread at the racy point before going on alone.
HOLD = 2.0


class HeldProducer:
    """A Producer whose first produce() waits until a flush() has finished (or HOLD passed).

    That is the old race: a NonBlocking write that saw the bus open, queued
    its message after disconnect() flushed, and so was neither delivered nor
    counted as undelivered.
    """

    def __init__(self, real: Any) -> None:
        self._real = real
        self.produce_entered = threading.Event()
        self.flushed = threading.Event()
        self.produced = threading.Event()
        #: A message queued once a flush() had finished: outside flush_timeout, and FlushError.
        self.queued_after_flush = False
        self._held = False

    def produce(self, *args: Any, **kwargs: Any) -> None:
        if not self._held:
            self._held = True
            self.produce_entered.set()
            self.flushed.wait(HOLD)
        self._real.produce(*args, **kwargs)
        self.queued_after_flush |= self.flushed.is_set()
        self.produced.set()

    def flush(self, *args: Any) -> int:
        remaining: int = self._real.flush(*args)
        self.flushed.set()
        # Let a held produce() go first, as a thread switch at the wrong moment would.
        self.produced.wait(HOLD)
        return remaining

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def __len__(self) -> int:
        return len(self._real)


def test_a_nonblocking_write_racing_disconnect_is_flushed_or_refused(
    buses: BusFactory, kafka: LocalKafka, topic: str
) -> None:
    writer = buses.writer(topic, msgbus.NonBlocking)
    writer.message_write("before")
    # The producer behind the writer's produce gate (every write goes through the gate).
    gate = writer._gate  # type: ignore[attr-defined]
    held = HeldProducer(gate.producer)
    gate._producer = held
    outcome: list[str] = []

    def write() -> None:
        try:
            writer.message_write("racing")
            outcome.append("returned")
        except msgbus.BusClosedError:
            outcome.append("closed")

    thread = threading.Thread(target=write)
    thread.start()
    assert held.produce_entered.wait(HOLD)
    undelivered = 0
    try:
        writer.disconnect()
    except msgbus.FlushError as exc:
        undelivered = exc.undelivered
    thread.join(HOLD * 3)
    assert not thread.is_alive()
    _, high = watermarks(kafka, topic)
    print(f"outcome {outcome}, queued after flush: {held.queued_after_flush}, {high} in the topic")
    if outcome == ["returned"]:
        # It returned, so it was queued before the flush, and delivered or counted as undelivered.
        assert not held.queued_after_flush, "a write that returned was queued after disconnect() flushed"
        assert high + undelivered == 2, f"a write that returned was lost: {high} in the topic, {undelivered} counted"
    else:
        assert outcome == ["closed"] and high == 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_writes_racing_disconnect_are_all_accounted_for(buses: BusFactory, kafka: LocalKafka, seed: int) -> None:
    """Several threads write while disconnect() runs at a random moment: each returned write is in the topic."""
    rng = random.Random(seed)
    topic = f"t-races-{seed}-{rng.getrandbits(32):08x}"
    writer = buses.writer(topic, msgbus.NonBlocking)
    writer.message_write("first")  # the topic exists before the race
    returned = [0] * 4
    stop = threading.Event()

    def write(slot: int) -> None:
        while not stop.is_set():
            try:
                writer.message_write(f"w{slot}-{returned[slot]}")
            except msgbus.BusClosedError:
                return
            returned[slot] += 1

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(returned))]
    for thread in threads:
        thread.start()
    time.sleep(rng.uniform(0.05, 0.4))
    undelivered = 0
    try:
        writer.disconnect()
    except msgbus.FlushError as exc:
        undelivered = exc.undelivered
    stop.set()
    for thread in threads:
        thread.join(10)
    _, high = watermarks(kafka, topic)
    written = 1 + sum(returned)
    print(f"seed {seed}: {written} writes returned, {high} in the topic, {undelivered} counted undelivered")
    assert high + undelivered == written


def test_healthy_racing_disconnect_leaves_no_admin_client(
    buses: BusFactory, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = buses.reader(topic)
    real_create = _errors.create_client
    disconnected = threading.Event()

    def disconnect() -> None:
        reader.disconnect()
        disconnected.set()

    def create_during_disconnect(factory: Any, settings: dict[str, Any]) -> Any:
        # healthy() is past its closed check: let disconnect() run now (it waits, if it can).
        threading.Thread(target=disconnect, daemon=True).start()
        disconnected.wait(HOLD)
        return real_create(factory, settings)

    monkeypatch.setattr(_reader, "create_client", create_during_disconnect)
    reader.healthy()
    assert disconnected.wait(HOLD * 5)
    assert reader.status() is msgbus.StatusClosed
    # No client was kept once disconnect() had run: nothing would ever free it.
    assert reader._admin is None  # type: ignore[attr-defined]
    assert reader.healthy() is False
