"""examples/event_service.py against the session broker: events handled, a bad one dead-lettered, probes on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cli_run import closed_port as free_port
from ops_http import get

from msgbus.testing import LocalKafka

from .helpers import BusFactory, raw_read_all, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "event_service.py"


def test_the_event_service_example(kafka: LocalKafka, buses: BusFactory, topic: str) -> None:
    port = free_port()
    env = dict(os.environ, MSGBUS_BOOTSTRAP=kafka.bootstrap_servers, MSGBUS_TOPIC=topic, OPS_PORT=str(port))
    env["OPS_HOST"] = "127.0.0.1"
    service = subprocess.Popen(
        [sys.executable, str(EXAMPLE)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert service.stdout is not None
        assert service.stdout.readline().strip() == "ready"
        writer = buses.writer(topic)
        writer.message_write(json.dumps({"session": "s1", "status": "complete"}))
        writer.message_write("not json")
        assert service.stdout.readline().strip() == "session event: s1 complete"
        # Three attempts with back-off, then the dead-letter topic, byte for byte.
        assert raw_read_all(kafka, f"{topic}.dlq", 1, timeout=30) == [b"not json"]
        wait_until(lambda: get(f"http://127.0.0.1:{port}/readyz")[0] == 200, 20, "ready")
        assert get(f"http://127.0.0.1:{port}/livez")[0] == 200
        text = get(f"http://127.0.0.1:{port}/metrics")[1]
        assert f'msgbus_reader_messages_dead_lettered_total{{group="session-events",topic="{topic}"}} 1.0' in text
        assert f'msgbus_reader_messages_retried_total{{group="session-events",topic="{topic}"}} 2.0' in text
        service.send_signal(signal.SIGTERM)
        assert service.wait(30) == 0
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()
