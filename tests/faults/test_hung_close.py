"""A reader that cannot commit and leave its group in time says so at disconnect, and what it left."""

from __future__ import annotations

import logging

import pytest
from integration.helpers import BusFactory

from msgbus._backends.kafka import _reader
from msgbus.testing import LocalKafka


def test_a_disconnect_against_a_hung_broker_says_what_it_abandoned(
    private_kafka: LocalKafka, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 18: _shutdown gave up after its wait without a word.
    monkeypatch.setattr(_reader, "_CLOSE_TIMEOUT", 2.0)
    topic = "hung-close"
    private_kafka.create_topic(topic)
    with BusFactory(private_kafka) as buses:
        writer = buses.writer(topic)
        reader = buses.reader(topic, group_id="hung-close")
        for i in range(20):
            writer.message_write(f"m{i}")
        assert reader.message_read(timeout=10) == "m0"
        private_kafka.pause_node(1)
        try:
            with caplog.at_level(logging.WARNING, logger="msgbus"):
                reader.disconnect()
        finally:
            private_kafka.resume_node(1)
    said = [r.getMessage() for r in caplog.records if "did not commit and leave its group" in r.getMessage()]
    assert len(said) == 1, [r.getMessage() for r in caplog.records]
    assert "left to the group's next reader" in said[0]
