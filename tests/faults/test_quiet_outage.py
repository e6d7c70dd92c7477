"""Fail quietly: a broker outage logs each distinct error once per window, not once per reconnect."""

from __future__ import annotations

import logging
import time
from collections import Counter

import pytest
from integration.helpers import BusFactory

from msgbus import _log
from msgbus.testing import LocalKafka

OUTAGE = 10.0


def test_an_outage_logs_each_error_once(private_kafka: LocalKafka, caplog: pytest.LogCaptureFixture) -> None:
    topic = "quiet-outage"
    private_kafka.create_topic(topic)
    with BusFactory(private_kafka) as buses:
        writer = buses.writer(topic)
        reader = buses.reader(topic)
        writer.message_write("before")
        assert reader.message_read(timeout=30) == "before"
        caplog.set_level(logging.DEBUG, logger="msgbus")
        caplog.clear()
        private_kafka.kill_node(1)
        # librdkafka retries about 20 times a second meanwhile, each time logging and reporting the failure.
        deadline = time.monotonic() + OUTAGE
        while time.monotonic() < deadline:
            time.sleep(0.1)
        noisy = [r for r in caplog.records if r.levelno >= logging.WARNING]
        repeats = Counter((r.levelno, _log.normalize(r.getMessage())) for r in noisy)
        private_kafka.start_node(1)
    assert noisy, "the outage went unreported"
    # Within one window (30 s), the same failure is one line: before the fix, hundreds.
    twice = {line: count for line, count in repeats.items() if count > 1}
    assert not twice, twice
    assert len(noisy) < 40, [r.getMessage() for r in noisy]
