"""Scenario 5: the broker is down when connect() is called."""

from __future__ import annotations

import logging
import re
import threading
import time

import pytest
from integration.helpers import BusFactory, closed_port, make_config, run_bounded

import msgbus
from msgbus.testing import LocalKafka

from .conftest import FaultReport
from .helpers import Figures

ATTEMPT_LINE = re.compile(r"connect attempt (\d+) to .* failed")


@pytest.mark.parametrize("direction", [msgbus.BusWriter, msgbus.BusReader], ids=["writer", "reader"])
def test_broker_comes_up_during_the_retries(
    private_kafka: LocalKafka, fault_report: FaultReport, direction: msgbus.BusDir, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="msgbus")
    topic = "connect-later"
    private_kafka.create_topic(topic)
    private_kafka.stop_node(1)
    started = time.monotonic()
    with BusFactory(private_kafka) as buses:
        cfg = buses.config(topic, direction, connect_retries=30, connect_timeout=2)
        outcome: list[msgbus.MsgBusIO | BaseException] = []

        def connect() -> None:
            try:
                outcome.append(buses.connect(cfg))
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=connect, name="test-connect", daemon=True)
        thread.start()
        time.sleep(3.0)
        assert thread.is_alive(), f"connect returned with the broker down: {outcome}"
        # From this (long-lived) thread: a JVM dies with the thread that started it.
        private_kafka.start_node(1)
        thread.join(120)
        assert not thread.is_alive(), "connect hangs after the broker came up"
        (bus,) = outcome
        assert isinstance(bus, msgbus.MsgBusIO), bus
        failed = [int(m.group(1)) for r in caplog.records if (m := ATTEMPT_LINE.search(r.getMessage()))]
        assert failed, "connect succeeded at once, though the broker was down"
        assert failed == list(range(1, len(failed) + 1))
        assert bus.status() == msgbus.StatusOpen
        # The bus works.
        if direction is msgbus.BusWriter:
            bus.message_write("x:00000001")
            written = read = 1
        else:
            writer = buses.writer(topic)
            writer.message_write("x:00000001")
            assert bus.message_read(timeout=30) == "x:00000001"
            written = read = 1
    fault_report.record(
        Figures(
            f"5 {direction.name.lower()} connect, broker up after {len(failed)} failed attempts",
            written,
            written,
            read,
            0,
            0,
            time.monotonic() - started,
        )
    )


@pytest.mark.parametrize("direction", [msgbus.BusWriter, msgbus.BusReader], ids=["writer", "reader"])
@pytest.mark.parametrize("retries", [1, 3])
def test_broker_stays_down(
    kafka: LocalKafka,
    fault_report: FaultReport,
    direction: msgbus.BusDir,
    retries: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="msgbus")
    connect_timeout = 1.0
    cfg = make_config(
        kafka, "never", direction, port=closed_port(), connect_retries=retries, connect_timeout=connect_timeout
    )
    started = time.monotonic()
    with pytest.raises(msgbus.ConnectError) as info:
        run_bounded(lambda: msgbus.connect(cfg), 60)
    elapsed = time.monotonic() - started
    # Exactly `retries` attempts: retries-1 logged retries, then the error naming the count.
    failed = [int(m.group(1)) for r in caplog.records if (m := ATTEMPT_LINE.search(r.getMessage()))]
    assert failed == list(range(1, retries))
    assert f"after {retries} attempt(s)" in str(info.value)
    # Bounded: each attempt at most connect_timeout, the back-offs 0.25 s, 0.5 s, ...
    backoffs = sum(min(0.25 * 2**i, 5.0) for i in range(retries - 1))
    assert elapsed < retries * connect_timeout + backoffs + 5, elapsed
    if retries == 3:
        fault_report.record(
            Figures(
                f"5 {direction.name.lower()} connect, broker down: {retries} attempts, raised", 0, 0, 0, 0, 0, elapsed
            )
        )
